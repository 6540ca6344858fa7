"""An independent Python computation of the documented email rule (docs/campaigns.md, "Email"),
written from the documentation, not from the macro: tests compare dbt's output with it."""

from __future__ import annotations

import re

# Whitespace trimmed from both ends: space, tab, LF, VT, FF, CR, no-break space.
TRIMMED = " \t\n\x0b\x0c\r\u00a0"
# Non-ASCII characters allowed in addresses (RFC 6531): from U+00A1 up, except the Unicode
# space separators, line/paragraph separators and invisible format characters.
_EXCLUDED = "\u0000-\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff"
_NON_ASCII = f"[^{_EXCLUDED}]"
_ATEXT_ASCII = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"


def _pattern(ascii_only: bool) -> re.Pattern[str]:
    extra = "" if ascii_only else f"|{_NON_ASCII}"
    atext = f"(?:{_ATEXT_ASCII}{extra})"
    alnum = f"(?:[a-z0-9]{extra})"
    alnum_hyphen = f"(?:[a-z0-9-]{extra})"
    letter = f"(?:[a-z]{extra})"
    label = f"{alnum}(?:{alnum_hyphen}*{alnum})?"
    return re.compile(
        rf"{atext}+(?:\.{atext}+)*@(?:{label}\.)+(?:{letter}{{2,}}|xn--[a-z0-9-]+)"
    )


PATTERNS = {False: _pattern(False), True: _pattern(True)}


def normal_email(raw: str | None, ascii_only: bool = False) -> str | None:
    """The address Klaviyo is sent, or None when it is missing or clearly broken."""
    value = (raw or "").strip(TRIMMED).lower()
    if not value or not PATTERNS[ascii_only].fullmatch(value):
        return None
    local_part = value.split("@", 1)[0]
    return value if len(local_part.encode("utf-8")) <= 64 else None


def is_missing(raw: str | None) -> bool:
    return not (raw or "").strip(TRIMMED)

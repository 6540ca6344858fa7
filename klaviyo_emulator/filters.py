"""Klaviyo's ``filter`` query parameter: ``equals(name,"x")``, ``any(id,[...])``, ``and(...)``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from klaviyo_emulator.errors import ApiError, invalid

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<punct>[(),\[\]])
      | (?P<word>[^\s(),\[\]"']+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Condition:
    op: str
    field: str
    value: Any


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _bad(f"Invalid filter provided: unexpected character at position {pos}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _bad(detail: str) -> ApiError:
    return invalid(detail, parameter="filter")


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise _bad(f"Invalid filter provided: expected {value or 'a value'}")
        self.i += 1
        return tok

    def expressions(self) -> list[Condition]:
        conds = self.call()
        while self.peek() == ("punct", ","):
            self.take(",")
            conds += self.call()
        return conds

    def call(self) -> list[Condition]:
        kind, name = self.take()
        if kind != "word":
            raise _bad("Invalid filter provided: expected an operator")
        self.take("(")
        if name == "and":
            conds = self.expressions()
            self.take(")")
            return conds
        if name in ("or", "not"):
            raise _bad(f"Invalid filter provided: operator '{name}' is not supported here")
        kind, fld = self.take()
        if kind != "word":
            raise _bad("Invalid filter provided: expected a field name")
        self.take(",")
        value = self.value()
        self.take(")")
        return [Condition(name, fld, value)]

    def value(self) -> Any:
        kind, tok = self.take()
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", tok[1:-1])
        if tok == "[":
            items: list[Any] = []
            if self.peek() == ("punct", "]"):
                self.take("]")
                return items
            items.append(self.value())
            while self.peek() == ("punct", ","):
                self.take(",")
                items.append(self.value())
            self.take("]")
            return items
        if kind == "word":
            if tok in ("true", "false"):
                return tok == "true"
            if tok == "null":
                return None
            try:
                return int(tok)
            except ValueError:
                try:
                    return float(tok)
                except ValueError:
                    return tok  # dates and datetimes stay strings
        raise _bad(f"Invalid filter provided: unexpected '{tok}'")


def parse_filter(text: str, allowed: dict[str, tuple[str, ...]]) -> list[Condition]:
    """Parse ``text``; refuse fields and operators the operation does not allow."""
    parser = _Parser(text)
    conds = parser.expressions()
    if parser.peek() is not None:
        raise _bad("Invalid filter provided: trailing characters")
    for c in conds:
        if c.field not in allowed:
            raise _bad(f"Invalid filter provided: '{c.field}' is not a filterable field")
        if c.op not in allowed[c.field]:
            raise _bad(
                f"Invalid filter provided: operator '{c.op}' is not allowed for field '{c.field}'"
            )
        if c.op == "any" and not isinstance(c.value, list):
            raise _bad(f"Invalid filter provided: 'any' on '{c.field}' needs a list")
        if c.op == "any" and len(c.value) > 100:
            raise _bad(f"Invalid filter provided: 'any' on '{c.field}' accepts at most 100 values")
    return conds


def matches(value: Any, cond: Condition) -> bool:
    if cond.op == "equals":
        target = cond.value
        if isinstance(target, list):  # Klaviyo also accepts equals(name,['x'])
            return value in target
        return value == target
    if cond.op == "any":
        return value in cond.value
    if value is None:
        return False
    if cond.op == "greater-than":
        return str(value) > str(cond.value)
    if cond.op == "greater-or-equal":
        return str(value) >= str(cond.value)
    if cond.op == "less-than":
        return str(value) < str(cond.value)
    if cond.op == "less-or-equal":
        return str(value) <= str(cond.value)
    return False

"""`redact()`: the one scrubber every output, log line and state row goes through."""

from __future__ import annotations

import pytest

from loader.config import KlaviyoCredentials, redact, secrets_in_env

KEY = "pk_live_0123456789abcdef"


def test_the_configured_secrets_and_their_url_encoded_forms_are_removed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLAVIYO_API_KEY", KEY)
    monkeypatch.setenv("KLAVIYO_OAUTH_REFRESH_TOKEN", "rt/with+signs=")
    text = f"key {KEY}; token rt/with+signs= sent as rt%2Fwith%2Bsigns%3D"
    assert redact(text) == "key ***; token *** sent as ***"


def test_a_secret_with_surrounding_blanks_in_the_environment_is_removed_trimmed_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLAVIYO_API_KEY", f"  {KEY}\n")
    assert KEY not in redact(f"Klaviyo-API-Key {KEY}")


def test_user_info_in_any_url_is_removed_but_not_an_email_address() -> None:
    text = ("GET https://user:p%40ss@a.klaviyo.com/api/lists failed; "
            "see http://127.0.0.1:8765/api/profiles?filter=ana@example.com or ana@example.com")
    assert redact(text, ()) == (
        "GET https://***@a.klaviyo.com/api/lists failed; "
        "see http://127.0.0.1:8765/api/profiles?filter=ana@example.com or ana@example.com")


def test_user_info_from_klaviyo_base_url_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLAVIYO_BASE_URL", "https://someone:hunter22@a.klaviyo.com")
    assert "hunter22" in secrets_in_env()
    assert redact("the password was hunter22") == "the password was ***"


def test_the_longer_secret_is_removed_whole_before_one_it_contains() -> None:
    assert redact("abcdef-and-abc", ["abc", "abcdef"]) == "***-and-***"


def test_an_empty_secret_changes_nothing() -> None:
    assert redact("nothing secret here", ["", "zz"]) == "nothing secret here"


def test_given_secrets_replace_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLAVIYO_API_KEY", KEY)
    assert redact(f"{KEY} and at_token", ["at_token"]) == f"{KEY} and ***"


def test_credentials_never_show_any_part_of_the_key() -> None:
    creds = KlaviyoCredentials(api_key=KEY, oauth_client_secret="client-secret-value")
    shown = repr(creds) + str(creds)
    assert KEY[:6] not in shown and KEY[-6:] not in shown
    assert "client-secret-value" not in shown
    assert "api_key=***" in shown
    assert "api_key=<unset>" in repr(KlaviyoCredentials())

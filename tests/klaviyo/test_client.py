"""The Klaviyo client against a tiny scripted HTTP server on 127.0.0.1, with a fake clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from loader.config import KlaviyoCredentials
from loader.errors import (
    AuthenticationError,
    ListLimitError,
    PermissionDeniedError,
    RetriesExhaustedError,
)
from loader.klaviyo.client import KlaviyoClient
from loader.klaviyo.pacing import Pacer

SECRET = "pk_supersecretvalue123"


class Script:
    """Responses to serve in order: (status, headers, body); requests seen are recorded."""

    def __init__(self) -> None:
        self.responses: list[tuple[int, dict[str, str], Any]] = []
        self.seen: list[dict[str, Any]] = []

    def add(self, status: int, body: Any = None, **headers: str) -> Script:
        self.responses.append((status, headers, body))
        return self


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.seen.append({"method": self.command, "path": self.path,
                                "headers": dict(self.headers), "body": body})
            status, headers, doc = script.responses.pop(0) if script.responses else (
                200, {}, {"data": []})
            raw = json.dumps(doc).encode() if doc is not None else b""
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_DELETE = handle_any

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def make(url: str, t: FakeTime, creds: KlaviyoCredentials | None = None, **kw: Any
         ) -> KlaviyoClient:
    return KlaviyoClient(url, creds or KlaviyoCredentials(api_key=SECRET), "2026-07-15",
                         clock=t.clock, sleep=t.sleep, **kw)


def test_headers_auth_revision_and_content_type(server) -> None:
    url, script = server
    script.add(200, {"data": [{"type": "account", "id": "ACC1"}]})
    assert make(url, FakeTime()).get_account_id() == "ACC1"
    h = script.seen[0]["headers"]
    assert h["Authorization"] == f"Klaviyo-API-Key {SECRET}"
    assert h["revision"] == "2026-07-15"
    assert h["Accept"] == "application/vnd.api+json"
    assert script.seen[0]["path"] == "/api/accounts"


def test_429_honours_retry_after(server) -> None:
    url, script = server
    t = FakeTime()
    script.add(429, {"errors": []}, Retry_After="7").add(
        200, {"data": [{"type": "account", "id": "A"}]})
    client = make(url, t)
    assert client.get_account_id() == "A"
    assert 7.0 in t.slept and client.throttled == 1


def test_5xx_and_resets_retry_with_capped_jittered_backoff_then_give_up(server) -> None:
    url, script = server
    t = FakeTime()
    for _ in range(4):
        script.add(503, {"errors": [{"detail": "down"}]})
    client = make(url, t, max_attempts=4, backoff_base_s=1.0, backoff_cap_s=2.0,
                  rate_scale=100)  # no pacing waits mixed into the backoffs
    with pytest.raises(RetriesExhaustedError, match="failed 4 times"):
        client.get_account_id()
    backoffs = [s for s in t.slept if s > 0]
    assert len(backoffs) == 3
    assert all(s <= 2.0 for s in backoffs)  # capped
    assert backoffs[0] >= 0.5 and backoffs[0] <= 1.0  # jittered in [base/2, base]


def test_connection_refused_is_retried_then_bounded() -> None:
    t = FakeTime()
    client = make("http://127.0.0.1:9", t, max_attempts=3, timeout=(0.5, 0.5))
    with pytest.raises(RetriesExhaustedError, match="ConnectionError"):
        client.get_account_id()
    assert client.requests["get_accounts"] == 3


def test_errors_name_the_fix_and_never_the_secret(server) -> None:
    url, script = server
    script.add(401, {"errors": [{"detail": f"bad key {SECRET}", "code": "not_authenticated"}]})
    with pytest.raises(AuthenticationError) as e401:
        make(url, FakeTime()).get_account_id()
    assert "KLAVIYO_API_KEY" in (e401.value.hint or "")
    script.add(403, {"errors": [{"detail": f"key {SECRET} lacks scope"}]})
    with pytest.raises(PermissionDeniedError) as e403:
        make(url, FakeTime()).find_lists("x")
    assert "lists:read" in (e403.value.hint or "")
    for exc in (e401.value, e403.value):
        assert SECRET not in str(exc) and SECRET not in (exc.hint or "")


def test_credential_with_a_control_character_fails_without_the_secret(server) -> None:
    url, script = server
    bad = SECRET + "\r"  # e.g. copied from a file with Windows line endings
    with pytest.raises(AuthenticationError) as exc:
        make(url, FakeTime(), KlaviyoCredentials(api_key=bad)).get_account_id()
    assert "KLAVIYO_API_KEY" in (exc.value.hint or "")
    assert exc.value.__cause__ is None and exc.value.__suppress_context__
    for text in (str(exc.value), exc.value.hint or "", repr(exc.value.args)):
        assert SECRET not in text
    assert script.seen == []  # nothing was sent


def test_list_limits_are_named(server) -> None:
    url, script = server
    script.add(200, {"data": []}).add(
        400, {"errors": [{"detail": "This account has reached its limit of 1000 lists and "
                                    "segments"}]})
    with pytest.raises(ListLimitError, match="1000|1,000"):
        make(url, FakeTime()).resolve_list("New list")
    script.add(200, {"data": []}).add(429, {"errors": []}, Retry_After="50000")
    with pytest.raises(ListLimitError, match="daily list-creation"):
        make(url, FakeTime()).resolve_list("New list")


def test_oauth_refreshes_on_expiry_and_once_on_401(server) -> None:
    url, script = server
    t = FakeTime()
    creds = KlaviyoCredentials(oauth_client_id="cid", oauth_client_secret="csecret",
                               oauth_refresh_token="rtoken", oauth_token_url=f"{url}/oauth/token")
    client = make(url, t, creds)
    script.add(200, {"access_token": "at1", "expires_in": 600})
    script.add(200, {"data": [{"id": "A"}]})
    assert client.get_account_id() == "A"
    assert script.seen[0]["path"] == "/oauth/token"
    assert b"grant_type=refresh_token" in script.seen[0]["body"]
    assert script.seen[1]["headers"]["Authorization"] == "Bearer at1"
    t.now += 700  # expired: refreshed before the next call
    script.add(200, {"access_token": "at2", "expires_in": 600}).add(200, {"data": [{"id": "A"}]})
    client.get_account_id()
    assert script.seen[3]["headers"]["Authorization"] == "Bearer at2"
    # a 401 refreshes once and retries; a second 401 is an error
    script.add(401, {"errors": []}).add(200, {"access_token": "at3", "expires_in": 600}).add(
        200, {"data": [{"id": "A"}]})
    client.get_account_id()
    assert script.seen[-1]["headers"]["Authorization"] == "Bearer at3"
    seen = len(script.seen)
    script.add(401, {"errors": []}).add(200, {"access_token": "at4", "expires_in": 600}).add(
        401, {"errors": []})
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        client.get_account_id()
    assert [s["path"] for s in script.seen[seen:]] == ["/api/accounts", "/oauth/token",
                                                       "/api/accounts"]


def test_pacer_keeps_burst_and_steady_limits() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    sent: list[float] = []
    for _ in range(160):
        pacer.acquire("bulk_import_profiles")  # 10/s burst, 150/min steady
        sent.append(t.now)
    for i in range(len(sent)):
        assert sum(1 for s in sent if sent[i] <= s < sent[i] + 1.0) <= 10
        assert sum(1 for s in sent if sent[i] <= s < sent[i] + 60.0) <= 150
    assert sent[149] - sent[0] < 15.0  # bursts, not evenly spread
    assert sent[150] - sent[0] >= 60.0

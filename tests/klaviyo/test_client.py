"""The Klaviyo client against a tiny scripted HTTP server on 127.0.0.1, with a fake clock.

Over 400 lines because it covers every path of loader/klaviyo/client.py (auth, retries,
pacing, error mapping) with the one scripted server they share."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from loader.config import KlaviyoCredentials
from loader.errors import (
    AmbiguousListError,
    AuthenticationError,
    ListLimitError,
    NotKlaviyoError,
    PermissionDeniedError,
    RetriesExhaustedError,
    UnreachableError,
)
from loader.klaviyo.client import KlaviyoClient, filter_string
from loader.klaviyo.pacing import Pacer

SECRET = "pk_supersecretvalue123"
RESET = 0  # a scripted "status" that resets the connection instead of answering


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
            if status == RESET:  # drop the connection after reading the request
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
                return
            raw = (doc.encode() if isinstance(doc, str) else
                   json.dumps(doc).encode() if doc is not None else b"")
            self.send_response(status)
            if "Content_Type" not in headers:
                self.send_header("Content-Type", "application/vnd.api+json")
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_DELETE = do_PATCH = handle_any

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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nothing_answering_is_named_after_two_tries() -> None:
    """Nothing ever answered at the base URL: two tries (not eight, ~40 s), then one error
    naming KLAVIYO_BASE_URL; nothing was sent."""
    t = FakeTime()
    url = f"http://127.0.0.1:{_free_port()}"
    client = make(url, t, max_attempts=8, timeout=(0.5, 0.5), rate_scale=100)
    with pytest.raises(UnreachableError) as exc:
        client.get_account_id()
    assert exc.value.message == f"Nothing answers at KLAVIYO_BASE_URL={url} (connection refused)."
    assert "KLAVIYO_BASE_URL" in (exc.value.hint or "") and "nothing was sent" in exc.value.hint
    assert client.requests["get_accounts"] == 2
    assert len([s for s in t.slept if s > 0]) == 1


def test_an_unknown_host_is_named() -> None:
    client = make("http://no-such-host.invalid", FakeTime(), timeout=(0.5, 0.5))
    with pytest.raises(UnreachableError, match=r"no-such-host\.invalid \(unknown host\)"):
        client.get_account_id()


def test_a_server_gone_after_answering_is_retried_to_the_bound(server) -> None:
    """Once something answered, a refused connection is a blip: retried max_attempts times."""
    url, script = server
    script.add(200, {"data": [{"type": "account", "id": "A"}]})
    t = FakeTime()
    client = make(url, t, max_attempts=3, timeout=(0.5, 0.5), rate_scale=100)
    assert client.get_account_id() == "A"
    client.base_url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(RetriesExhaustedError, match="failed 3 times \\(last: connection refused"):
        client.find_lists("x")
    assert client.requests["get_lists"] == 3


def test_429_until_the_retries_run_out(server) -> None:
    url, script = server
    for _ in range(4):
        script.add(429, {"errors": [{"detail": "throttled"}]}, Retry_After="3")
    t = FakeTime()
    client = make(url, t, max_attempts=4, rate_scale=100)
    with pytest.raises(RetriesExhaustedError) as exc:
        client.get_account_id()
    assert exc.value.message == "get_accounts: still throttled (HTTP 429) after 4 attempts."
    assert exc.value.status == 429 and "state is kept" in (exc.value.hint or "")
    assert [s for s in t.slept if s > 0] == [3.0, 3.0, 3.0]
    assert client.throttled == 4 and len(script.seen) == 4


@pytest.mark.parametrize(("header", "wait"), [("soon", 1.0), ("", 1.0), ("2.5", 2.5),
                                              ("-4", 0.0)])
def test_retry_after_that_is_not_a_number_waits_a_second(server, header: str,
                                                         wait: float) -> None:
    url, script = server
    script.add(429, {"errors": []}, Retry_After=header).add(
        200, {"data": [{"type": "account", "id": "A"}]})
    t = FakeTime()
    assert make(url, t, rate_scale=100).get_account_id() == "A"
    assert [s for s in t.slept if s > 0 or wait == 0.0][:1] == [wait]


def test_retry_after_as_an_http_date(server) -> None:
    from email.utils import format_datetime

    url, script = server
    when = datetime.now(UTC) + timedelta(seconds=42)
    script.add(429, {"errors": []}, Retry_After=format_datetime(when, usegmt=True)).add(
        200, {"data": [{"type": "account", "id": "A"}]})
    t = FakeTime()
    assert make(url, t, rate_scale=100).get_account_id() == "A"
    (slept,) = [s for s in t.slept if s > 0]
    assert 39.0 <= slept <= 42.0


def test_a_server_that_is_not_klaviyo_is_named_without_its_page(server) -> None:
    url, script = server
    page = "<html><body><h1>Welcome to nginx!</h1></body></html>"
    script.add(200, page, Content_Type="text/html")
    with pytest.raises(NotKlaviyoError) as exc:
        make(url, FakeTime()).get_account_id()
    assert exc.value.message == (
        f"The server at KLAVIYO_BASE_URL={url} is not Klaviyo's API: it answered get_accounts "
        "with HTTP 200 and text/html, not a JSON:API document.")
    script.add(404, page, Content_Type="text/html")
    with pytest.raises(NotKlaviyoError, match="HTTP 404 and text/html") as exc404:
        make(url, FakeTime()).find_lists("x")
    for e in (exc.value, exc404.value):
        assert "nginx" not in e.message and "KLAVIYO_BASE_URL" in (e.hint or "")


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
    assert exc.value.message == ("KLAVIYO_API_KEY holds whitespace or a control character "
                                 "(character 23), which cannot be sent to Klaviyo: keys and "
                                 "tokens are plain ASCII.")
    assert "KLAVIYO_API_KEY" in (exc.value.hint or "")
    assert exc.value.__cause__ is None and exc.value.__context__ is None
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


def test_oauth_refreshes_a_minute_early_and_once_on_401(server) -> None:
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
    issued = t.now
    # the token lives 600 s; it is refreshed 60 s early: still used at 539 s...
    t.now = issued + 539.0
    script.add(200, {"data": [{"id": "A"}]})
    client.get_account_id()
    assert [s["path"] for s in script.seen[2:]] == ["/api/accounts"]
    assert script.seen[2]["headers"]["Authorization"] == "Bearer at1"
    # ...and replaced from 540 s on, before Klaviyo would refuse it
    t.now = issued + 540.0
    script.add(200, {"access_token": "at2", "expires_in": 600}).add(200, {"data": [{"id": "A"}]})
    client.get_account_id()
    assert [s["path"] for s in script.seen[3:]] == ["/oauth/token", "/api/accounts"]
    assert script.seen[4]["headers"]["Authorization"] == "Bearer at2"
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


def test_an_oauth_refresh_refused_names_what_to_fix(server) -> None:
    url, script = server
    creds = KlaviyoCredentials(oauth_client_id="cid", oauth_client_secret="csecret-123456",
                               oauth_refresh_token="rt-revoked-987654",
                               oauth_token_url=f"{url}/oauth/token")
    script.add(400, {"error": "invalid_grant",
                     "error_description": "refresh token rt-revoked-987654 was revoked"},
               Content_Type="application/json")
    with pytest.raises(AuthenticationError) as exc:
        make(url, FakeTime(), creds).get_account_id()
    assert exc.value.message == "OAuth token refresh was refused (HTTP 400)."
    assert exc.value.status == 400 and "KLAVIYO_OAUTH_REFRESH_TOKEN" in (exc.value.hint or "")
    assert [s["path"] for s in script.seen] == ["/oauth/token"]  # no API call without a token
    for secret in ("csecret-123456", "rt-revoked-987654"):
        assert secret not in exc.value.message + (exc.value.hint or "")


@pytest.mark.parametrize(("key", "what", "position"), [
    ("\u201cpk_abcdef123456\u201d", "a curly quote", 1),
    ("pk_abc\u00e9def123456", "a non-ASCII character", 7),
    ("pk_abcdef 123456", "whitespace or a control character", 10),
    ("pk_абвгд", "a non-ASCII character", 4),
])
def test_a_key_that_cannot_be_sent_is_one_line_naming_the_variable(server, key: str, what: str,
                                                                   position: int) -> None:
    url, script = server
    with pytest.raises(AuthenticationError) as exc:
        make(url, FakeTime(), KlaviyoCredentials(api_key=key)).get_account_id()
    assert exc.value.message == (f"KLAVIYO_API_KEY holds {what} (character {position}), which "
                                 "cannot be sent to Klaviyo: keys and tokens are plain ASCII.")
    assert key not in exc.value.message + (exc.value.hint or "")
    assert script.seen == []


@pytest.mark.parametrize(("value", "literal"), [
    ("Spring VIP", '"Spring VIP"'),
    ('c12 "quoted" list', "'c12 \"quoted\" list'"),
    ("O'Brien list", '"O\'Brien list"'),
    ('c12 "quoted" O\'Brien list', '"c12 \\"quoted\\" O\'Brien list"'),
    ("back\\slash", '"back\\\\slash"'),
    ("Été à Zürich", '"Été à Zürich"'),
])
def test_filter_strings_escape_quotes_and_keep_unicode(value: str, literal: str) -> None:
    assert filter_string(value) == literal


NAMES = ['c12 "quoted" O\'Brien list', "Été à Zürich", 'only "double"', "back\\slash 'single'",
         "emoji 🎉 list", "comma, (paren) [bracket]"]


def test_every_list_name_is_found_by_its_name_filter(klaviyo_emulator) -> None:
    """Created through the client, each awkward name is found again by the name filter (the
    emulator parses Klaviyo's filter syntax), so a second push never creates it again."""
    client = KlaviyoClient(klaviyo_emulator.base_url,
                           KlaviyoCredentials(api_key=klaviyo_emulator.api_key), "2026-07-15")
    created = {name: client.resolve_list(name) for name in NAMES}
    assert all(was_created for _, was_created in created.values())
    for name in NAMES:
        assert client.find_lists(name) == [created[name][0]]
        assert client.resolve_list(name) == (created[name][0], False)
    assert sorted(v["name"] for v in klaviyo_emulator.lists_by_id().values()) == sorted(NAMES)


def test_a_list_state_knows_is_checked_by_id_before_one_is_created(server) -> None:
    """The name filter finds nothing (e.g. a server that parses it differently), but state
    knows the list's id: it is checked by id and used, never created a second time."""
    url, script = server
    script.add(200, {"data": []})  # the filter finds nothing
    script.add(404, {"errors": [{"detail": "not found"}]})  # a stale id
    script.add(200, {"data": {"type": "list", "id": "L2", "attributes": {"name": "A \"B\""}}})
    client = make(url, FakeTime())
    assert client.resolve_list('A "B"', known_ids=("L1", "L2")) == ("L2", False)
    assert [(s["method"], s["path"].split("?")[0]) for s in script.seen] == [
        ("GET", "/api/lists"), ("GET", "/api/lists/L1"), ("GET", "/api/lists/L2")]
    assert client.notes == ["The Klaviyo list 'A \"B\"' (L2) was found by its id: Klaviyo's "
                            "name filter did not return it."]
    # a known id now holding another name (renamed in Klaviyo) is not taken: a list is created
    script.add(200, {"data": []}).add(
        200, {"data": {"type": "list", "id": "L3", "attributes": {"name": "renamed"}}}).add(
        201, {"data": {"type": "list", "id": "L4", "attributes": {"name": "X"}}})
    assert make(url, FakeTime()).resolve_list("X", known_ids=("L3",)) == ("L4", True)


def test_a_lost_answer_to_creating_a_list_looks_before_trying_again(server) -> None:
    url, script = server
    script.add(200, {"data": []})  # not there: create it
    script.add(RESET)  # Klaviyo created it, the answer is lost
    script.add(200, {"data": [{"type": "list", "id": "NEW1",
                               "attributes": {"name": "Spring VIP"}}]})  # found by name
    client = make(url, FakeTime())
    assert client.resolve_list("Spring VIP") == ("NEW1", True)  # created, by the lost call
    assert [s["method"] for s in script.seen] == ["GET", "POST", "GET"]
    assert client.unanswered == {"create_list": 1}
    assert client.notes == ["The answer to creating the list 'Spring VIP' was lost; the list "
                            "was found by name (NEW1), not created again."]


def test_a_lost_answer_then_nothing_found_creates_the_list_once_more(server) -> None:
    url, script = server
    script.add(200, {"data": []}).add(503, {"errors": [{"detail": "down"}]})
    script.add(200, {"data": []})  # the 503 created nothing: try again
    script.add(201, {"data": {"type": "list", "id": "NEW2", "attributes": {"name": "X"}}})
    client = make(url, FakeTime(), rate_scale=100)
    assert client.resolve_list("X") == ("NEW2", True)
    assert [s["method"] for s in script.seen] == ["GET", "POST", "GET", "POST"]


def test_two_lists_found_after_a_lost_answer_is_ambiguous(server) -> None:
    url, script = server
    script.add(200, {"data": []}).add(RESET).add(200, {"data": [
        {"type": "list", "id": "A1", "attributes": {"name": "X"}},
        {"type": "list", "id": "A2", "attributes": {"name": "X"}}]})
    with pytest.raises(AmbiguousListError, match="2 Klaviyo lists are named 'X'"):
        make(url, FakeTime()).resolve_list("X")


def test_a_lost_import_answer_sends_the_job_again_with_a_note(server) -> None:
    url, script = server
    script.add(RESET).add(202, {"data": {"type": "profile-bulk-import-job", "id": "J2",
                                         "attributes": {"status": "queued"}}})
    client = make(url, FakeTime())
    assert client.submit_import(b'{"data": {}}')["id"] == "J2"
    assert [s["method"] for s in script.seen] == ["POST", "POST"]
    assert client.unanswered == {"bulk_import_profiles": 1}
    assert client.notes and "the job was sent again" in client.notes[0]


def test_scopes_are_checked_before_the_first_write_naming_only_what_is_missing(
        klaviyo_emulator) -> None:
    key = klaviyo_emulator.create_key(["accounts:read", "lists:read", "lists:write",
                                       "profiles:read"])
    client = KlaviyoClient(klaviyo_emulator.base_url, KlaviyoCredentials(api_key=key),
                           "2026-07-15", check_scopes=True)
    assert client.find_lists("Spring VIP") == []  # reads need no check
    with pytest.raises(PermissionDeniedError) as exc:
        client.resolve_list("Spring VIP")
    assert exc.value.message == ("The Klaviyo key lacks the scope(s) profiles:write that "
                                 "`loader push` needs; nothing was written to Klaviyo.")
    assert "profiles:write" in (exc.value.hint or "")
    assert "lists:write" not in (exc.value.hint or "")
    assert klaviyo_emulator.lists() == {} and klaviyo_emulator.stats()["requests"].get(
        "create_list", 0) == 0


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

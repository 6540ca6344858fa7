"""The HTTP side: routing, authentication (auth.py), revision, content type, rate limits, faults,
the inspection surface under ``/_emulator/``, and the ``Emulator`` object tests drive.

Over 400 lines because the request pipeline (one request's checks in Klaviyo's order: auth,
scope, revision, limits, media type, body) reads top to bottom in one place; the parts that
stand alone are modules of their own (auth, jobs, views, limits, faults, validation)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from klaviyo_emulator import views
from klaviyo_emulator.auth import Credentials
from klaviyo_emulator.clock import Clock, system_clock
from klaviyo_emulator.errors import ApiError, error_document, invalid
from klaviyo_emulator.faults import KINDS, FaultInjector
from klaviyo_emulator.handlers import HANDLERS, Ctx
from klaviyo_emulator.jobs import JobQueue
from klaviyo_emulator.limits import RateLimiter, parse_rate_limits
from klaviyo_emulator.ops import Operation, has_scopes, route
from klaviyo_emulator.store import ListRec, Store
from klaviyo_emulator.validation import validate_body

try:  # a C parser for bulk import bodies (``_quick_bulk_body`` says when its result is used)
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - requirements.lock installs it; json alone is as exact
    _orjson_loads = None

JSONAPI = "application/vnd.api+json"
MAX_BODY_BYTES = 5 * 1024 * 1024
REVISION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9_-]+)?$")
_DIGITS_TO_0 = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19  # 19 digits in a row: maybe an integer beyond 64 bits

# Every request to any Emulator is offered to these callables (the contract test records them).
# Each receives a dict: emulator, op_id, method, path, query (list of pairs), headers (lower-cased
# names, Authorization redacted), body (parsed JSON or None), status, response (the document
# sent, or None), exempt (bool).
request_listeners: list[Callable[[dict[str, Any]], None]] = []
_UNSET: Any = object()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: Emulator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        """Shut every open keep-alive connection, so no handler thread outlives the server."""
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "KlaviyoEmulator/1.0"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)
        with suppress(OSError):  # answer in one segment: no Nagle/delayed-ACK stalls
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _dispatch(self) -> None:
        self.server.emulator._handle(self)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _dispatch

    # -- writing ------------------------------------------------------------------------------
    def send_json(self, status: int, doc: Any, content_type: str = JSONAPI,
                  headers: dict[str, str] | None = None) -> None:
        body = b"" if doc is None else json.dumps(doc, separators=(",", ":")).encode()
        self.send_response(status)
        if doc is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self._headers_buffer.append(b"\r\n" + body)  # headers and body in one write
        self.flush_headers()

    def reset_connection(self) -> None:
        """Drop the connection with a TCP reset, writing nothing."""
        with suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        self.close_connection = True
        with suppress(OSError):
            self.connection.close()


class Emulator:
    """A Klaviyo account on 127.0.0.1. Use as a context manager, or ``start()``/``stop()``.

    ``rate_limits``: "off" (default), "on", or a scale (multiplies every published rate).
    ``faults``: chance (0–1) that an API request fails (500/502/503, reset, slow, 429 storm).
    ``job_delay``: seconds before a bulk import job starts processing.
    ``api_key``: when set, only this key (and keys from ``create_key``) is accepted; otherwise
    any ``pk_…`` key is. ``gc_freeze``: for a process of its own (the CLI), freeze the garbage
    collector's view of the store after each job (halves job processing time at scale).
    ``id_seed``: fixes the list, profile and job ids; by default each start draws its own, so
    a list created after a restart never gets the id of one the previous run had.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None,
                 rate_limits: str | float | bool | None = "off", faults: float = 0.0,
                 fault_seed: int = 0, job_delay: float = 0.0, clock: Clock | None = None,
                 account_id: str | None = None, token_ttl: float = 3600.0,
                 record: bool = True, gc_freeze: bool = False,
                 id_seed: int | None = None) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the emulator serves on loopback only")
        self.clock: Clock = clock or system_clock
        self.api_key = api_key or "pk_emulator_" + secrets.token_hex(8)
        self.account_id = account_id or "Emu" + secrets.token_hex(3).upper()
        self.store = Store(self.clock, self.account_id, seed=id_seed)
        self.limiter = RateLimiter(self.clock, parse_rate_limits(rate_limits))
        self.faults = FaultInjector(faults, fault_seed)
        self.credentials = Credentials(self.clock, strict_key=api_key, token_ttl=token_ttl)
        self.record = record
        self._stats_lock = threading.Lock()
        self._inflight = 0  # requests being handled (the job thread lets them go first)
        self._reset_stats()
        # gc_freeze: a dedicated process keeps the GC off the stored profiles
        self.jobs = JobQueue(self.store, self.clock, delay=job_delay,
                             busy=lambda: self._inflight > 0, gc_freeze=gc_freeze)
        self._stop = threading.Event()
        self._host, self._port = host, port
        self._httpd: _Server | None = None
        self._threads: list[threading.Thread] = []

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> Emulator:
        httpd = _Server((self._host, self._port), _Handler)
        httpd.emulator = self
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._stop.clear()
        t1 = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"klaviyo-emulator-{self._port}", daemon=True)
        t1.start()
        self._threads = [t1, self.jobs.start(name=f"klaviyo-emulator-jobs-{self._port}")]
        return self

    def stop(self) -> None:
        self._stop.set()
        self.jobs.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.close_connections()
            self._httpd = None
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until ``stop()`` (or ``timeout`` seconds); True when stopped."""
        return self._stop.wait(timeout)

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    # ---- credentials and jobs -----------------------------------------------------------
    def create_key(self, scopes: list[str] | tuple[str, ...] | None = None) -> str:
        """A new private key with exactly these scopes (default: every scope)."""
        return self.credentials.create_key(scopes)

    def create_oauth_client(self, scopes: list[str] | tuple[str, ...] | None = None
                            ) -> dict[str, str]:
        """OAuth client credentials and a refresh token for ``POST /oauth/token``."""
        return self.credentials.create_oauth_client(self.base_url + "/oauth/token", scopes)

    @property
    def job_delay(self) -> float:
        """Seconds before a bulk import job starts processing."""
        return self.jobs.delay

    def wait_for_jobs(self, timeout: float = 30.0) -> None:
        """Block until every submitted job is complete (real time; advance a fake clock first)."""
        self.jobs.wait(timeout)

    # ---- inspection ------------------------------------------------------------------------
    def lists(self) -> dict[str, dict[str, Any]]:
        """{name: {id, members: [profile ids], emails, phone_numbers, external_ids (sets)}}.

        Lists sharing a name: the first created wins here; see ``lists_by_id``."""
        return views.lists_by_name(self.store)

    def lists_by_id(self) -> dict[str, dict[str, Any]]:
        return views.lists_by_id(self.store)

    def profiles(self) -> list[dict[str, Any]]:
        """Every profile: identifiers, attributes, location, properties and list ids."""
        return views.profiles(self.store)

    def find_profile(self, *, email: str | None = None, phone_number: str | None = None,
                     external_id: str | None = None) -> dict[str, Any] | None:
        """One profile as ``profiles()`` shows it (from the identifier indexes, no scan)."""
        return views.find_profile(self.store, email, phone_number, external_id)

    def create_list(self, name: str) -> str:
        """Seed a list directly (not counted as an API call nor against the daily limit)."""
        with self.store.lock:
            now = self.clock()
            rec = ListRec(self.store.new_list_id(), name, now, now)
            self.store.lists[rec.id] = rec
            return rec.id

    def _reset_stats(self) -> None:
        self.faults.drawn.clear()
        with self._stats_lock:
            self._requests: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._counts: Counter[str] = Counter()

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            stats: dict[str, Any] = {
                "requests": dict(self._requests),
                "statuses": dict(self._statuses),
                "throttled": self._counts["throttled"],
                "rejected": self._counts["rejected"],
                "faults": self._counts["faults"],
                "faults_by_kind": dict(self.faults.drawn),
                "total": sum(self._requests.values()),
            }
        with self.store.lock:
            stats["lists"] = len(self.store.lists)
            stats["profiles"] = len(self.store.profiles)
            stats["jobs"] = dict(Counter(j.status for j in self.store.jobs.values()))
            stats["profiles_imported"] = sum(j.completed_count for j in self.store.jobs.values())
            stats["import_errors"] = sum(j.failed_count for j in self.store.jobs.values())
        return stats

    def reset(self) -> None:
        """Forget lists, profiles, jobs, counters and rate-limit state (keys stay valid).

        Jobs not yet started are dropped; one being imported is let finish first."""
        self.jobs.drop()
        self.jobs.wait()
        self.store.clear()
        self.limiter.configure(self.limiter.scale)
        self._reset_stats()

    def configure(self, *, rate_limits: Any = _UNSET,
                  faults: float | None = None, fault_seed: int | None = None,
                  fault_kinds: list[str] | tuple[str, ...] | None = None,
                  slow_seconds: float | None = None, storm_length: int | None = None,
                  fault_ops: list[str] | tuple[str, ...] | None = None,
                  job_delay: float | None = None,
                  token_ttl: float | None = None, daily_list_limit: int | None = None,
                  max_lists: int | None = None, segments: int | None = None) -> None:
        """Change behaviour while running; unspecified settings keep their values."""
        if rate_limits is not _UNSET:
            self.limiter.configure(parse_rate_limits(rate_limits))
        if any(x is not None for x in (faults, fault_seed, fault_kinds, slow_seconds,
                                        storm_length, fault_ops)):
            f = self.faults
            self.faults.configure(
                f.rate if faults is None else faults,
                f.seed if fault_seed is None else fault_seed,
                f.kinds if fault_kinds is None else tuple(fault_kinds),
                f.slow_seconds if slow_seconds is None else slow_seconds,
                f.storm_length if storm_length is None else storm_length,
                f.ops if fault_ops is None else tuple(fault_ops),
            )
        if job_delay is not None:
            self.jobs.delay = job_delay
        if token_ttl is not None:
            self.credentials.token_ttl = token_ttl
        if daily_list_limit is not None:
            self.store.daily_list_limit = daily_list_limit
        if max_lists is not None:
            self.store.max_lists = max_lists
        if segments is not None:
            self.store.segments = segments

    @contextmanager
    def unrecorded(self) -> Iterator[None]:
        """Requests inside are marked exempt from the contract test (for deliberate misuse)."""
        before = self.record
        self.record = False
        try:
            yield
        finally:
            self.record = before

    # ---- request pipeline ------------------------------------------------------------------
    def _count(self, op_id: str, status: int, fault: bool = False) -> None:
        with self._stats_lock:
            self._requests[op_id] += 1
            self._statuses[str(status)] += 1
            if status == 429:
                self._counts["throttled"] += 1
            elif 400 <= status < 500:
                self._counts["rejected"] += 1
            if fault:
                self._counts["faults"] += 1

    def _handle(self, h: _Handler) -> None:
        with self._stats_lock:
            self._inflight += 1
        try:
            self._handle_one(h)
        finally:
            with self._stats_lock:
                self._inflight -= 1

    def _handle_one(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        path = split.path
        if path.startswith("/_emulator/") or path == "/_emulator":
            self._inspect(h, path)
            return
        try:
            length = int(h.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > 2 * MAX_BODY_BYTES:  # not worth reading: refuse and hang up
            h.close_connection = True
            h.send_json(413, error_document(413, "payload_too_large",
                                            f"The request body is {length} bytes; at most "
                                            f"{MAX_BODY_BYTES} bytes are accepted."),
                        headers={"Connection": "close"})
            return
        raw = h.rfile.read(length) if length else b""
        if path.rstrip("/") == "/oauth/token":
            self._token(h, raw)
            return
        pairs = parse_qsl(split.query, keep_blank_values=True)
        op, params, known = route(h.command, path)
        op_id = op.op_id if op else ("unknown" if not known else f"{h.command} {path}")
        status = 500
        doc: Any = None
        record = self.record
        try:
            if op is None:
                if known:
                    raise ApiError(405, "method_not_allowed",
                                   f"Method \"{h.command}\" not allowed.")
                raise ApiError(404, "not_found", f"No endpoint at {path}.")
            fault = self.faults.draw(op_id)
            if fault is not None and fault.kind != "lost" and self._apply_fault(h, fault, op_id):
                status = 0
                return
            status, doc = self._serve(h, op, params, pairs, raw, path)
            self._count(op_id, status)  # counted before the client can see the answer
            if fault is not None and fault.kind == "lost":
                with self._stats_lock:
                    self._counts["faults"] += 1
                h.reset_connection()  # done, but the answer is lost
                return
            h.send_json(status, doc)
        except ApiError as err:
            status, doc = err.status, err.document()
            self._count(op_id, err.status)
            h.send_json(err.status, doc, headers=err.headers)
        except Exception as exc:  # noqa: BLE001 - an emulator bug must still answer
            status, doc = 500, error_document(500, "error", f"Emulator error: {exc!r}")
            self._count(op_id, 500)
            h.send_json(500, doc)
        finally:
            if request_listeners:
                self._offer(h, op_id, path, pairs, raw, status, doc, exempt=not record)

    def _offer(self, h: _Handler, op_id: str, path: str, pairs: list[tuple[str, str]],
               raw: bytes, status: int, response: Any, exempt: bool) -> None:
        headers = {k.lower(): v for k, v in h.headers.items()}
        if "authorization" in headers:
            scheme = headers["authorization"].split(" ", 1)[0]
            headers["authorization"] = scheme + " ***"
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = {"emulator": self.base_url, "op_id": op_id, "method": h.command, "path": path,
                  "query": pairs, "headers": headers, "body": body, "status": status,
                  "response": response, "exempt": exempt}
        for listener in list(request_listeners):
            listener(record)

    def _apply_fault(self, h: _Handler, fault: Any, op_id: str) -> bool:
        """Answer with the fault; True when the request is finished (not served)."""
        kind = fault.kind
        if kind == "slow":
            time.sleep(self.faults.slow_seconds)
            with self._stats_lock:
                self._counts["faults"] += 1
            return False
        if kind == "reset":
            self._count(op_id, 0, fault=True)
            h.reset_connection()
            return True
        if kind == "storm":
            self._count(op_id, 429, fault=True)
            h.send_json(429, error_document(429, "throttled",
                                            "Request was throttled. Expected available in 1 "
                                            "second."), headers={"Retry-After": "1"})
            return True
        status = int(kind)
        code = {500: "error", 502: "bad_gateway", 503: "service_unavailable"}[status]
        self._count(op_id, status, fault=True)
        h.send_json(status, error_document(status, code, "Injected fault."))
        return True

    def _serve(self, h: _Handler, op: Operation, params: dict[str, str],
               pairs: list[tuple[str, str]], raw: bytes, path: str
               ) -> tuple[int, dict[str, Any] | None]:
        scopes = self.credentials.authenticate(h.headers.get("Authorization"))
        missing = has_scopes(scopes, op.scopes)
        if missing:
            raise ApiError(403, "permission_denied",
                           "You do not have permission to perform this action: the key lacks "
                           "the scope(s) " + ", ".join(missing) + ".")
        revision = h.headers.get("revision")
        if not revision or not REVISION_RE.match(revision.strip()):
            raise invalid("Missing or invalid revision header: send 'revision: YYYY-MM-DD'.",
                          parameter="revision")
        retry = self.limiter.acquire(op)
        if retry is not None:
            raise ApiError(429, "throttled",
                           f"Request was throttled. Expected available in {retry} second"
                           f"{'s' if retry != 1 else ''}.", headers={"Retry-After": str(retry)})
        query = self._query(op, pairs)
        body: Any = None
        suspects: list[int] | None = None
        if op.has_body:
            ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != JSONAPI:
                raise ApiError(415, "unsupported_media_type",
                               f"Unsupported media type \"{ctype or '(none)'}\" in request; "
                               f"send {JSONAPI}.")
            if len(raw) > MAX_BODY_BYTES:
                raise ApiError(413, "payload_too_large",
                               f"The request body is {len(raw)} bytes; at most {MAX_BODY_BYTES} "
                               "bytes are accepted.")
            quick = _quick_bulk_body(raw) if op.op_id == "bulk_import_profiles" else None
            if quick is not None:
                body, suspects = quick
            else:
                try:
                    body = json.loads(raw, parse_constant=_not_json)
                except ValueError as exc:
                    raise ApiError(400, "parse_error", f"JSON parse error - {exc}.") from None
                suspects = validate_body(op.op_id, body)
        ctx = Ctx(self.store, self.jobs, op, params, query, body, self.base_url, path, len(raw),
                  suspects)
        return HANDLERS[op.op_id](ctx)

    @staticmethod
    def _query(op: Operation, pairs: list[tuple[str, str]]) -> dict[str, str]:
        allowed = set(op.query)
        if op.filters:
            allowed.add("filter")
        if op.page_max:
            allowed |= {"page[size]", "page[cursor]"}
        query: dict[str, str] = {}
        for name, value in pairs:
            if name not in allowed:
                raise invalid(f"'{name}' is not a valid query parameter for this endpoint.",
                              parameter=name)
            if name in query:
                raise invalid(f"The query parameter '{name}' is given more than once.",
                              parameter=name)
            query[name] = value
        return query

    # ---- OAuth ------------------------------------------------------------------------------
    def _token(self, h: _Handler, raw: bytes) -> None:
        form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = h.headers.get("Authorization") or ""
        status: int
        doc: dict[str, Any]
        if h.command != "POST":
            status, doc = 405, {"error": "invalid_request", "error_description": "Use POST."}
        elif auth.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                status, doc = 401, {"error": "invalid_client",
                                    "error_description": "Malformed Basic credentials."}
            else:
                status, doc = self.credentials.grant(client_id, secret, form)
        else:
            status, doc = self.credentials.grant(client_id, secret, form)
        self._count("oauth_token", status)
        h.send_json(status, doc, content_type="application/json")

    # ---- inspection over HTTP ---------------------------------------------------------------
    def _inspect(self, h: _Handler, path: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        name = path.rstrip("/").removeprefix("/_emulator").strip("/")

        def sets_to_lists(view: dict[str, Any]) -> dict[str, Any]:
            return {k: sorted(v) if isinstance(v, set) else v for k, v in view.items()}

        try:
            if h.command == "GET" and name == "lists":
                doc: Any = [sets_to_lists(v) for v in self.lists_by_id().values()]
            elif h.command == "GET" and name == "profiles":
                doc = self.profiles()
            elif h.command == "GET" and name == "stats":
                doc = self.stats()
            elif h.command == "POST" and name == "reset":
                self.reset()
                doc = {"reset": True}
            elif h.command == "POST" and name == "config":
                settings = json.loads(raw or b"{}")
                if not isinstance(settings, dict):
                    raise ValueError("send a JSON object")
                self.configure(**settings)
                doc = {"configured": sorted(settings)}
            elif h.command == "POST" and name == "keys":
                settings = json.loads(raw or b"{}")
                doc = {"api_key": self.create_key(settings.get("scopes"))}
            else:
                h.send_json(404, {"error": f"no inspection endpoint {h.command} {path}"},
                            content_type="application/json")
                return
        except (TypeError, ValueError) as exc:
            h.send_json(400, {"error": str(exc)}, content_type="application/json")
            return
        h.send_json(200, doc, content_type="application/json")


def _not_json(token: str) -> float:
    """``json.loads``' hook for ``NaN``, ``Infinity`` and ``-Infinity``, which it reads by
    default and JSON (RFC 8259) does not have: a body holding one is a parse error, as for any
    JSON parser a real API uses."""
    raise ValueError(f"{token} is not a JSON value")


def _quick_bulk_body(raw: bytes) -> tuple[Any, list[int]] | None:
    """A bulk import body parsed by orjson and checked (``validate_body``), when that is
    exactly what ``json.loads`` and the checks give; None sends the body the general way
    (``json.loads``, then the checks), which alone decides every error and every doubt.

    orjson parses a 10,000-profile body in about half json's time. Where the two could differ,
    the body goes the general way: orjson refuses what json takes (NaN, Infinity, 1e400, a
    lone surrogate, a byte-order mark, UTF-16), reads an integer beyond 64 bits as a float (a
    body with 19 digits in a row goes the general way), and nests deeper than json does
    before json's RecursionError; so its result is used only when the checks pass with no
    suspect: every profile then passed the quick check (scalars only, a few levels deep), and
    the envelope around them has a fixed shape (the schema refuses any other member); the
    general way refuses NaN and the infinities too (``_not_json``). Any
    error of the checks on orjson's result also sends the body the general way, so that the
    answer is json's."""
    if _orjson_loads is None or _LONG_NUMBER in raw.translate(_DIGITS_TO_0):
        return None
    try:
        body = _orjson_loads(raw)
        suspects = validate_body("bulk_import_profiles", body)
    except Exception:  # noqa: BLE001 - the general way gives the answer
        return None
    if suspects != []:
        return None
    return body, suspects


__all__ = ["Emulator", "KINDS", "request_listeners"]

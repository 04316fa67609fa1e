"""The simulated Codex Analytics API over loopback HTTP.

Serves `GET /v1/analytics/codex/workspaces/{id}/usage` with the real API's paging, its
error shapes, and on demand the failures a client must survive (429, 500, a 200 cut off
midway). Pages are computed from an opaque position token, so page N costs the same as
page 0, and a failed request never advances anything: retrying it gives the same page.
Opt-in quirks (quirks.py) serve hostile shapes: bad rows, endless paging, `has_more`
without a token, a body trickled out a few bytes at a time.
"""

from __future__ import annotations

import contextlib
import datetime
import hmac
import json
import random
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urlsplit

import orjson

from sync.codex.simulator import quirks as _quirks
from sync.codex.simulator.org import every_day_accounts, generate_org
from sync.codex.simulator.quirks import HostileExpectation
from sync.codex.simulator.usage import (
    FullDensityPages,
    QueryError,
    parse_usage_query,
    usage_page,
)

API_PREFIX = "/v1/analytics/codex"
_USAGE_PATH = re.compile(re.escape(API_PREFIX) + r"/workspaces/([^/]+)/usage/?")
_FAILURES = ("429", "500", "truncated")
DENSITY_REALISTIC = "realistic"
DENSITY_FULL = "full"
# realistic: some employees without an account, people idle on some days, mostly on
# weekends, each on a few of their surfaces; full: every employee on every day on each of
# four surfaces (org.py's every_day_accounts), the most rows an org of its size can have.
DENSITIES = (DENSITY_REALISTIC, DENSITY_FULL)


def _error_body(message: str, type_: str, code: str | None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "code": code}}).encode()


_UNAUTHORIZED = _error_body(
    "Incorrect API key provided", "invalid_request_error", "invalid_api_key"
)
_NO_PLAN = _error_body(
    "This workspace's plan does not include access to Codex analytics. "
    "Codex's analytics API requires a ChatGPT Enterprise or Codex plan.",
    "invalid_request_error",
    "plan_not_eligible",
)
_RATE_LIMITED = _error_body("Rate limit reached for requests", "requests", "rate_limit_exceeded")
_SERVER_ERROR = _error_body(
    "The server had an error while processing your request.", "server_error", None
)


class Simulator:
    """An org and its usage history, served over HTTP until `stop()`."""

    # Stands for a workspace on a plan without analytics: the valid key gets a 403 here.
    NO_ACCESS_WORKSPACE_ID = "7c0e5a52-3d1b-4f0e-9a43-0000000f0403"
    QUIRKS = _quirks.QUIRKS
    # What a client rejects of the `hostile_rows` quirk's rows, by reason, in any window
    # with a day to serve (see hostile_expectation).
    HOSTILE_REJECTIONS = _quirks.HOSTILE_REJECTIONS

    def __init__(
        self,
        employees: int = 200,
        days: int = 90,
        seed: int = 7,
        fail_rate: float = 0.0,
        today: datetime.date | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        retry_after: int = 1,
        slow_seconds: float | None = None,
        quirks: Iterable[str] = (),
        trickle_bytes: int = 16,
        trickle_pause: float = 0.05,
        density: str = DENSITY_REALISTIC,
    ) -> None:
        if days < 1:
            raise ValueError("days must be at least 1")
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        if density not in DENSITIES:
            raise ValueError(f"density must be one of {', '.join(DENSITIES)}")
        self.org = generate_org(employees, seed, today)
        self.density = density
        self._full_pages: FullDensityPages | None = None
        if density == DENSITY_FULL:
            self.org.accounts = every_day_accounts(self.org)
            self._full_pages = FullDensityPages(seed, self.org.accounts)
        self.seed = seed
        self.days = days
        # Read at every request, so tests may change them on a running simulator.
        self.fail_rate = fail_rate
        self.retry_after = retry_after
        # With slow_seconds, some failures are answers that come only after that long:
        # past a client's time-out, like a stuck upstream.
        self.slow_seconds = slow_seconds
        self._failure_kinds = _FAILURES + (("slow",) if slow_seconds else ())
        # Hostile shapes to serve, from QUIRKS (see quirks.py); none by default. When both
        # endless_pages and more_without_token are on, paging is endless: no page is last.
        self.quirks = _quirks.check_quirks(quirks)
        # With the trickle quirk, a body goes out `trickle_bytes` at a time with
        # `trickle_pause` seconds between writes.
        if trickle_bytes < 1 or trickle_pause < 0:
            raise ValueError("trickle_bytes must be at least 1 and trickle_pause not negative")
        self.trickle_bytes = trickle_bytes
        self.trickle_pause = trickle_pause
        self.today = today
        self.host = host
        self.port = port
        self.base_url = ""
        self.workspace_id = self.org.workspace_id
        self.api_key = self.org.api_key
        self.request_log: list[tuple[str, str, int]] = []
        self._log_lock = threading.Lock()
        self._fail_rng = random.Random(f"failures:{seed}")
        self._fail_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def bind(self) -> str:
        """Open the listening socket (once) and return the base URL, without serving yet."""
        if self._server is None:
            self._server = _Server((self.host, self.port), self)
            self.port = self._server.server_address[1]
            shown = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
            self.base_url = f"http://{shown}:{self.port}{API_PREFIX}"
        return self.base_url

    def _bound(self) -> _Server:
        self.bind()
        assert self._server is not None  # bind() made it
        return self._server

    def start(self) -> str:
        server = self._bound()
        if self._thread is None:
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="codex-simulator",
                daemon=True,
            )
            self._thread.start()
        return self.base_url

    def serve_forever(self) -> None:
        """Serve in the calling thread until Ctrl-C."""
        server = self._bound()
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._close()

    def stop(self) -> None:
        if self._server is None:
            return
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._close()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        # Kept-alive connections would otherwise go on being served after stop().
        with server.connections_lock:
            connections = list(server.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may have gone already
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()

    def current_day(self) -> datetime.date:
        if self.today is not None:
            return self.today
        return datetime.datetime.now(datetime.UTC).date()

    def handle(self, path: str, authorization: str | None) -> tuple[int, bytes, dict[str, str]]:
        """The status, JSON body and extra headers answering `GET path`."""
        url = urlsplit(path)
        match = _USAGE_PATH.fullmatch(url.path)
        if match is None:
            message = f"Invalid URL (GET {url.path})"
            return 404, _error_body(message, "invalid_request_error", None), {}
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            key.strip().encode(), self.api_key.encode()
        ):
            return 401, _UNAUTHORIZED, {}
        workspace_id = match.group(1)
        if workspace_id == self.NO_ACCESS_WORKSPACE_ID:
            return 403, _NO_PLAN, {}
        if workspace_id != self.workspace_id:
            message = f"Workspace {workspace_id} not found"
            return 404, _error_body(message, "invalid_request_error", "workspace_not_found"), {}

        today = self.current_day()
        query, lap = url.query, 0
        token = _quirks.page_token(query) if self.quirks else None
        if _quirks.ENDLESS_PAGES in self.quirks and token is not None:
            loop = _quirks.decode_loop_token(token)
            if loop is not None:
                lap, inner = loop
                query = _quirks.with_page_token(query, inner)
        try:
            first_day, last_day, start_index, limit = parse_usage_query(
                query, today, self.days, len(self.org.accounts)
            )
        except QueryError as exc:
            return 422, json.dumps({"detail": exc.details}).encode(), {}
        failure = self._draw_failure()
        if failure == "429":
            return 429, _RATE_LIMITED, {"Retry-After": str(self.retry_after)}
        if failure == "500":
            return 500, _SERVER_ERROR, {}
        if self._full_pages is not None and not self.quirks:
            body = self._full_pages.page(first_day, last_day, today, limit, start_index)
        elif not self.quirks:
            # orjson: a sixth of json's time for a page of thousands of rows.
            body = orjson.dumps(
                usage_page(
                    self.seed, self.org.accounts, first_day, last_day, today, limit, start_index
                )
            )
        else:
            body = self._page_body(first_day, last_day, today, limit, start_index, token, lap)
        if failure == "slow" and self.slow_seconds:
            time.sleep(self.slow_seconds)
        if failure == "truncated":
            body = body[: len(body) // 2]
        return 200, body, {}

    def _page_body(
        self,
        first_day: datetime.date,
        last_day: datetime.date,
        today: datetime.date,
        limit: int,
        start_index: int,
        token: str | None,
        lap: int,
    ) -> bytes:
        """A page built as a dict, the quirks applied to it, then encoded by `json`, which
        writes the NaN and Infinity of hostile rows as they are (orjson would not)."""
        if self._full_pages is not None:
            encoded = self._full_pages.page(first_day, last_day, today, limit, start_index)
            page = json.loads(encoded)
        else:
            page = usage_page(
                self.seed, self.org.accounts, first_day, last_day, today, limit, start_index
            )
        if _quirks.HOSTILE_ROWS in self.quirks and token is None:
            page["data"] = _quirks.with_hostile_rows(page["data"], self.seed, first_day, last_day)
        if _quirks.ENDLESS_PAGES in self.quirks:
            page = _quirks.endless(page, lap)
        elif _quirks.MORE_WITHOUT_TOKEN in self.quirks and page["next_page"] is None:
            page["has_more"] = True
        # NaN and Infinity are written as such (not JSON, but what Python's parser reads).
        return json.dumps(page, separators=(",", ":")).encode()

    def hostile_expectation(
        self, start: datetime.datetime, end: datetime.datetime
    ) -> HostileExpectation:
        """What a client asking for the usage in [start, end) should make of the rows the
        `hostile_rows` quirk adds to its first page: rejections by reason and the records
        to store (dated the window's last served day). Empty without that quirk, or when
        the window holds no day to serve."""
        if _quirks.HOSTILE_ROWS not in self.quirks:
            return HostileExpectation()
        query = urlencode({"start_time": int(start.timestamp()), "end_time": int(end.timestamp())})
        first_day, last_day, _, _ = parse_usage_query(
            query, self.current_day(), self.days, len(self.org.accounts)
        )
        return _quirks.hostile_expectation(first_day, last_day)

    def _draw_failure(self) -> str | None:
        with self._fail_lock:
            # Both draws happen every time, so the sequence does not depend on fail_rate.
            roll = self._fail_rng.random()
            kind = self._failure_kinds[self._fail_rng.randrange(len(self._failure_kinds))]
        return kind if roll < self.fail_rate else None

    def _log(self, method: str, path: str, status: int) -> None:
        with self._log_lock:
            self.request_log.append((method, path, status))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without this, delayed ACKs stall keep-alive.
    disable_nagle_algorithm = True
    server_version = "CodexSimulator/1"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: a line per request would swamp a benchmark's output."""

    def do_GET(self) -> None:
        simulator = self.server.simulator
        try:
            status, body, headers = simulator.handle(self.path, self.headers.get("Authorization"))
        except Exception as exc:  # a simulator bug: show it, answer like a server error
            traceback.print_exc(file=sys.stderr)
            body = _error_body(f"simulator error: {exc}", "server_error", None)
            status, headers = 500, {}
        # Logged before the answer goes out: a client that has its answer finds it logged.
        simulator._log("GET", self.path, status)
        if status == 200 and _quirks.TRICKLE in simulator.quirks:
            self._trickle(body, simulator.trickle_bytes, simulator.trickle_pause)
        else:
            self._send(status, body, headers)

    def _read_only(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = _error_body(f"Method {self.command} not allowed", "invalid_request_error", None)
        self.server.simulator._log(self.command, self.path, 405)
        self._send(405, body, {"Allow": "GET"})

    do_POST = do_PUT = do_PATCH = do_DELETE = _read_only

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, body: bytes, size: int, pause: float) -> None:
        """A 200 whose body goes out `size` bytes at a time, `pause` seconds apart, until
        it is all sent or the client has gone."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for offset in range(0, len(body), size):
                if offset:
                    time.sleep(pause)
                self.wfile.write(body[offset : offset + size])
        except OSError:  # the client gave up (its whole-request time-out) or stop() ran
            self.close_connection = True

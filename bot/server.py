"""Serving the app: Socket Mode, or HTTP with Slack's requests at /slack/events, /healthz,
/metrics and, for identity providers, SCIM at /scim/v2 (bot/scim_endpoint.py)."""

from __future__ import annotations

import io
import json
import logging
import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import create_server
from waitress.adjustments import Adjustments
from waitress.server import TcpWSGIServer

from bot.guard import DATABASE_ERRORS, schema_gate
from bot.rendering import words
from bot.scheduler import Scheduler
from bot.scim_endpoint import ScimEndpoint, is_scim_path
from bot.telemetry import metrics, observe_slack_request
from sync.store.models import SyncRun, database

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"


def health(scheduler: Scheduler | None = None) -> tuple[int, dict]:
    """Database reachability, its schema, the last sync's time and outcome, and, for a
    replica that cannot sync (its secret does not read the key), why."""
    try:
        with database.connection_context():
            database.execute_sql("SELECT 1")
            schema = schema_gate.problem()
            if schema is not None:
                return 503, {"database": "ok", "schema": words(schema)}
            last = SyncRun.select().order_by(SyncRun.id.desc()).first()
    except DATABASE_ERRORS as exc:
        return 503, {"database": "unreachable", "error": type(exc).__name__}
    last_sync = None
    if last is not None:
        finished = last.finished_at.isoformat() + "Z" if last.finished_at else None
        last_sync = {"finished_at": finished, "outcome": last.outcome}
    body: dict = {"database": "ok", "last_sync": last_sync}
    if scheduler is not None and scheduler.sync_skipped_because is not None:
        body["this_replica"] = words(scheduler.sync_skipped_because)
    return 200, body


def wsgi_application(
    app: App,
    max_body_bytes: int,
    scheduler: Scheduler | None = None,
    scim: ScimEndpoint | None = None,
):
    slack = SlackRequestHandler(app, path=SLACK_EVENTS_PATH)
    scim = scim or ScimEndpoint(None)  # without a token: 404 under /scim

    def application(environ, start_response):
        if is_scim_path(environ.get("PATH_INFO", "")):
            return scim(environ, start_response)
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            status, body = health(scheduler)
            return _json(start_response, status, body)
        if environ.get("PATH_INFO") == METRICS_PATH and environ.get("REQUEST_METHOD") == "GET":
            status, content_type, payload = metrics(environ.get("HTTP_ACCEPT"))
            start_response(
                f"{status} {_REASONS.get(status, 'Service Unavailable')}",
                [("Content-Type", content_type), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        refusal = _screen(environ, max_body_bytes)
        if refusal is not None:
            return _json(start_response, *refusal)
        return observe_slack_request(slack, environ, start_response)

    return application


def _screen(environ, max_body_bytes: int) -> tuple[int, dict] | None:
    """What Slack's requests must be before Bolt sees them: of a bounded size (said by
    Content-Length and read no further), UTF-8, with a numeric timestamp. Anything else is
    answered here, without a traceback and without logging the unsigned body. On success
    the body is handed on, already read."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 400, {"error": "bad Content-Length"}
    if length > max_body_bytes:
        log.warning("refused a %s-byte request body (limit %s)", length, max_body_bytes)
        return 413, {"error": "request body too large"}
    body = environ["wsgi.input"].read(length) if length else b""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    if not timestamp.isdigit():
        return 401, {"error": "missing or malformed X-Slack-Request-Timestamp"}
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, {"error": "the request body is not UTF-8"}
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return None


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 413: "Payload Too Large"}


def _json(start_response, status: int, body: dict) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        f"{status} {_REASONS.get(status, 'Service Unavailable')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]


class _BurstAcceptingServer(TcpWSGIServer):
    """Waitress's server, accepting every connection that is waiting at each turn of its
    loop instead of one.

    One thread runs that loop for every connection: it accepts, reads the requests and
    hands them to the request threads. Each turn needs the interpreter several times
    (select, accept, each recv), and in a burst it waits for it behind the request threads
    and the answer pool's (bot/work.py) every time. When 50 connections opened at once,
    the last were accepted 0.3 to 1 s after their clients began, a turn each, and their
    requests, already sent, waited unread: in bench/slack_load.py the slowest
    acknowledgements (0.7-1.3 s) were all of the burst's first ~35 ms and spent all but a
    few ms there, not in the queue for a thread nor in the app."""

    def handle_accept(self) -> None:
        while len(self._map) < self.adj.connection_limit:
            open_before = len(self._map)
            super().handle_accept()  # a channel joins the map for each accepted
            if len(self._map) == open_before:  # none was waiting (or it failed)
                return


def create_http_server(
    app: App,
    host: str,
    port: int,
    max_body_bytes: int,
    scheduler: Scheduler | None = None,
    scim: ScimEndpoint | None = None,
):
    """A waitress server (threaded, production-grade WSGI); `.run()` serves. Waitress
    itself also refuses a body over the limit, whatever the headers claim."""
    application = wsgi_application(app, max_body_bytes, scheduler, scim)
    adjustments = {
        "host": host,
        "port": port,
        "threads": 8,
        "ident": "codexbot",
        "max_request_body_size": max_body_bytes,
    }
    if len(Adjustments(**adjustments).listen) > 1:
        # A host name with several addresses: waitress serves each with a server of its
        # own class, which accepts one connection a turn.
        return create_server(application, **adjustments)
    return _BurstAcceptingServer(application, **adjustments)


def serve_socket_mode(app: App, app_token: str, stop: threading.Event | None = None) -> None:
    """Connects to Slack over Socket Mode (slack_sdk's built-in client) and serves until
    `stop` is set, by default for good; then closes the connection and its threads."""
    handler = SocketModeHandler(app, app_token)
    handler.connect()
    try:
        (stop or threading.Event()).wait()
    finally:
        handler.close()

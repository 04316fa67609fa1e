"""Serving the app: Socket Mode, or HTTP with Slack's requests at /slack/events and /healthz."""

from __future__ import annotations

import io
import json
import logging

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.guard import DATABASE_ERRORS, schema_gate
from bot.rendering import words
from sync.store.models import SyncRun, database

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def health() -> tuple[int, dict]:
    """Database reachability, its schema, and the last sync's time and outcome."""
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
    return 200, {"database": "ok", "last_sync": last_sync}


def wsgi_application(app: App, max_body_bytes: int):
    slack = SlackRequestHandler(app, path=SLACK_EVENTS_PATH)

    def application(environ, start_response):
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            status, body = health()
            return _json(start_response, status, body)
        refusal = _screen(environ, max_body_bytes)
        if refusal is not None:
            return _json(start_response, *refusal)
        return slack(environ, start_response)

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


def create_http_server(app: App, host: str, port: int, max_body_bytes: int):
    """A waitress server (threaded, production-grade WSGI); `.run()` serves. Waitress
    itself also refuses a body over the limit, whatever the headers claim."""
    from waitress import create_server

    return create_server(
        wsgi_application(app, max_body_bytes),
        host=host,
        port=port,
        threads=8,
        ident="codexbot",
        max_request_body_size=max_body_bytes,
    )


def serve_socket_mode(app: App, app_token: str) -> None:
    SocketModeHandler(app, app_token).start()

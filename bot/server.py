"""Serving the app: Socket Mode, or HTTP with Slack's requests at /slack/events and /healthz."""

from __future__ import annotations

import json
import logging

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.guard import DATABASE_ERRORS
from sync.store.models import SyncRun, database

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def health() -> tuple[int, dict]:
    """Database reachability and the last sync's time and outcome."""
    try:
        with database.connection_context():
            database.execute_sql("SELECT 1")
            last = SyncRun.select().order_by(SyncRun.id.desc()).first()
    except DATABASE_ERRORS as exc:
        return 503, {"database": "unreachable", "error": type(exc).__name__}
    last_sync = None
    if last is not None:
        finished = last.finished_at.isoformat() + "Z" if last.finished_at else None
        last_sync = {"finished_at": finished, "outcome": last.outcome}
    return 200, {"database": "ok", "last_sync": last_sync}


def wsgi_application(app: App):
    slack = SlackRequestHandler(app, path=SLACK_EVENTS_PATH)

    def application(environ, start_response):
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            status, body = health()
            payload = json.dumps(body).encode()
            start_response(
                f"{status} {'OK' if status == 200 else 'Service Unavailable'}",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        return slack(environ, start_response)

    return application


def create_http_server(app: App, host: str, port: int):
    """A waitress server (threaded, production-grade WSGI); `.run()` serves, `.close()` stops."""
    from waitress import create_server

    return create_server(wsgi_application(app), host=host, port=port, threads=8, ident="codexbot")


def serve_socket_mode(app: App, app_token: str) -> None:
    SocketModeHandler(app, app_token).start()

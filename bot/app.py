"""Builds the Bolt app from settings; listeners live in bot/listeners/."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import register_listeners
from bot.slack import web_client
from sync.config import Settings


def build_app(settings: Settings, client: WebClient | None = None) -> App:
    app = App(
        client=client or web_client(settings),
        signing_secret=settings.slack.signing_secret or "",
        name="codexbot",
    )

    @app.middleware
    def provide_settings(context, next):
        context["settings"] = settings
        next()

    register_listeners(app)
    return app

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
        # Bolt would look every DM thread up with conversations.replies (for its AI
        # assistant threads, which codexbot is not); when that call fails, nobody would be
        # answered.
        attaching_conversation_kwargs_enabled=False,
    )

    @app.middleware
    def provide_settings(context, next):
        context["settings"] = settings
        next()

    register_listeners(app)
    return app

"""Builds the Bolt app from settings; listeners live in bot/listeners/."""

from __future__ import annotations

import json

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.installation import Installation
from bot.listeners import register_listeners
from bot.messages import render_message
from bot.slack import web_client
from bot.work import WorkPool
from sync.config import Settings
from sync.notices import Notice


def build_app(settings: Settings, client: WebClient | None = None) -> App:
    client = client or web_client(settings)
    app = App(
        client=client,
        signing_secret=settings.slack.signing_secret or "",
        name="codexbot",
        # Bolt would look every DM thread up with conversations.replies (for its AI
        # assistant threads, which codexbot is not); when that call fails, nobody would be
        # answered.
        attaching_conversation_kwargs_enabled=False,
        # Acknowledgements run in the request thread, at once; every listener's slow part
        # is a lazy function on a bounded pool (bot/work.py), so no acknowledgement ever
        # waits behind a burst of work.
        process_before_response=True,
        listener_executor=WorkPool(settings.slack.workers, settings.slack.queued_work),
    )
    answer = client.auth_test().data
    assert isinstance(answer, dict)  # auth.test answers JSON
    installation = Installation.from_auth_test(answer)

    @app.middleware
    def within_installation(body, context, next):
        # The trust boundary, before any listener: nothing is looked up for outsiders.
        if not installation.admits_request(body):
            return _refuse_outsider(body)
        context["settings"] = settings
        context["installation"] = installation
        # Every listener posts through the app's one client, so posts to a channel are
        # paced across requests (bot/slack.py), not per request as Bolt's own copies are.
        context["client"] = client
        # Bolt made say() (and complete() and fail()) on its copy before this middleware
        # ran, as it builds every argument a middleware could take: made again on the
        # app's client when asked for. (Copying them for the lazy listeners also copied
        # that client, at every request.)
        for made_on_bolts_copy in ("say", "complete", "fail"):
            context.pop(made_on_bolts_copy, None)
        return next()

    register_listeners(app)
    return app


def _refuse_outsider(body) -> BoltResponse:
    """One neutral sentence for a slash command; a bare acknowledgement for anything
    else (an event, a button, a form), so Slack does not retry it."""
    if "command" in body:
        message = render_message("notice", notice=Notice("outside_installation"))
        payload = json.dumps({"response_type": "ephemeral", **message})
        return BoltResponse(status=200, body=payload, headers={"Content-Type": "application/json"})
    return BoltResponse(status=200, body="")

"""The Home tab: the viewer's own last 30 days and, for managers, their reporting line."""

from __future__ import annotations

import logging

from bot.guard import listener
from bot.identity import identify
from bot.messages import render_view
from bot.work import overflowing
from sync.clock import utc_now
from sync.org.access import AccessPolicy
from sync.reports.answers import ask_home

log = logging.getLogger(__name__)


@listener
def publish_home(event, client, context) -> None:
    if event.get("tab", "home") != "home":
        return
    if overflowing():  # the tab keeps what it showed; opening it again refreshes it
        log.info("too busy to refresh the Home tab of %s", event.get("user"))
        return
    person = identify(client, event["user"], context)
    settings = context["settings"]
    home = ask_home(
        person.viewer,
        utc_now(),
        AccessPolicy.from_settings(settings),
        settings.adoption,
        settings.digest.timezone,
    )
    client.views_publish(user_id=event["user"], view=render_view("home", home=home))

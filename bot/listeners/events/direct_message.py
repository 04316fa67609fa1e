"""A DM to the bot: the sender's own stats for the period their words name."""

from __future__ import annotations

from peewee import IntegrityError

from bot.guard import listener
from bot.identity import identify
from bot.messages import render_message
from bot.parsing import parse_direct_message
from sync.clock import utc_timestamp, utc_today
from sync.org.access_log import DEFAULT_LOOKBACK_DAYS, views_of
from sync.reports.answers import stats_for
from sync.store.models import HandledEvent, database


@listener
def answer_direct_message(body, event, say, client, context) -> None:
    # Edits, joins and bot posts are not questions.
    if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
        return
    if not first_delivery(body.get("event_id")):
        return
    settings = context["settings"]
    person = identify(client, event["user"], settings.slack.admin_emails)
    today = utc_today()
    request = parse_direct_message(event.get("text", ""), today)
    if request.wants_help:
        message = render_message("help", problem=None)
    elif person.employee is None:
        message = render_message("notice", kind="not_in_directory")
    elif request.wants_access_log:
        views = views_of(person.employee, DEFAULT_LOOKBACK_DAYS)
        message = render_message(
            "access_log", whose="your", views=views, days=DEFAULT_LOOKBACK_DAYS
        )
    else:
        # Nothing in a DM can name someone else: the target is always the sender.
        answer = stats_for(person.employee, person.employee, request.period, surface="dm")
        message = (
            render_message("stats", answer=answer)
            if answer
            else render_message("notice", kind="refused")
        )
    say(**message)


def first_delivery(event_id: str | None) -> bool:
    """True once per event id, across retries and replicas."""
    if not event_id:
        return True
    try:
        with database.atomic():
            HandledEvent.create(event_id=event_id, handled_at=utc_timestamp())
    except IntegrityError:
        return False
    return True

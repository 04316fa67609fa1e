"""A DM to the bot: the sender's own stats for the period their words name."""

from __future__ import annotations

from bot.guard import listener
from bot.identity import identify, learn_slack_time_zone
from bot.messages import render_answer, render_message
from bot.parsing import parse_direct_message
from bot.work import overflowing
from sync.notices import Notice
from sync.org.access import AccessPolicy
from sync.reports.answers import ask_in_direct_message

# Message subtypes that are still someone asking: a file with a caption, a thread reply
# also sent to the channel. Edits, deletions, joins and bot posts are not questions.
ASKING_SUBTYPES = (None, "file_share", "thread_broadcast")


@listener
def answer_direct_message(body, event, say, client, context) -> None:
    if event.get("channel_type") != "im" or event.get("bot_id"):
        return
    if event.get("subtype") not in ASKING_SUBTYPES or not event.get("user"):
        return
    thread = {"thread_ts": event["thread_ts"]} if event.get("thread_ts") else {}
    if overflowing():
        say(**render_message("notice", notice=Notice("busy")), **thread)
        return
    request = parse_direct_message(event.get("text", ""))
    person = identify(client, event["user"], context)
    if person.employee is not None:
        # Their days are their own clock's: Slack's, where the directory names no zone.
        learn_slack_time_zone(client, person.employee)
    answer = ask_in_direct_message(
        body.get("event_id"),
        person.viewer,
        request.period,
        wants_help=request.wants_help,
        wants_access_log=request.wants_access_log,
        default_time_zone=context["settings"].digest.timezone,
        wants_transparency=request.wants_transparency,
        admin_emails=AccessPolicy.from_settings(context["settings"]),
    )
    # A question asked in a thread is answered in that thread.
    for message in [] if answer is None else render_answer(answer):
        say(**message, **thread)

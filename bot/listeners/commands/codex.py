"""`/codex ...`: parse the text, decide through sync/, answer privately through a template."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.guard import listener
from bot.identity import SlackPerson, identify
from bot.messages import render_message, render_messages, render_view
from bot.parsing import CodexCommand, parse_codex_command
from sync.clock import utc_today
from sync.codex.connection import connection_info, remove_connection
from sync.ingest.scheduled import next_sync_at
from sync.org.access import is_archived
from sync.org.access_log import DEFAULT_LOOKBACK_DAYS, views_of
from sync.org.directory import count_unmatched_codex_users
from sync.reports.answers import digest_for, stats_for, team_for
from sync.reports.periods import Period
from sync.store.models import Employee, SyncRun

log = logging.getLogger(__name__)


@listener
def acknowledge_codex(ack, command, client: WebClient, respond, context) -> None:
    # Acknowledge first, always: Slack shows an error after 3 s without one.
    ack()
    parsed = parse_codex_command(command.get("text", ""))
    if parsed.name != "connect" or parsed.problem:
        return
    # The modal opens here rather than in the lazy listener: its trigger id lives 3 s.
    person = identify(client, command["user_id"], context["settings"].slack.admin_emails)
    if not person.is_admin:
        message = render_message("notice", kind="admins_only", action="connect Codex")
        respond(response_type="ephemeral", **message)
        return
    try:
        client.views_open(trigger_id=command["trigger_id"], view=render_view("connect_modal"))
    except SlackApiError as exc:
        log.warning("views.open failed: %s", exc.response.get("error"))
        message = render_message("notice", kind="modal_failed")
        respond(response_type="ephemeral", **message)


@listener
def answer_codex(command, client: WebClient, respond, context) -> None:
    parsed = parse_codex_command(command.get("text", ""))
    if parsed.name == "connect" and not parsed.problem:
        return  # answered by the modal, opened in the acknowledgement
    if parsed.problem:
        # Unreadable text is answered the same way whoever sends it: no lookup needed.
        answer = (
            render_message("help", problem=parsed.problem)
            if parsed.name in ("help", "connect")
            else render_message("notice", kind="bad_command", problem=parsed.problem)
        )
    else:
        person = identify(client, command["user_id"], context["settings"].slack.admin_emails)
        answer = SUBCOMMAND_ANSWERS[parsed.name](parsed, person, client, context)
    # A digest preview may need several messages; everything else is one.
    for message in answer if isinstance(answer, list) else [answer]:
        respond(response_type="ephemeral", replace_original=False, **message)


def _help(parsed: CodexCommand, person, client, context) -> dict:
    return render_message("help", problem=None)


def _stats(parsed: CodexCommand, person: SlackPerson, client, context) -> dict:
    if person.employee is None:
        return render_message("notice", kind="not_in_directory")
    admin_emails = context["settings"].slack.admin_emails
    target = person.employee
    if parsed.target_user_id and parsed.target_user_id != person.slack_user_id:
        target = identify(client, parsed.target_user_id).employee
    period = Period.ending_before(utc_today(), parsed.days)
    answer = stats_for(person.employee, target, period, admin_emails, surface="slash command")
    if answer is None:
        return render_message("notice", kind="refused")
    return render_message("stats", answer=answer)


def _team(parsed: CodexCommand, person: SlackPerson, client, context) -> dict:
    if person.employee is None:
        return render_message("notice", kind="not_in_directory")
    team = team_for(person.employee, Period.ending_before(utc_today(), parsed.days))
    if team is None:
        return render_message("notice", kind="no_team")
    return render_message("team", team=team)


def _status(parsed: CodexCommand, person: SlackPerson, client, context) -> dict:
    if not person.is_admin:
        return render_message("notice", kind="admins_only", action="see codexbot's status")
    return render_message(
        "status",
        connection=connection_info(),
        last_run=SyncRun.select().order_by(SyncRun.id.desc()).first(),
        next_sync=next_sync_at(context["settings"].sync.interval_minutes),
        unmatched=count_unmatched_codex_users(),
    )


def _disconnect(parsed: CodexCommand, person: SlackPerson, client, context) -> dict:
    if not person.is_admin:
        return render_message("notice", kind="admins_only", action="disconnect Codex")
    kind = "disconnected" if remove_connection() else "not_connected"
    return render_message("notice", kind=kind)


def _digest(parsed: CodexCommand, person: SlackPerson, client, context) -> dict | list[dict]:
    employee = person.employee
    if employee is None or is_archived(employee):
        return render_message("notice", kind="not_in_directory")
    settings = context["settings"]
    if parsed.action == "preview":
        digest = digest_for(employee, utc_today(), settings.digest.period_days)
        return render_messages("digest", digest=digest)
    if not settings.digest.enabled:
        return render_message("notice", kind="digests_disabled")
    preference, value, kind = {
        "on": (Employee.digest_opt_out, False, "digest_on"),
        "off": (Employee.digest_opt_out, True, "digest_off"),
        "me on": (Employee.self_digest, True, "self_digest_on"),
        "me off": (Employee.self_digest, False, "self_digest_off"),
    }[parsed.action]
    Employee.update({preference: value}).where(Employee.id == employee.id).execute()
    return render_message("notice", kind=kind)


def _audit(parsed: CodexCommand, person: SlackPerson, client, context) -> dict:
    if not person.is_admin:
        return render_message("notice", kind="admins_only", action="read the access log")
    target = identify(client, parsed.target_user_id).employee
    if target is None:
        return render_message("notice", kind="unknown_person")
    views = views_of(target, DEFAULT_LOOKBACK_DAYS)
    whose = f"{target.display_name}'s"
    return render_message("access_log", whose=whose, views=views, days=DEFAULT_LOOKBACK_DAYS)


SUBCOMMAND_ANSWERS = {
    "audit": _audit,
    "digest": _digest,
    "help": _help,
    "stats": _stats,
    "team": _team,
    "status": _status,
    "disconnect": _disconnect,
}

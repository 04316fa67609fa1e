"""`/codex ...`: parse the text, decide through sync/reports/answers.py, answer privately
through a template."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.exporting import send_export
from bot.guard import listener
from bot.identity import SlackPerson, identify, learn_slack_time_zone
from bot.messages import render_answer, render_message, render_view
from bot.parsing import SCHEDULE_ACTIONS, CodexCommand, parse_codex_command
from bot.slack import PacedWebClient, send_direct_message
from bot.work import overflowing
from sync.clock import utc_today
from sync.notices import Notice
from sync.org.access import AccessPolicy
from sync.org.directory import find_employee
from sync.reports import adoption, answers, directory_admin, exports, schedules
from sync.store.models import Employee

log = logging.getLogger(__name__)

# Slack accepts five posts to one response_url, within 30 minutes of the command.
RESPONSE_URL_USES = 5


def acknowledge_codex(ack, command, client: WebClient, respond, context) -> None:
    # Acknowledge first, always: Slack shows an error after 3 s without one. Only
    # `connect` needs more here, so no other acknowledgement touches the database.
    ack()
    parsed = parse_codex_command(command.get("text", ""))
    if parsed.name == "connect" and not parsed.problem:
        open_connect_modal(command=command, client=client, respond=respond, context=context)


@listener
def open_connect_modal(command, client: WebClient, respond, context) -> None:
    # Here rather than in the lazy listener: the modal's trigger id lives 3 s.
    settings = context["settings"]
    person = identify(client, command["user_id"], context)
    refusal = answers.ask_connect(person.viewer, settings.slack.admin_emails)
    if refusal is not None:
        respond(response_type="ephemeral", **render_message("notice", notice=refusal))
        return
    try:
        client.views_open(trigger_id=command["trigger_id"], view=render_view("connect_modal"))
    except SlackApiError as exc:
        log.warning("views.open failed: %s", exc.response.get("error"))
        message = render_message("notice", notice=Notice("modal_failed"))
        respond(response_type="ephemeral", **message)


@listener
def answer_codex(command, client: PacedWebClient, respond, context) -> None:
    if overflowing():
        message = render_message("notice", notice=Notice("busy"))
        respond(response_type="ephemeral", replace_original=False, **message)
        return
    parsed = parse_codex_command(command.get("text", ""))
    if parsed.name == "connect" and not parsed.problem:
        return  # answered by the modal, opened in the acknowledgement
    if parsed.problem and parsed.name in ("help", "connect"):
        answer: answers.Answer | directory_admin.DirectoryAnswer = answers.Help(parsed.problem)
    elif parsed.problem:
        # Unreadable text is answered the same way whoever sends it: no lookup needed.
        answer = Notice("bad_command", {"problem": parsed.problem})
    else:
        person = identify(client, command["user_id"], context)
        answer = SUBCOMMANDS[parsed.name](parsed, person, client, context)
    respond_within_budget(render_answer(answer), command, client)


def respond_within_budget(messages: list[dict], command: dict, client: PacedWebClient) -> None:
    """Answer privately through the response_url, which Slack accepts RESPONSE_URL_USES
    posts to: a longer answer (a big team's digest preview) ends there with a note, and
    the rest goes to the asker's DM."""
    if len(messages) > RESPONSE_URL_USES:
        rest = messages[RESPONSE_URL_USES - 1 :]
        moved = Notice("continued_in_dm", {"messages": len(rest)})
        messages = [*messages[: RESPONSE_URL_USES - 1], render_message("notice", notice=moved)]
    else:
        rest = []
    for message in messages:
        client.post_to_response_url(command["response_url"], message)
    for message in rest:
        send_direct_message(client, command["user_id"], message)


def _named(
    parsed: CodexCommand, client: WebClient, context: BoltContext
) -> Callable[[], Employee | None]:
    """How to find the person a command names, by a mention or by their directory email
    (ignoring case); called only once the asker may ask about someone."""

    def find() -> Employee | None:
        if parsed.target_email is not None:
            return find_employee(parsed.target_email)
        assert parsed.target_user_id is not None  # the parser names a person one way or the other
        return identify(client, parsed.target_user_id, context).employee

    return find


def _stats(parsed: CodexCommand, person: SlackPerson, client: WebClient, context: BoltContext):
    names_someone = parsed.target_email is not None or parsed.target_user_id not in (
        None,
        person.slack_user_id,
    )
    find_target = _named(parsed, client, context) if names_someone else lambda: person.employee

    settings = context["settings"]
    return answers.ask_stats(
        person.viewer,
        find_target,
        lambda today: today.last_days(parsed.days),
        AccessPolicy.from_settings(settings),
        "slash command",
        settings.digest.timezone,
    )


def _team(parsed: CodexCommand, person: SlackPerson, client: WebClient, context: BoltContext):
    names_someone = parsed.target_email is not None or parsed.target_user_id is not None
    find_manager = _named(parsed, client, context) if names_someone else None
    settings = context["settings"]
    period = answers.last_days_of(person.viewer, parsed.days, settings.digest.timezone)
    admin_emails = AccessPolicy.from_settings(settings)
    return answers.ask_team(
        person.viewer, period, admin_emails, find_manager, everyone=parsed.everyone
    )


def _adoption(parsed: CodexCommand, person: SlackPerson, client: WebClient, context: BoltContext):
    names_someone = parsed.target_email is not None or parsed.target_user_id is not None
    find_manager = _named(parsed, client, context) if names_someone else None
    settings = context["settings"]
    return adoption.ask_adoption(
        person.viewer,
        answers.last_days_of(person.viewer, parsed.days, settings.digest.timezone),
        settings.adoption,
        AccessPolicy.from_settings(settings),
        find_manager,
        whole_organisation=parsed.everyone,
    )


def _export(parsed: CodexCommand, person: SlackPerson, client: WebClient, context: BoltContext):
    names_someone = parsed.target_email is not None or parsed.target_user_id is not None
    find_target = _named(parsed, client, context) if names_someone else None
    settings = context["settings"]
    period = answers.last_days_of(person.viewer, parsed.days, settings.digest.timezone)
    admin_emails = AccessPolicy.from_settings(settings)
    export = exports.ask_export(
        person.viewer,
        find_target,
        period,
        admin_emails,
        whole_team=parsed.whole_team,
        everyone=parsed.everyone,
    )
    if isinstance(export, Notice):
        return export
    return send_export(client, person.slack_user_id, export)


def _digest(parsed: CodexCommand, person: SlackPerson, client: WebClient, context: BoltContext):
    assert parsed.action is not None  # the parser names one for every digest command
    settings = context["settings"]
    if parsed.action in SCHEDULE_ACTIONS:
        if person.employee is not None:
            # Schedules are on the asker's clock: Slack's, where the directory names none.
            learn_slack_time_zone(client, person.employee)
        find_report = _named(parsed, client, context) if parsed.action == "1on1" else None
        return schedules.ask_digest_schedule(
            person.viewer, parsed.action, parsed.slot, find_report, settings.digest, utc_today()
        )
    return answers.ask_digest(person.viewer, parsed.action, utc_today(), settings)


def _audit(parsed: CodexCommand, person: SlackPerson, client: WebClient, context: BoltContext):
    find_target = _named(parsed, client, context)
    return answers.ask_audit(person.viewer, find_target, context["settings"].slack.admin_emails)


def _org(parsed: CodexCommand, person: SlackPerson, client: WebClient, context: BoltContext):
    settings = context["settings"]
    admin_emails = settings.slack.admin_emails
    if parsed.action == "unmatched":
        return directory_admin.ask_unmatched(person.viewer, admin_emails)
    if parsed.action == "history":
        return directory_admin.ask_directory_history(person.viewer, admin_emails)
    if parsed.action == "alias":
        assert parsed.codex_email is not None  # the parser refuses an alias without one
        find_person = _named(parsed, client, context)
        return directory_admin.ask_alias(
            person.viewer, parsed.codex_email, find_person, admin_emails
        )
    return directory_admin.ask_directory(person.viewer, settings)


def _status(parsed: CodexCommand, person: SlackPerson, client: WebClient, context: BoltContext):
    return answers.ask_status(person.viewer, context["settings"])


def _disconnect(parsed: CodexCommand, person: SlackPerson, client: WebClient, context: BoltContext):
    forget = parsed.action == "forget"
    admin_emails = context["settings"].slack.admin_emails
    return answers.ask_disconnect(person.viewer, admin_emails, forget=forget)


def _help(parsed: CodexCommand, person: SlackPerson, client: WebClient, context: BoltContext):
    return answers.Help()


SUBCOMMANDS = {
    "adoption": _adoption,
    "audit": _audit,
    "digest": _digest,
    "export": _export,
    "help": _help,
    "org": _org,
    "stats": _stats,
    "team": _team,
    "status": _status,
    "disconnect": _disconnect,
}

"""The confirmed "Delete its usage" button of `/codex disconnect forget`."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.guard import listener
from bot.identity import identify
from bot.messages import render_answer
from sync.reports.answers import forget_workspace


@listener
def confirm_forget_workspace(ack, body, action, client: WebClient, respond, context) -> None:
    ack()
    admin_emails = context["settings"].slack.admin_emails
    # Re-checked here: a block action can be crafted as well as clicked.
    person = identify(client, body["user"]["id"], context)
    answer = forget_workspace(person.viewer, str(action.get("value") or ""), admin_emails)
    for message in render_answer(answer):
        respond(response_type="ephemeral", replace_original=True, **message)

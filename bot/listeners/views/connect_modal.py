"""The connect modal's submission: field errors in the modal, or connected and syncing."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.background import start_first_sync
from bot.connecting import API_KEY_BLOCK, WORKSPACE_BLOCK, connect_from_modal
from bot.guard import listener
from bot.identity import identify
from bot.messages import render_field_errors


@listener
def submit_connection(ack, body, view, client: WebClient, context) -> None:
    settings = context["settings"]
    # Re-checked here as well as on open: a view_submission can be crafted.
    person = identify(client, body["user"]["id"], context)
    values = view.get("state", {}).get("values", {})
    outcome = connect_from_modal(
        settings,
        person,
        _field(values, API_KEY_BLOCK),
        _field(values, WORKSPACE_BLOCK),
    )
    if outcome.errors:
        ack(response_action="errors", errors=render_field_errors(outcome.errors))
        return
    ack()
    assert outcome.info is not None  # a connection without errors was stored
    start_first_sync(settings, client, person.slack_user_id, outcome.info)


def _field(values: dict, block_id: str) -> str:
    return ((values.get(block_id) or {}).get("value") or {}).get("value") or ""

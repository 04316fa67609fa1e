"""`/codex connect`: the modal, its validation against the Codex API, and the first sync."""

from __future__ import annotations

import logging

import pytest

from sync.codex.connection import connection_info
from sync.codex.simulator import Simulator
from sync.store.models import Connection, DailyUsage, SyncRun

OTHER_WORKSPACE = "11111111-2222-3333-4444-555555555555"


def test_an_admin_gets_the_modal_at_once(bot, slack, org):
    response = bot.command("UADMIN", "connect")
    assert response.status_code == 200
    (opened,) = slack.wait_for("views.open")  # opened by the acknowledging listener
    assert opened.params["trigger_id"].startswith("trigger-")
    view = opened.params["view"]
    assert view["callback_id"] == "codex_connect"
    assert [b.get("block_id") for b in view["blocks"] if b["type"] == "input"] == [
        "api_key",
        "workspace_id",
    ]


def test_a_config_admin_outside_the_directory_may_connect(bot, slack, org):
    bot.command("UCONFIGADMIN", "connect")
    assert len(slack.wait_for("views.open")) == 1


def test_a_non_admin_gets_a_private_refusal_and_no_modal(bot, slack, org):
    response = bot.command("UMGR", "connect")
    assert response.status_code == 200
    assert response.text == ""  # acknowledged at once; the refusal follows privately
    (refusal,) = slack.wait_for("response_url")
    assert refusal.params["response_type"] == "ephemeral"
    assert "Only codexbot admins can connect Codex" in refusal.params["text"]
    assert slack.calls_to("views.open") == []


def test_a_valid_submission_stores_the_key_encrypted_confirms_and_syncs(
    bot, slack, org, simulator, caplog
):
    caplog.set_level(logging.DEBUG)
    response = bot.view_submission("UADMIN", simulator.api_key, simulator.workspace_id.upper())
    assert response.status_code == 200
    assert response.text == ""  # an empty ack closes the modal
    info = connection_info()
    assert info.workspace_id == simulator.workspace_id
    assert info.key_last4 == simulator.api_key[-4:]
    assert simulator.api_key not in Connection.get().api_key_encrypted

    confirmed, finished = slack.wait_for("chat.postMessage", 2)[:2]
    assert confirmed.params["channel"] == "DUADMIN"
    assert simulator.workspace_id in confirmed.params["text"]
    assert f"ending in `{simulator.api_key[-4:]}`" in confirmed.params["text"]
    assert "The first Codex sync finished" in finished.params["text"]
    run = SyncRun.get(SyncRun.workspace_id == simulator.workspace_id)
    assert run.outcome == SyncRun.OUTCOME_OK and run.rows > 0
    assert f"{run.rows:,} usage rows" in finished.params["text"]

    # The key went to the Codex API and nowhere else: no Slack call, no log line.
    assert all(simulator.api_key not in call.raw for call in slack.calls)
    assert all(simulator.api_key not in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("key", "workspace", "block", "words"),
    [
        ("sk-wrong-0000000000", None, "api_key", "That API key was rejected"),
        (None, Simulator.NO_ACCESS_WORKSPACE_ID, "workspace_id", "requires a ChatGPT Enterprise"),
        (None, OTHER_WORKSPACE, "workspace_id", "No ChatGPT workspace with that ID"),
        (None, "not-a-uuid", "workspace_id", "A Workspace ID is a UUID"),
        ("   ", None, "api_key", "Paste the Platform API key"),
    ],
    ids=["wrong-key", "no-plan", "unknown-workspace", "malformed-uuid", "empty-key"],
)
def test_each_refusal_shows_in_the_modal_field_and_stores_nothing(
    bot, slack, org, simulator, key, workspace, block, words
):
    key = key or simulator.api_key
    response = bot.view_submission("UADMIN", key, workspace or simulator.workspace_id)
    body = response.json()
    assert body["response_action"] == "errors"
    assert words in body["errors"][block]
    assert len(body["errors"][block]) <= 150
    assert key.strip() == "" or key not in response.text
    assert Connection.select().count() == 0
    assert slack.calls_to("chat.postMessage") == []


def test_an_unreachable_service_is_a_field_error(bot, slack, org, settings, simulator):
    settings.codex.api_base_url = "http://127.0.0.1:9/v1/analytics/codex"
    body = bot.view_submission("UADMIN", simulator.api_key, simulator.workspace_id).json()
    assert "Couldn't reach the Codex analytics service" in body["errors"]["api_key"]
    assert Connection.select().count() == 0


def test_a_crafted_submission_from_a_non_admin_is_refused_and_stores_nothing(
    bot, slack, org, simulator
):
    body = bot.view_submission("UMGR", simulator.api_key, simulator.workspace_id).json()
    assert body["response_action"] == "errors"
    assert "Only codexbot admins" in body["errors"]["api_key"]
    assert Connection.select().count() == 0
    assert slack.calls_to("chat.postMessage") == []


def test_status_after_connecting_and_disconnect_keeps_history(bot, slack, org, simulator):
    bot.view_submission("UADMIN", simulator.api_key, simulator.workspace_id)
    slack.wait_for("chat.postMessage", 2)
    stored = DailyUsage.select().count()
    bot.command("UADMIN", "status")
    status = slack.wait_for("response_url")[0].params
    assert simulator.workspace_id in status["text"]
    assert simulator.api_key[-4:] in status["text"] and simulator.api_key not in status["text"]
    assert "Last sync" in status["text"] and "ok" in status["text"]
    bot.command("UADMIN", "disconnect")
    gone = slack.wait_for("response_url", 2)[1].params
    assert "disconnected" in gone["text"]
    assert Connection.select().count() == 0
    assert DailyUsage.select().count() == stored

"""`/codex` subcommands, signed and sent over HTTP as Slack sends them."""

from __future__ import annotations

import datetime as dt

import pytest
from slack_requests import add_reports, assert_long_preview_moved_to_dm, ephemeral_answer

from bot.rendering import format_day
from sync.clock import utc_today


def test_stats_alone_answers_the_askers_own_usage_privately(bot, slack, org):
    response = bot.command("UREP", "stats")
    assert response.status_code == 200
    answer = ephemeral_answer(slack)
    assert "Codex usage for Remy Report" in answer["text"]
    assert answer["blocks"][0]["text"]["text"] == "Codex usage: Remy Report"
    assert "10.5 credits" in answer["text"]
    assert not slack.calls_to("chat.postMessage")  # nothing public


MATRIX = [
    # asker, target, allowed
    ("UMGR", "UREP", True),  # manager -> report
    ("UCEO", "UREP", True),  # skip-level
    ("UADMIN", "UREP", True),  # admin
    ("UREP", "UREP", True),  # self by mention
    ("UPEER", "UREP", False),  # peer
    ("USTRANGER", "UREP", False),  # another branch
    ("UREP", "UMGR", False),  # upwards
    ("UARCHIVED", "UARCHIVED", False),  # archived viewer sees nothing
    ("UMGR", "UOUTSIDER", False),  # not in the directory
    ("UMGR", "UNOSUCHUSER", False),  # unknown to Slack
    ("UMGR", "UBOTUSER", False),  # a bot
]


@pytest.mark.parametrize(("asker", "target", "allowed"), MATRIX)
def test_stats_for_someone_follows_the_access_policy(bot, slack, org, asker, target, allowed):
    bot.command(asker, f"stats <@{target}|someone> 30d")
    answer = ephemeral_answer(slack)
    if allowed:
        name = {"UREP": "Remy Report", "UMGR": "Max Manager"}[target]
        assert answer["text"].startswith(f"Codex usage for {name},")
        assert "(30 days)" in answer["blocks"][1]["elements"][0]["text"]
    else:
        # One neutral wording, whether the person exists, has data, or is off limits.
        assert answer["text"].startswith("I can't show Codex stats for that person")


def test_a_slack_user_outside_the_directory_is_told_so(bot, slack, org):
    bot.command("UOUTSIDER", "stats")
    assert "not in codexbot's directory" in ephemeral_answer(slack)["text"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("stats bob", "isn't a period I know"),
        ("stats <@UREP> 45d", "isn't a period I know"),
        ("frobnicate", "I don't know `frobnicate`"),
        ("stats <!channel>", "isn't a period I know"),
    ],
)
def test_malformed_text_gets_usage_help(bot, slack, org, text, words):
    bot.command("UMGR", text)
    answer = ephemeral_answer(slack)
    assert words in answer["text"]
    assert "<!channel>" not in answer["text"]


def test_help_explains_commands_and_stats(bot, slack, org):
    bot.command("UREP", "help")
    answer = ephemeral_answer(slack)
    body = str(answer["blocks"])
    assert "/codex stats @person" in body and "Output tokens" in body


def test_team_lists_the_reporting_chain_by_credits(bot, slack, org):
    bot.command("UCEO", "team 7d")
    answer = ephemeral_answer(slack)
    lines = str(answer["blocks"])
    for name in ("Max Manager", "Remy Report", "Pia Peer", "Sol Stranger"):
        assert name in lines
    assert "Ada Admin" not in lines
    # A leaver is listed with their history, marked as gone: not a drop in usage.
    left = format_day(utc_today() - dt.timedelta(days=40))
    assert f"*Arlo Archived* (left on {left})" in lines
    assert "*Max Manager*  " in lines  # the others carry no mark
    bot.command("UREP", "team")
    assert "Nobody reports to you" in ephemeral_answer(slack, 2)["text"]


def test_status_and_disconnect_are_for_admins(bot, slack, org):
    bot.command("UREP", "status")
    assert "Only codexbot admins" in ephemeral_answer(slack)["text"]
    bot.command("UADMIN", "status")
    status = ephemeral_answer(slack, 2)
    assert "not connected" in status["text"]
    bot.command("UREP", "disconnect")
    assert "Only codexbot admins" in ephemeral_answer(slack, 3)["text"]


def test_digest_preview_shows_the_managers_digest_now(bot, slack, org):
    bot.command("UMGR", "digest preview")
    answer = ephemeral_answer(slack)
    blocks = str(answer["blocks"])
    assert "1:1 prep" in answer["text"]
    assert "Remy Report" in blocks and "Pia Peer" in blocks
    assert "Sol Stranger" not in blocks


def test_digest_off_on_and_me_on_store_preferences(bot, slack, org):
    from sync.store.models import Employee

    bot.command("UMGR", "digest off")
    assert "won't get 1:1-prep digests" in ephemeral_answer(slack)["text"]
    assert Employee.get(Employee.email == "mgr@example.com").digest_opt_out is True
    bot.command("UMGR", "digest on")
    ephemeral_answer(slack, 2)
    assert Employee.get(Employee.email == "mgr@example.com").digest_opt_out is False
    bot.command("UREP", "digest me on")
    assert "weekly summary" in ephemeral_answer(slack, 3)["text"]
    assert Employee.get(Employee.email == "rep@example.com").self_digest is True
    bot.command("UREP", "digest sideways")
    assert "/codex digest preview" in ephemeral_answer(slack, 4)["text"]


def test_status_says_when_syncing_is_paused_and_why(bot, slack, org, settings):
    from sync.codex.connection import store_connection
    from sync.store.models import Connection

    store_connection(
        "0f8fad5b-d9cb-469f-a165-70867728950e", "sk-test-1234567890", settings.security.secret_key
    )
    Connection.update(sync_paused_reason="That API key was rejected.").execute()
    bot.command("UADMIN", "status")
    status = ephemeral_answer(slack)["text"]
    assert "paused until Codex is reconnected: That API key was rejected." in status
    assert "sk-test-1234567890" not in status and "7890" in status


def test_status_says_when_the_workspace_changed_and_what_the_last_sync_rejected(
    bot, slack, org, settings
):
    from factories import WORKSPACE

    from sync.codex.connection import store_connection
    from sync.store.models import SyncRun

    other = "11111111-2222-3333-4444-555555555555"
    store_connection(other, "sk-test-1234567890", settings.security.secret_key)
    SyncRun.create(
        workspace_id=other,
        started_at="2026-11-25 08:00:00",
        finished_at="2026-11-25 08:01:00",
        window_start="2026-11-20",
        window_end="2026-11-25",
        outcome="ok",
        rows=12,
        rejected='{"not_finite": 2}',
        warning='{"kind": "more_without_token", "params": {}}',
    )
    bot.command("UADMIN", "status")
    status = ephemeral_answer(slack)["text"]
    assert "Workspace changed" in status and f"from `{WORKSPACE}`" in status
    assert "2 rows not stored: 2 with an infinite or NaN count" in status
    assert "gave no page token, so the sync stopped there" in status


def test_disconnect_forget_asks_first_then_the_button_deletes_the_usage(bot, slack, org):
    from factories import WORKSPACE
    from slack_sdk.models.blocks import ActionsBlock

    from sync.store.models import DailyUsage

    stored = DailyUsage.select().count()
    assert stored > 0
    bot.command("UADMIN", "disconnect forget")
    question = ephemeral_answer(slack)
    assert f"workspace `{WORKSPACE}`: {stored} usage rows over 7 days?" in question["text"]
    (button,) = ActionsBlock(**question["blocks"][1]).elements
    assert (button.action_id, button.value) == ("forget_workspace", WORKSPACE)
    assert button.confirm is not None  # Slack asks once more before sending the action
    assert DailyUsage.select().count() == stored  # asking deletes nothing

    # A crafted action from someone who is not an admin changes nothing.
    bot.block_action("UMGR", "forget_workspace", WORKSPACE)
    assert "Only codexbot admins can disconnect Codex" in ephemeral_answer(slack, 2)["text"]
    assert DailyUsage.select().count() == stored

    bot.block_action("UADMIN", "forget_workspace", WORKSPACE)
    done = ephemeral_answer(slack, 3)
    assert f"`{WORKSPACE}`'s usage is deleted: {stored} rows" in done["text"]
    assert DailyUsage.select().count() == 0


def test_a_2000_report_digest_preview_posts_to_the_response_url_at_most_5_times(bot, slack, org):
    add_reports(org["mgr"])
    bot.command("UMGR", "digest preview")
    assert_long_preview_moved_to_dm(slack)

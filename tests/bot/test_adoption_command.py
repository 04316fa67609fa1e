"""`/codex adoption` through signed requests to the real app, answered against the fake
Slack with valid Block Kit; its parsing; and `codexbot adoption` at the command line."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from factories import person, store_usage, usage
from slack_sdk.models.blocks import Block

from bot.cli.commands import cli
from bot.messages import render_answer
from bot.parsing import parse_codex_command
from sync.clock import utc_today
from sync.config import AdoptionSettings
from sync.notices import Notice
from sync.org.access import AccessPolicy, Viewer
from sync.reports.adoption import ADOPTION_SURFACE, AdoptionAnswer, ask_adoption
from sync.reports.periods import Period
from sync.store.models import AccessLog


def answer_text(slack, count: int) -> str:
    answer = slack.wait_for("response_url", count)[-1].params
    return answer["text"] + " " + str(answer.get("blocks", ""))


def test_a_manager_gets_their_lines_adoption(bot, slack, org):
    person("ned@example.com", "Ned None", manager=org["mgr"])  # no Codex account
    bot.command("UMGR", "adoption 7d")
    text = answer_text(slack, 1)
    assert "Codex adoption: your reporting line" in text
    assert "*People in scope*: 3" in text and "an adoption rate of 67%" in text
    # Both others are moderate (every day, 45 credits per 30 days): only Ned is named.
    assert "0 heavy · 2 moderate · 0 light · 1 none" in text
    assert "*Not using Codex*: Ned None" in text and "Remy Report" not in text
    logged = {
        row.target.email
        for row in AccessLog.select().where(
            AccessLog.viewer == org["mgr"].id, AccessLog.surface == ADOPTION_SURFACE
        )
    }
    assert logged == {"ned@example.com"}


def test_a_peer_is_refused_and_org_is_for_admins(bot, slack, org):
    slack.add_user("UPEER", "peer@example.com")
    bot.command("UPEER", "adoption <@UMGR>")
    assert "I can't show Codex stats for that person" in answer_text(slack, 1)
    bot.command("UMGR", "adoption org")
    assert "Only codexbot admins and analysts" in answer_text(slack, 2)
    bot.command("UADMIN", "adoption org 30d")
    text = answer_text(slack, 3)
    # Everyone but Arlo, who left 40 days ago, before the period.
    assert "Codex adoption: the organisation" in text and "*People in scope*: 6" in text


def test_unreadable_adoption_commands_say_how():
    assert parse_codex_command("adoption").days == 7
    assert parse_codex_command("adoption org 90d").everyone
    assert parse_codex_command("adoption team 30d").days == 30
    mention = parse_codex_command("adoption <@U123|max> 30d")
    assert mention.target_user_id == "U123" and not mention.everyone
    for text in ("adoption org team", "adoption org <@U1>", "adoption 12d", "adoption 7d 30d"):
        assert parse_codex_command(text).problem is not None, text
    assert parse_codex_command("adoption org <@U1>").problem == Notice("adoption_usage")


@pytest.fixture
def line(sqlite_db):
    lead = person("lead@example.com", "Lea Lead")
    analyst = person("analyst@example.com", "Nia Analyst", role="analyst")
    members = [person(f"m{n}@example.com", f"Member {n}", manager=lead) for n in range(4)]
    two_days_ago = utc_today() - dt.timedelta(days=2)
    store_usage([usage(f"u-{m.id}", two_days_ago, email=m.email) for m in members])
    return lead, analyst


def test_the_messages_are_valid_block_kit_withheld_or_not(line):
    lead, analyst = line
    period = Period.ending_before(utc_today(), 30)
    for viewer in (lead, analyst):
        answer = ask_adoption(
            Viewer(viewer, viewer.email),
            period,
            AdoptionSettings(),
            AccessPolicy(),
            lambda: lead,
        )
        assert isinstance(answer, AdoptionAnswer)
        (message,) = render_answer(answer)
        for block in message["blocks"]:
            assert Block.parse(block) is not None
            Block.parse(block).validate_json()
        withheld = "fewer than 5 people" in str(message["blocks"]).lower()
        assert withheld is (viewer is analyst)


def test_the_cli_prints_the_answer_and_refuses_as_slack_does(line, tmp_path):
    lead, analyst = line
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'codexbot.db'}", "CODEXBOT_CONFIG": ""}
    runner = CliRunner()
    result = runner.invoke(cli, ["adoption", "--as", "lead@example.com", "--days", "7"], env=env)
    assert result.exit_code == 0, result.output
    assert "Codex adoption of your reporting line" in result.output
    assert "People in scope: 4" in result.output and "Active: 4" in result.output
    result = runner.invoke(cli, ["adoption", "--as", "m0@example.com", "--org"], env=env)
    assert result.exit_code == 1
    assert "Only codexbot admins and analysts" in result.output
    result = runner.invoke(
        cli, ["adoption", "--as", "analyst@example.com", "--manager", "lead@example.com"], env=env
    )
    assert result.exit_code == 0 and "fewer than 5 people" in result.output.lower()


def test_the_home_tab_and_the_digest_end_with_the_lines_adoption(bot, slack, org):
    bot.event({"type": "app_home_opened", "user": "UMGR", "tab": "home"})
    (published,) = slack.wait_for("views.publish")
    view = str(published.params["view"])
    assert "*Adoption of your reporting line*, same days: 2 of 2 people active (100%" in view
    assert "0 heavy · 0 moderate · 2 light · 0 none" in view  # 7 active days of 30
    bot.command("UMGR", "digest preview")
    digest = answer_text(slack, 1)
    assert "*Adoption of your reporting line*, same days: 2 of 2 people active" in digest
    # Short sections name nobody, so they log no adoption views.
    assert AccessLog.select().where(AccessLog.surface == ADOPTION_SURFACE).count() == 0
    slack.add_user("UREP", "rep@example.com")
    bot.event({"type": "app_home_opened", "user": "UREP", "tab": "home"})
    views = slack.wait_for("views.publish", 2)
    assert "Adoption of your reporting line" not in str(views[-1].params["view"])

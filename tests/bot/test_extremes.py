"""Stored extremes never crash a surface: the largest counts the client accepts, a day
whose tokens are all unknown, and a gap in the ledger, asked about through `/codex stats`,
`/codex team`, a DM, the Home tab, a digest preview and the CLI."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from factories import WORKSPACE, person, store_usage, usage

from bot.cli import cli
from sync.clock import utc_today
from sync.codex.rows import CEILINGS
from sync.store.models import SyncedDay


@pytest.fixture
def extremes(slack, sqlite_db):
    today = utc_today()
    boss = person("boss@example.com", "Bea Boss")
    heavy = person("heavy@example.com", "Hal Heavy", manager=boss)
    boss.slack_user_id, heavy.slack_user_id = "UBOSS", "UHEAVY"
    boss.save()
    heavy.save()
    slack.add_user("UBOSS", "boss@example.com")
    slack.add_user("UHEAVY", "heavy@example.com")
    biggest = dict(
        threads=CEILINGS["threads"],
        turns=CEILINGS["turns"],
        credits=CEILINGS["credits"],
        input_tokens=CEILINGS["tokens"],
        output_tokens=CEILINGS["tokens"],
        total_tokens=CEILINGS["tokens"],
    )
    records = [
        usage("u-heavy", today - dt.timedelta(days=n), client, email="heavy@example.com", **biggest)
        for n in range(1, 31)
        for client in ("CODEX_CLI", "CODEX_IDE_VSCODE", "CODEX_WEB", "UNATTRIBUTED")
    ]
    unknown_tokens = dict(input_tokens=None, output_tokens=None, total_tokens=None)
    records.append(usage("u-heavy", today - dt.timedelta(days=31), **unknown_tokens))
    store_usage(records)
    # And a gap: three days no sync ever read.
    gap = [today - dt.timedelta(days=n) for n in (10, 11, 12)]
    SyncedDay.delete().where(SyncedDay.workspace_id == WORKSPACE, SyncedDay.day.in_(gap)).execute()
    return {"boss": boss, "heavy": heavy}


def test_every_surface_answers_extremes_without_crashing(bot, slack, extremes, sqlite_db):
    gap_words = "no data for"
    texts = []
    for user, text in (
        ("UBOSS", "stats <@UHEAVY> 30d"),
        ("UBOSS", "team 30d"),
        ("UBOSS", "digest preview"),
        ("UHEAVY", "stats 90d"),
    ):
        bot.command(user, text)  # one at a time: answers come from a pool, in any order
        texts.append(str(slack.wait_for("response_url", len(texts) + 1)[-1].params))
    assert all("temporarily unavailable" not in text for text in texts)
    assert "Hal Heavy" in texts[0] and "120,000,000,000" in texts[0]  # 30 days x 4 x 1e9
    assert gap_words in texts[0].lower() and gap_words in texts[3].lower()
    assert "Hal Heavy" in texts[1] and "Hal Heavy" in texts[2]

    bot.dm("UHEAVY", "my usage 30d")
    (dm,) = slack.wait_for("chat.postMessage")
    assert "Codex usage for Hal Heavy" in dm.params["text"]
    bot.event({"type": "app_home_opened", "user": "UBOSS", "tab": "home"})
    (home,) = slack.wait_for("views.publish")
    assert "Hal Heavy" in str(home.params["view"])

    env = {"DATABASE_URL": f"sqlite:///{sqlite_db.database}", "CODEXBOT_CONFIG": ""}
    result = CliRunner().invoke(
        cli,
        ["stats", "heavy@example.com", "--as", "boss@example.com", "--days", "90"],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "No data for" in result.output
    assert "Some days' tokens are not published yet" in result.output  # the all-null day

"""Every message codexbot renders is valid Block Kit within Slack's limits."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import person, usage
from slack_sdk.models.blocks import Block

from bot.messages import MESSAGE_BLOCK_LIMIT, render_message, render_view
from sync.ingest.writer import upsert_usage
from sync.reports.answers import team_for
from sync.reports.periods import Period
from sync.reports.queries import stats_answer
from sync.store.models import Employee

TODAY = dt.date(2026, 11, 25)
WEEK = Period.ending_before(TODAY, 7)


def assert_valid(blocks, limit=MESSAGE_BLOCK_LIMIT):
    assert 0 < len(blocks) <= limit
    for block in blocks:
        assert Block.parse(block).to_dict() == block


def test_a_team_of_1200_stays_within_50_blocks_and_says_who_is_cut(sqlite_db):
    boss = person("boss@example.com", "Boss")
    Employee.insert_many(
        [(f"p{i:04d}@example.com", f"Person {i:04d}", boss.id) for i in range(1200)],
        fields=[Employee.email, Employee.name, Employee.manager],
    ).execute()
    upsert_usage(
        [
            usage(
                f"u{i}",
                TODAY - dt.timedelta(days=2),
                email=f"p{i:04d}@example.com",
                credits=float(i),
            )
            for i in range(1200)
        ],
        1,
    )
    team = team_for(boss, WEEK)
    message = render_message("team", team=team)
    assert_valid(message["blocks"])
    text = str(message["blocks"])
    assert "Person 1199" in text  # the busiest come first
    assert "…and 300 more" in text
    assert "1200 people" in message["text"]
    home = render_view("home", answer=stats_answer(boss, WEEK), team=team_for(boss, WEEK, 20))
    assert_valid(home["blocks"], 100)


def test_names_cannot_inject_mentions_or_markup(sqlite_db):
    boss = person("boss@example.com", "Boss")
    person("evil@example.com", "<!channel> & <@U999>", manager=boss)
    message = render_message("team", team=team_for(boss, WEEK))
    assert_valid(message["blocks"])
    text = str(message["blocks"])
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;@U999&gt;" in text


def test_stats_message_is_valid_and_has_a_fallback_text(sqlite_db):
    ada = person("ada@example.com", "Ada")
    upsert_usage([usage("u-ada", TODAY - dt.timedelta(days=1), email="ada@example.com")], 1)
    message = render_message("stats", answer=stats_answer(ada, WEEK))
    assert_valid(message["blocks"])
    assert message["text"].startswith("Codex usage for Ada")
    assert len(message["blocks"][2]["fields"]) == 6


@pytest.mark.parametrize(
    "kind",
    ["refused", "not_in_directory", "no_team", "disconnected", "not_connected", "unavailable"],
)
def test_every_notice_renders(kind):
    message = render_message("notice", kind=kind)
    assert_valid(message["blocks"])
    assert message["text"]


def test_help_and_connect_modal_render():
    assert_valid(render_message("help", problem="I don't know `x`.")["blocks"])
    modal = render_view("connect_modal")
    assert_valid(modal["blocks"], 100)
    assert len(modal["title"]["text"]) <= 24


def test_an_overlong_block_list_is_cut_with_a_note():
    from bot.messages import _within_limit

    blocks = [{"type": "divider"} for _ in range(80)]
    cut = _within_limit(blocks, 50)
    assert len(cut) == 50
    assert cut[-1]["elements"][0]["text"] == "…and 31 more not shown here."

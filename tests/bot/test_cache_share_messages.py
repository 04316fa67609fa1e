"""Cache share where people read it: stats answers, Home, digests, the CLI table and help.
A share is a whole percentage; one whose cached count is unknown reads "unknown", one with
no input "–": never 0%."""

from __future__ import annotations

import datetime as dt

from factories import person, store_usage, usage
from slack_sdk.models.blocks import Block

from bot.messages import MESSAGE_BLOCK_LIMIT, render_message, render_messages, render_view
from bot.rendering import render
from sync.reports.answers import Home, team_for
from sync.reports.digest import compose_digest
from sync.reports.periods import Period
from sync.reports.queries import stats_answer

TODAY = dt.date(2026, 11, 25)
WEEK = Period.ending_before(TODAY, 7)


def assert_valid(blocks, limit=MESSAGE_BLOCK_LIMIT):
    assert 0 < len(blocks) <= limit
    for block in blocks:
        assert Block.parse(block).to_dict() == block


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def _team():
    """Cy caches 60% of her input this week against 30% the week before; Dee's rows were
    stored before cached tokens were kept; Eve used Codex without sending any input."""
    boss = person("boss@example.com", "Boss")
    cy = person("cy@example.com", "Cy", manager=boss)
    dee = person("dee@example.com", "Dee", manager=boss)
    eve = person("eve@example.com", "Eve", manager=boss)
    store_usage(
        [
            usage("u-cy", ago(1), email=cy.email, input_tokens=1000, cached_input_tokens=700),
            usage("u-cy", ago(2), email=cy.email, input_tokens=500, cached_input_tokens=200),
            usage("u-cy", ago(9), email=cy.email, input_tokens=1000, cached_input_tokens=300),
            usage("u-dee", ago(1), email=dee.email, input_tokens=1000, cached_input_tokens=None),
            usage("u-eve", ago(1), email=eve.email, input_tokens=0, cached_input_tokens=0),
        ],
    )
    return boss, cy, dee, eve


def cache_field(message) -> str:
    (field,) = [
        f["text"]
        for block in message["blocks"]
        for f in block.get("fields", [])
        if f["text"].startswith("*Cache share*")
    ]
    return field


def test_stats_and_home_give_cache_share_with_its_change_unknown_or_a_dash(sqlite_db):
    boss, cy, dee, eve = _team()
    shares = {}
    for who in (cy, dee, eve):
        message = render_message("stats", answer=stats_answer(who, WEEK))
        assert_valid(message["blocks"])
        assert len(message["blocks"][2]["fields"]) == 8
        shares[who.name] = cache_field(message)
    assert shares == {
        "Cy": "*Cache share*\n60%   ↑ 100%",  # 900 of 1,500 against 300 of 1,000
        "Dee": "*Cache share*\nunknown   –",
        "Eve": "*Cache share*\n–   –",
    }
    home = render_view("home", home=Home(stats_answer(cy, WEEK), team_for(cy, WEEK), False))
    assert_valid(home["blocks"], 100)
    assert cache_field(home) == "*Cache share*\n60%   ↑ 100%"


def test_a_digest_entry_gives_cache_share_against_the_week_before(sqlite_db):
    boss, *_ = _team()
    digest = compose_digest(boss, TODAY, 7)
    messages = render_messages("digest", digest=digest)
    assert_valid(messages[0]["blocks"])
    lines = {
        text.split("*")[1]: text.split("\n")[0]
        for block in messages[0]["blocks"]
        if block["type"] == "section" and (text := block["text"]["text"]).startswith("*")
    }
    assert " · cache share 60% (↑ 100%) · active 2/7 days" in lines["Cy"]
    assert " · cache share unknown (–) · active 1/7 days" in lines["Dee"]
    assert " · cache share – (–) · active 1/7 days" in lines["Eve"]
    text = render("digest.txt.j2", digest=digest)
    assert "  cache share 60% (↑ 100%)  active 2/7 days" in text
    assert "  cache share unknown (–)  active 1/7 days" in text


def table_row(label: str, now: str, before: str, change: str) -> str:
    return f"{label:<15} {now:>14} {before:>14} {change:>9}"


def test_cli_stats_table_has_cache_share(sqlite_db):
    _, cy, dee, eve = _team()
    rows = render("stats.txt.j2", answer=stats_answer(cy, WEEK)).splitlines()
    assert table_row("Cache share", "60%", "30%", "↑ 100%") in rows
    rows = render("stats.txt.j2", answer=stats_answer(dee, WEEK)).splitlines()
    assert table_row("Cache share", "unknown", "unknown", "–") in rows
    rows = render("stats.txt.j2", answer=stats_answer(eve, WEEK)).splitlines()
    assert table_row("Cache share", "–", "unknown", "–") in rows


def test_help_defines_cache_share_in_one_line():
    help_blocks = render_message("help", problem=None)["blocks"]
    assert_valid(help_blocks)
    (line,) = [
        line
        for line in help_blocks[1]["text"]["text"].split("\n")
        if line.startswith("*Cache share*")
    ]
    assert line.startswith("*Cache share*: cached input tokens over input tokens: ")
    assert "unknown for days stored before" in line

"""Reading what people type: /codex subcommands and the periods in DMs."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.parsing import parse_codex_command, parse_direct_message
from bot.rendering import words

TODAY = dt.date(2026, 11, 25)


@pytest.mark.parametrize(
    ("text", "name", "target", "days", "problem"),
    [
        ("", "help", None, 7, None),
        ("stats", "stats", None, 7, None),
        ("stats <@U123ABC|alice> 30d", "stats", "U123ABC", 30, None),
        ("STATS 90d <@W0ENTERPRISE>", "stats", "W0ENTERPRISE", 90, None),
        ("stats @alice", "stats", None, 7, "`@alice` isn't a period I know: use 7d|30d|90d."),
        (
            "stats <@U1> <@U2>",
            "stats",
            "U1",
            7,
            "Mention one person with @, like `/codex stats @alice 30d`.",
        ),
        ("team 30d", "team", None, 30, None),
        ("team 90d", "team", None, 7, "`90d` isn't a period I know: use 7d|30d."),
        ("connect now", "connect", None, 7, "`/codex connect` takes nothing after it."),
        ("drop table employee;", "help", None, 7, "I don't know `drop`."),
    ],
)
def test_parse_codex_command(text, name, target, days, problem):
    parsed = parse_codex_command(text)
    said = words(parsed.problem) if parsed.problem else None
    assert (parsed.name, parsed.target_user_id, parsed.days, said) == (
        name,
        target,
        days,
        problem,
    )


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("today", TODAY, TODAY),
        ("this week", dt.date(2026, 11, 23), TODAY),
        ("this month", dt.date(2026, 11, 1), TODAY),
        ("30d", dt.date(2026, 10, 26), dt.date(2026, 11, 24)),
        ("my usage", dt.date(2026, 11, 18), dt.date(2026, 11, 24)),
        ("x" * 10_000, dt.date(2026, 11, 18), dt.date(2026, 11, 24)),
    ],
)
def test_dm_periods(text, first, last):
    request = parse_direct_message(text, TODAY)
    assert (request.period.first_day, request.period.last_day) == (first, last)
    assert not request.wants_help

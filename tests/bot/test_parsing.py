"""Reading what people type: /codex subcommands and the periods in DMs."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.parsing import parse_codex_command, parse_direct_message
from bot.rendering import words

TODAY = dt.date(2026, 11, 25)
UNRESOLVED_ALICE = (
    'I couldn\'t tell who "@alice" is: pick them from the @-menu so Slack links them, '
    "or use their email."
)


@pytest.mark.parametrize(
    ("text", "name", "target", "days", "problem"),
    [
        ("", "help", None, 7, None),
        ("stats", "stats", None, 7, None),
        ("stats <@U123ABC|alice> 30d", "stats", "U123ABC", 30, None),
        ("STATS 90d <@W0ENTERPRISE>", "stats", "W0ENTERPRISE", 90, None),
        ("stats @alice", "stats", None, 7, UNRESOLVED_ALICE),
        ("stats 30d @alice", "stats", None, 30, UNRESOLVED_ALICE),
        ("stats bob", "stats", None, 7, "`bob` isn't a period I know: use 7d|30d|90d."),
        (
            "stats <@U1> <@U2>",
            "stats",
            "U1",
            7,
            "Name one person, with @ or by their email, like `/codex stats @alice 30d`.",
        ),
        (
            "stats ada@example.com <@U2>",
            "stats",
            None,
            7,
            "Name one person, with @ or by their email, like `/codex stats @alice 30d`.",
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
    ("text", "target_email", "days"),
    [
        ("stats ada@example.com", "ada@example.com", 7),
        ("stats Ada.Lovelace@Example.COM 30d", "ada.lovelace@example.com", 30),
        # With should_escape on, Slack sends an email it recognises as a mailto link.
        ("stats 90d <mailto:ada@example.com|ada@example.com>", "ada@example.com", 90),
        ("stats <mailto:Ada@Example.com>", "ada@example.com", 7),
    ],
)
def test_stats_names_a_person_by_email(text, target_email, days):
    parsed = parse_codex_command(text)
    assert (parsed.name, parsed.target_email, parsed.target_user_id, parsed.days) == (
        "stats",
        target_email,
        None,
        days,
    )
    assert parsed.problem is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("audit <@U1|bo>", ("audit", None, "U1", None, None, None)),
        ("audit bo@example.com", ("audit", None, None, "bo@example.com", None, None)),
        ("audit @bo", ("audit", None, None, None, None, 'I couldn\'t tell who "@bo" is')),
        ("org", ("org", "overview", None, None, None, None)),
        ("ORG Unmatched", ("org", "unmatched", None, None, None, None)),
        ("org history", ("org", "history", None, None, None, None)),
        (
            "org alias Dev@Old-Domain.com <@U1|bo>",
            ("org", "alias", "U1", None, "dev@old-domain.com", None),
        ),
        (
            "org alias <mailto:dev@old.io|dev@old.io> bo@example.com",
            ("org", "alias", None, "bo@example.com", "dev@old.io", None),
        ),
        (
            "org alias dev@old.io @bo",
            ("org", None, None, None, None, 'I couldn\'t tell who "@bo" is'),
        ),
        (
            "org alias dev-at-old <@U1>",
            ("org", None, None, None, None, "`dev-at-old` isn't an email address"),
        ),
        (
            "org alias <@U1> dev@old.io",
            ("org", None, None, None, None, "Use `/codex org alias CODEX_EMAIL @person`"),
        ),
        ("org alias dev@old.io", ("org", None, None, None, None, "Use `/codex org alias")),
        ("org alias dev@old.io bob", ("org", None, None, None, None, "Use `/codex org alias")),
        ("org history 30d", ("org", None, None, None, None, "`/codex org history` takes nothing")),
        ("org drop", ("org", None, None, None, None, "Use `/codex org`, `/codex org unmatched`")),
    ],
)
def test_parse_audit_and_org(text, expected):
    parsed = parse_codex_command(text)
    said = words(parsed.problem) if parsed.problem else None
    name, action, user_id, target_email, codex_email, problem = expected
    assert (
        parsed.name,
        parsed.action,
        parsed.target_user_id,
        parsed.target_email,
        parsed.codex_email,
    ) == (name, action, user_id, target_email, codex_email)
    assert (said is None) == (problem is None), said
    if problem:
        assert said.startswith(problem), said


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

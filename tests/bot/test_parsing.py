"""Reading what people type: /codex subcommands and the periods in DMs."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.parsing import parse_codex_command, parse_direct_message
from bot.rendering import words
from sync.reports.periods import LocalToday

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
        ("team 90d", "team", None, 90, None),
        ("team <@U1|max> 30d", "team", "U1", 30, None),
        ("team 45d", "team", None, 7, "`45d` isn't a period I know: use 7d|30d|90d."),
        (
            "team 7d 30d",
            "team",
            None,
            7,
            "`/codex team` takes one period and at most one manager, like `/codex team 30d` "
            "or `/codex team @alice 90d` (admins: `/codex team all` for the whole organisation).",
        ),
        ("team @max", "team", None, 7, UNRESOLVED_ALICE.replace("@alice", "@max")),
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


EXPORT_USAGE = "Use `/codex export` for your own usage, `/codex export @person`"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # (whole team, mention, email, days, the problem's first words)
        ("export", (False, None, None, 7, None)),
        ("EXPORT Team 90d", (True, None, None, 90, None)),
        ("export 30d team", (True, None, None, 30, None)),
        ("export <@U1|bo> 30d", (False, "U1", None, 30, None)),
        ("export Bo@Example.com", (False, None, "bo@example.com", 7, None)),
        ("export team <@U1|bo>", (True, "U1", None, 7, EXPORT_USAGE)),
        ("export team team", (True, None, None, 7, EXPORT_USAGE)),
        ("export <@U1> <@U2>", (False, "U1", None, 7, EXPORT_USAGE)),
        ("export 7d 30d", (False, None, None, 7, EXPORT_USAGE)),
        ("export 365d", (False, None, None, 7, "`365d` isn't a period I know: use 7d|30d|90d.")),
        ("export everything", (False, None, None, 7, "`everything` isn't a period I know")),
        ("export @bo", (False, None, None, 7, 'I couldn\'t tell who "@bo" is')),
    ],
)
def test_parse_export(text, expected):
    parsed = parse_codex_command(text)
    said = words(parsed.problem) if parsed.problem else None
    whole_team, user_id, target_email, days, problem = expected
    assert parsed.name == "export"
    assert (parsed.whole_team, parsed.target_user_id, parsed.target_email, parsed.days) == (
        whole_team,
        user_id,
        target_email,
        days,
    )
    assert (said is None) == (problem is None), said
    if problem:
        assert said.startswith(problem), said


TEAM_USAGE = "`/codex team` takes one period and at most one manager"


@pytest.mark.parametrize(
    ("text", "everyone", "days", "problem"),
    [
        ("team all", True, 7, None),
        ("team ALL 90d", True, 90, None),
        ("team 30d all", True, 30, None),
        ("team", False, 7, None),
        ("team all all", True, 7, TEAM_USAGE),
        ("team all <@U1|max>", True, 7, TEAM_USAGE),
        ("export all 90d", True, 90, None),
        ("export all team", True, 7, EXPORT_USAGE),
        ("export all <@U1|bo>", True, 7, EXPORT_USAGE),
        ("stats all", False, 7, "`all` isn't a period I know"),
    ],
)
def test_all_asks_for_the_whole_organisation(text, everyone, days, problem):
    parsed = parse_codex_command(text)
    said = words(parsed.problem) if parsed.problem else None
    assert (parsed.everyone, parsed.days) == (everyone, days)
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
    request = parse_direct_message(text)
    period = request.period(LocalToday(TODAY, TODAY, "UTC"))
    assert (period.first_day, period.last_day) == (first, last)
    assert not request.wants_help

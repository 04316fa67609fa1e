"""What the privacy modes look like: "what can my manager see?" (parsed, answered, rendered),
a team and an organisation summed above the floor, a team-level digest, and the refusals
that say why. Rendered messages are checked with slack_sdk's Block Kit classes."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import person, store_usage, usage
from slack_sdk.models.blocks import Block

from bot.messages import MESSAGE_BLOCK_LIMIT, render_answer, render_message, render_view
from bot.parsing import parse_direct_message
from bot.rendering import render
from sync.clock import utc_today
from sync.org.access import AccessPolicy, Viewer
from sync.org.access_log import record_views
from sync.reports.answers import (
    Home,
    Transparency,
    ask_in_direct_message,
    ask_team,
    team_for,
)
from sync.reports.digest import compose_digest
from sync.reports.exports import ask_export
from sync.reports.periods import Period
from sync.reports.queries import stats_answer
from sync.reports.schedules import OneOnOnePrep
from sync.store.models import ROLE_ANALYST

COUNCIL = AccessPolicy(frozenset({"config.admin@example.com"}), individual_views=False)
OPEN = AccessPolicy(frozenset({"config.admin@example.com"}))


def assert_valid(blocks, limit=MESSAGE_BLOCK_LIMIT):
    assert 0 < len(blocks) <= limit
    for block in blocks:
        assert Block.parse(block).to_dict() == block


@pytest.mark.parametrize(
    ("text", "transparency"),
    [
        ("What can my manager see?", True),
        ("who can see my usage", True),
        ("who can view my stats", True),  # an ability: not the log of past views
        ("Who has access to my data?", True),
        ("privacy", True),
        ("is works council mode on", True),
        ("who viewed my stats", False),  # the access log
        ("can I see my usage this week", False),  # their own stats
        ("what can you do", False),  # help
    ],
)
def test_transparency_words(text, transparency):
    assert parse_direct_message(text).wants_transparency is transparency


@pytest.fixture
def org(sqlite_db):
    today = utc_today()
    ceo = person("ceo@example.com", "Cleo Chief")
    gone = person("gone@example.com", "Gus Gone", manager=ceo, archived_on=today)
    lead = person("lead@example.com", "Lee Lead", manager=gone)
    members = [person(f"m{n}@example.com", f"Member {n}", manager=lead) for n in range(5)]
    analyst = person("analyst@example.com", "Ana Lyst", manager=ceo, role=ROLE_ANALYST)
    admin = person("admin@example.com", "Ada Admin", role="admin")
    everyone = [ceo, gone, lead, *members, analyst, admin]
    store_usage(
        [
            usage(f"codex-{p.id}", today - dt.timedelta(days=d), email=p.email, credits=2.0)
            for p in everyone
            for d in range(1, 4)
        ]
    )
    return {"ceo": ceo, "lead": lead, "members": members, "analyst": analyst, "admin": admin}


def ask_transparency(who, policy):
    return ask_in_direct_message(
        None,
        Viewer(who),
        lambda today: today.last_days(7),
        wants_help=False,
        wants_access_log=False,
        wants_transparency=True,
        admin_emails=policy,
    )


@pytest.mark.parametrize("policy", [OPEN, COUNCIL], ids=["individual views", "works council"])
def test_what_can_my_manager_see(org, policy):
    member = org["members"][0]
    record_views(org["lead"], [member], "slash command")
    answer = ask_transparency(member, policy)
    assert isinstance(answer, Transparency)
    # Nearest first; a manager who has left sees nothing, so is not listed.
    assert [m.name for m in answer.managers] == ["Lee Lead", "Cleo Chief"]
    assert answer.individual_views is policy.individual_views
    assert [a.name for a in answer.admins.employees] == ["Ada Admin"]
    assert answer.admins.emails_outside_directory == ["config.admin@example.com"]
    assert answer.analysts == 1 and answer.floor == 5
    assert [view.viewer_name for view in answer.log.views] == ["Lee Lead"]
    (message,) = render_answer(answer)
    assert_valid(message["blocks"])
    text = str(message["blocks"])
    assert "Lee Lead" in text and "Cleo Chief" in text and "Gus Gone" not in text
    assert "Ada Admin" in text and "config.admin@example.com" in text
    assert "Analysts* (1 person)" in text and "Ana Lyst" not in text
    said = "works-council mode is on for you" in text
    assert said is (not policy.individual_views)
    assert "Lee Lead* · slash command" in text


def test_the_analyst_asking_sees_themself_counted_out(org):
    answer = ask_transparency(org["analyst"], OPEN)
    assert isinstance(answer, Transparency) and answer.analysts == 0
    assert "nobody else has that role" in str(render_answer(answer)[0]["blocks"])


@pytest.mark.parametrize(("size", "shown"), [(4, False), (5, True)])
def test_a_summed_team_renders_in_slack_and_home(sqlite_db, size, shown):
    lead = person("lead@example.com", "Lee Lead")
    for n in range(size):
        person(f"m{n}@example.com", f"Member {n}", manager=lead)
    store_usage([usage(f"u{n}", utc_today(), email=f"m{n}@example.com") for n in range(size)])
    week = Period.ending_before(utc_today(), 7)
    team = team_for(lead, week, policy=COUNCIL)
    message = render_message("team", team=team)
    assert_valid(message["blocks"])
    text = str(message["blocks"]) + message["text"]
    assert "Member" not in text
    assert ("fewer than 5 people" in text) is not shown
    assert f"{size} people's own figures are private here" in text
    home = render_view("home", home=Home(stats_answer(lead, week), team_for(lead, week), False))
    assert_valid(home["blocks"], 100)
    summed = Home(stats_answer(lead, week), team_for(lead, week, 20, policy=COUNCIL), False)
    view = render_view("home", home=summed)
    assert_valid(view["blocks"], 100)
    assert "Member" not in str(view) and "send_chart" not in str(view)  # no chart of sums


def test_a_team_level_digest_renders_in_slack_and_text(org):
    digest = compose_digest(org["lead"], utc_today(), 7, policy=COUNCIL)
    (message,) = render_answer(digest)
    assert_valid(message["blocks"])
    text = str(message["blocks"])
    assert "Your team, summed" in text and "5 people" in text and "Member" not in text
    assert "Nobody reports to you" not in text
    plain = render("digest.txt.j2", digest=digest)
    assert "Your team, summed" in plain and "30 credits" in plain and "Member" not in plain


def test_an_analysts_organisation_renders_without_names(org):
    answer = ask_team(Viewer(org["analyst"]), Period.ending_before(utc_today(), 7), OPEN)
    (message,) = render_answer(answer)
    assert_valid(message["blocks"])
    text = str(message["blocks"])
    assert "Smaller groups, summed" in text
    for name in ("Cleo Chief", "Lee Lead", "Member", "Ada Admin", "Gus Gone"):
        assert name not in text


def test_exports_in_works_council_mode_and_for_analysts(org):
    week = Period.ending_before(utc_today(), 7)
    lead, member = org["lead"], org["members"][0]
    team = ask_export(Viewer(lead), None, week, COUNCIL, whole_team=True)
    assert team.kind == "aggregates_only" and team.params["reason"] == "works_council"
    one = ask_export(Viewer(lead), lambda: member, week, COUNCIL)
    assert one.kind == "aggregates_only"
    own = ask_export(Viewer(member), None, week, COUNCIL)
    assert [p.id for p in own.people] == [member.id]
    analyst = ask_export(Viewer(org["analyst"]), lambda: member, week, OPEN)
    assert analyst.kind == "aggregates_only" and analyst.params["reason"] == "analyst"
    assert len(ask_export(Viewer(lead), None, week, OPEN, whole_team=True).people) == 5
    for refusal in (team, analyst):
        message = render_message("notice", notice=refusal)
        assert_valid(message["blocks"])


def test_a_one_on_one_prep_in_works_council_mode_shows_no_figures(org):
    lead, member = org["lead"], org["members"][0]
    digest = compose_digest(lead, utc_today(), 7, reports=[member], policy=COUNCIL)
    assert digest.entries == [] and digest.team_level is not None
    assert digest.team_level.usage is None  # one person: below the floor
    starts = dt.datetime.combine(utc_today(), dt.time(10), tzinfo=dt.UTC)
    prep = OneOnOnePrep(lead, member, starts, starts - dt.timedelta(hours=1))
    message = render_message("one_on_one_prep", digest=digest, prep=prep)
    assert_valid(message["blocks"])
    text = str(message["blocks"])
    assert "Works-council mode is on for Member 0" in text and "credits" not in text

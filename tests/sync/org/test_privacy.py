"""The privacy policy: works-council mode, the analyst role and the group-size floor, at the
floor's edge (4 and 5 people) and against subtraction ("the team minus one person")."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import person, store_usage, usage

from sync.clock import utc_today
from sync.config import Settings
from sync.notices import Notice
from sync.org.access import AccessPolicy, Viewer, aggregates_only, may_view, policy_of
from sync.org.privacy import GroupFloor, SumCells, individually_visible
from sync.reports.answers import (
    REFUSED,
    OrganisationUsage,
    TeamUsage,
    ask_stats,
    ask_team,
    team_for,
)
from sync.reports.digest import compose_digest
from sync.reports.periods import Period
from sync.store.models import ROLE_ANALYST, ROLES

COUNCIL = AccessPolicy(individual_views=False)
DEPARTMENT = AccessPolicy(aggregate_only_departments=frozenset({"engineering de"}))
OPEN = AccessPolicy()


# --------------------------------------------------------------------------- the floor


def test_the_floor_hides_groups_of_fewer_than_n_hidden_people():
    floor = GroupFloor(5)
    assert floor.hides_hidden(4) and not floor.hides_hidden(5)
    assert not floor.hides_hidden(0)  # a viewer who may see everyone in it
    assert floor.hides(4) and not floor.hides(5)  # the adoption helper's plain form


def cells(chart, hidden, roots=(1,), floor=5):
    return SumCells.of(list(roots), chart, set(hidden), GroupFloor(floor))


def test_a_team_and_its_sub_team_one_person_apart_are_not_both_shown():
    # 1 ── 2 ── 3..7: the viewer (1) may not see 2..7 one by one. Team(2) = 3..7 beside
    # team(1) = 2..7 would give 2's own figures: only the bigger sum is shown.
    chart = {1: [2], 2: [3, 4, 5, 6, 7]}
    made = cells(chart, range(2, 8))
    assert made.shows(range(2, 8)) and not made.shows(range(3, 8))
    assert not made.shows([2])


def test_two_sub_teams_leave_their_heads_to_one_of_them():
    # 1 ─┬─ 2 ── 4..8     all minus team(2) minus team(3) would be {2, 3}: so 2 and 3 join
    #    └─ 3 ── 9..13    the smaller cell, and that sub-team is summed only with them.
    chart = {1: [2, 3], 2: [4, 5, 6, 7, 8], 3: [9, 10, 11, 12, 13]}
    made = cells(chart, range(2, 14))
    assert made.shows(range(2, 14))
    assert made.shows(range(4, 9)) != made.shows(range(9, 14))  # exactly one of them
    assert made.shows([2, 3, *range(4, 9)]) or made.shows([2, 3, *range(9, 14)])


@pytest.mark.parametrize(("size", "shown"), [(4, False), (5, True)])
def test_a_team_at_the_floor(size, shown):
    chart = {1: list(range(2, 2 + size))}
    assert cells(chart, range(2, 2 + size)).shows(range(2, 2 + size)) is shown


def test_visible_people_and_loops():
    # 1 sees 2 (say, outside works-council mode): 2 never counts, nor needs a cell.
    chart = {1: [2, 3, 4, 5, 6, 7]}
    made = cells(chart, [3, 4, 5, 6, 7])
    assert made.shows([2]) and made.shows(range(2, 8)) and not made.shows([2, 3])
    # 8 and 9 manage each other (a loop no root reaches): still hidden, in a cell.
    looped = cells({1: [2, 3, 4], 8: [9], 9: [8]}, [2, 3, 4, 8, 9])
    assert not looped.shows([8, 9]) and looped.shows([2, 3, 4, 8, 9])


def test_the_policy_is_read_from_settings_once_and_goes_where_admin_emails_went():
    settings = Settings()
    settings.slack.admin_emails = [" Boss@Example.com "]
    settings.privacy.individual_views = False
    settings.privacy.aggregate_only_departments = ["Engineering  DE"]
    settings.privacy.min_group_size = 7
    policy = AccessPolicy.from_settings(settings)
    assert "boss@example.com" in policy and list(policy) == ["boss@example.com"]
    assert policy.works_council and policy.min_group_size == 7
    assert policy.aggregate_only_departments == frozenset({"engineering de"})
    assert policy_of(["a@example.com"]).individual_views  # plain emails: the default policy
    assert ROLE_ANALYST in ROLES  # the org CSV and SCIM accept it


# --------------------------------------------------------------------------- the org


def build_team(size: int, today: dt.date, *, department: str | None = None):
    """boss ── lead ── `size` people; an analyst and a peer elsewhere; an admin."""
    ceo = person("ceo@example.com", "Cleo Chief")
    boss = person("boss@example.com", "Bo Skip", manager=ceo)
    lead = person("lead@example.com", "Lee Lead", manager=boss)
    members = [
        person(f"m{n}@example.com", f"Member {chr(65 + n)}", manager=lead) for n in range(size)
    ]
    for member in members:
        member.department = department
        member.save()
    peer = person("peer@example.com", "Pia Peer", manager=boss)
    analyst = person("analyst@example.com", "Ana Lyst", manager=ceo, role=ROLE_ANALYST)
    admin = person("admin@example.com", "Ada Admin", role="admin")
    everyone = [ceo, boss, lead, *members, peer, analyst, admin]
    store_usage(
        [
            usage(f"codex-{p.id}", today - dt.timedelta(days=d), email=p.email, credits=p.id)
            for p in everyone
            for d in range(1, 4)
        ]
    )
    return {
        "ceo": ceo,
        "boss": boss,
        "lead": lead,
        "members": members,
        "peer": peer,
        "analyst": analyst,
        "admin": admin,
    }


@pytest.fixture
def team5(db):
    return build_team(5, utc_today())


def period() -> Period:
    return Period.ending_before(utc_today(), 30)


def test_who_sees_one_person_in_each_mode(team5):
    member, lead, boss = team5["members"][0], team5["lead"], team5["boss"]
    analyst, admin, peer = team5["analyst"], team5["admin"], team5["peer"]
    for policy, managers_see in ((OPEN, True), (COUNCIL, False)):
        assert may_view(member, member, policy)  # self, in every mode
        assert may_view(admin, member, policy)  # admins, in every mode
        assert may_view(lead, member, policy) is managers_see
        assert may_view(boss, member, policy) is managers_see  # skip-level
        assert not may_view(peer, member, policy)
        assert not may_view(analyst, member, policy)
        assert may_view(analyst, analyst, policy)
        # The refusal says why only to those the mode refuses.
        assert aggregates_only(lead, member, policy) is not managers_see
        assert aggregates_only(analyst, member, policy)
        assert not aggregates_only(peer, member, policy)


def test_works_council_mode_by_department_covers_that_department_only(db):
    today = utc_today()
    team = build_team(2, today)
    german, other = team["members"]
    german.department = "Engineering DE"
    german.save()
    assert not may_view(team["lead"], german, DEPARTMENT)
    assert may_view(team["lead"], other, DEPARTMENT)
    assert individually_visible(team["lead"], team["members"], DEPARTMENT) == {other.id}


def test_individually_visible_is_may_view_for_everyone(team5):
    everyone = [team5[k] for k in ("ceo", "boss", "lead", "peer", "analyst", "admin")]
    everyone += team5["members"]
    for policy in (OPEN, COUNCIL, DEPARTMENT):
        for viewer in everyone:
            expected = {t.id for t in everyone if may_view(viewer, t, policy)}
            assert individually_visible(viewer, everyone, policy) == expected


def test_a_stats_refusal_says_why_only_when_the_mode_refused(team5):
    member = team5["members"][0]

    def ask(viewer, target):
        return ask_stats(Viewer(viewer), lambda: target, lambda t: t.last_days(7), COUNCIL, "t")

    council = ask(team5["lead"], member)
    assert isinstance(council, Notice) and council.kind == "aggregates_only"
    assert council.params["reason"] == "works_council"
    assert ask(team5["peer"], member) == REFUSED  # never tells a peer anything
    analyst = ask(team5["analyst"], None)  # nobody found: the same words as anybody
    assert isinstance(analyst, Notice) and analyst.params["reason"] == "analyst"


# --------------------------------------------------------------------------- team views


@pytest.mark.parametrize(("size", "shown"), [(4, False), (5, True)])
def test_a_managers_team_in_works_council_mode_is_summed_above_the_floor(db, size, shown):
    team = build_team(size, utc_today())
    members = team["members"]
    answer = team_for(team["lead"], period(), policy=COUNCIL)
    assert isinstance(answer, TeamUsage)
    assert answer.rows == [] and answer.members == ()  # nobody one by one
    assert answer.aggregate_only == answer.size == len(members)
    if shown:
        expected = sum(3.0 * m.id for m in members)
        assert answer.floor is None and answer.total_credits == expected
        assert answer.active_people == len(members)
    else:
        assert answer.floor == 5 and answer.total_credits == 0 and answer.active_people == 0
    # With individual views on, the same manager sees each of them.
    assert len(team_for(team["lead"], period(), policy=OPEN).rows) == len(members)


@pytest.mark.parametrize(("size", "shown"), [(5, False), (6, True)])
def test_the_team_minus_one_visible_person_is_not_the_others_total(db, size, shown):
    """One member outside the works-council department is listed with their figures; the
    team total beside them would give the others' sum by subtraction, so it is shown only
    when those others are at least the floor."""
    team = build_team(size, utc_today(), department="Engineering DE")
    visible = team["members"][0]
    visible.department = "Sales"
    visible.save()
    answer = team_for(team["lead"], period(), policy=DEPARTMENT)
    assert [row.employee.id for row in answer.rows] == [visible.id]
    assert answer.aggregate_only == size - 1
    assert (answer.floor is None) is shown
    if not shown:
        assert answer.total_credits == 0  # total minus the visible row would be the 4


def test_a_skip_level_gets_their_team_summed_but_not_the_team_minus_one(team5):
    """boss ─┬─ lead ── 5 members    in works-council mode. The boss's team (7) is shown;
             └─ peer                 the lead's (5) beside it would give lead and peer's
    sum (2 people) by subtraction: refused as below the floor."""
    boss, lead = team5["boss"], team5["lead"]
    own = ask_team(Viewer(boss), period(), COUNCIL)
    assert isinstance(own, TeamUsage) and own.rows == [] and own.floor is None
    assert own.total_credits == sum(3.0 * p.id for p in [lead, team5["peer"], *team5["members"]])
    sub = ask_team(Viewer(boss), period(), COUNCIL, lambda: lead)
    assert isinstance(sub, TeamUsage) and sub.floor == 5 and sub.total_credits == 0
    # The lead themself sees their own team's sum: for them, it is no difference.
    assert team_for(lead, period(), policy=COUNCIL).floor is None
    # An analyst too may see the lead's team (5 people, a cell of their own) but not the
    # boss's (7: with ceo and admin at the top it would leave 2 by subtraction).
    analyst = Viewer(team5["analyst"])
    assert ask_team(analyst, period(), OPEN, lambda: lead).floor is None
    assert ask_team(analyst, period(), OPEN, lambda: boss).floor == 5
    peer = ask_team(Viewer(team5["peer"]), period(), COUNCIL, lambda: lead)
    assert peer == REFUSED


# --------------------------------------------------------------------------- digests


@pytest.mark.parametrize(("size", "shown"), [(4, False), (5, True)])
def test_a_works_council_digest_is_one_team_section_above_the_floor(db, size, shown):
    team = build_team(size, utc_today())
    digest = compose_digest(team["lead"], utc_today(), 7, policy=COUNCIL)
    assert digest.entries == []
    level = digest.team_level
    assert level is not None and level.people == len(team["members"])
    assert (level.usage is not None) is shown
    if shown:
        assert level.usage.credits == sum(3.0 * m.id for m in team["members"])
    # A skip-level's digest: the lead's entry would be their own figures: summed instead.
    skip = compose_digest(team["boss"], utc_today(), 7, policy=COUNCIL)
    assert skip.entries == [] and skip.team_level is not None
    assert skip.team_level.people == len(team["members"]) + 2  # lead, members, peer
    assert compose_digest(team["lead"], utc_today(), 7, policy=OPEN).team_level is None


# --------------------------------------------------------------------------- analysts


def test_an_analysts_organisation_hides_small_branches_and_small_remainders(team5):
    answer = ask_team(Viewer(team5["analyst"]), period(), OPEN, everyone=True)
    assert isinstance(answer, OrganisationUsage) and answer.floor is None
    # At the top: ceo and admin (2). Below: the boss's branch of 8, the analyst alone (their
    # own figures). Beside the whole (10 people hidden from the analyst), the boss's 8
    # would leave ceo and admin by subtraction: so the branch joins the smaller groups.
    assert [b.head.id for b in answer.branches] == [team5["analyst"].id]
    assert answer.top == []
    assert answer.others is not None and answer.others.people == 10
    assert answer.size == 11 and answer.total_credits > answer.others.credits > 0


def test_an_analyst_of_a_tiny_organisation_sees_nothing_but_the_floor(db):
    ceo = person("ceo@example.com", "Cleo Chief")
    for n in range(3):
        person(f"p{n}@example.com", manager=ceo)
    analyst = person("analyst@example.com", manager=ceo, role=ROLE_ANALYST)
    answer = ask_team(Viewer(analyst), period(), OPEN, everyone=True)
    assert isinstance(answer, OrganisationUsage)
    assert answer.floor == 5 and answer.branches == [] and answer.total_credits == 0


def test_an_analysts_own_team_view_and_non_admins_org_view(team5):
    # An analyst with nobody below them gets the organisation, above the floor.
    assert isinstance(ask_team(Viewer(team5["analyst"]), period(), OPEN), OrganisationUsage)
    refused = ask_team(Viewer(team5["lead"]), period(), OPEN, everyone=True)
    assert isinstance(refused, Notice) and refused.kind == "admins_only"

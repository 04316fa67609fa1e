"""The organisation view an admin's `/codex team` shows, and who gets which team view:
each branch sums exactly its people, the top is counted once, leavers' history counts as
team views count it, and `@manager` follows the access policy."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import person, store_usage, usage

from sync.clock import utc_today
from sync.notices import Notice
from sync.org.access import Viewer
from sync.org.chart import reporting_chain
from sync.reports.answers import NOT_IN_DIRECTORY, REFUSED, TeamUsage, ask_team
from sync.reports.organisation import OrganisationUsage, organisation_usage
from sync.reports.periods import Period
from sync.reports.queries import stats_answers
from sync.store.models import AccessLog, Employee

ADMINS_ONLY = Notice("admins_only", {"action": "organisation"})


def ago(days: int) -> dt.date:
    return utc_today() - dt.timedelta(days=days)


@pytest.fixture
def org(db):
    person("admin@example.com", "Ada Admin", role="admin")
    ceo = person("ceo@example.com", "Cleo Chief")
    founder = person("founder@example.com", "Fay Founder")
    founder.manager = founder  # managing oneself, as some HR exports say of the top
    founder.save()
    mgr = person("mgr@example.com", "Max Manager", manager=ceo)
    rep = person("rep@example.com", "Remy Report", manager=mgr)
    person("deep@example.com", "Dee Deep", manager=rep)
    person("peer@example.com", "Pia Peer", manager=mgr)
    person("left@example.com", "Arlo Left", manager=mgr, archived_on=ago(5))
    other = person("other@example.com", "Sol Other", manager=ceo)
    person("tia@example.com", "Tia Other", manager=other)
    person("solo@example.com", "Solo Sam", manager=ceo)
    gone = person("gone@example.com", "Gus Gone", manager=founder, archived_on=ago(3))
    person("orphan@example.com", "Olly Orphan", manager=gone)
    person("idle@example.com", "Ida Idle", manager=other)  # never used Codex
    records = []
    for n, employee in enumerate(Employee.select().order_by(Employee.id)):
        if employee.email == "idle@example.com":
            continue
        for offset in (1, 2, 4, 9, 20, 45):
            records.append(
                usage(f"u-{n}", ago(offset), credits=0.5 + n, email=employee.email, turns=n)
            )
        records.append(usage(f"u-{n}", ago(1), "CODEX_WEB", credits=0.25))
    store_usage(records)
    return {e.email.split("@")[0]: e for e in Employee.select()}


def credits(answers, people) -> float:
    return round(sum(answers[p.id].current.totals.credits for p in people), 6)


@pytest.mark.parametrize("days", [7, 30, 90])
def test_each_branch_is_exactly_its_head_and_everyone_below(org, days):
    period = Period.ending_before(utc_today(), days)
    organisation = organisation_usage(period)
    everyone = list(Employee.select())
    answers = stats_answers(everyone, period)
    heads = {branch.head.email: branch for branch in organisation.branches}
    assert set(heads) == {f"{k}@example.com" for k in ("mgr", "other", "solo", "gone")}
    for branch in organisation.branches:
        people = [branch.head, *reporting_chain(branch.head)]
        assert branch.usage.people == len(people)
        assert branch.usage.credits == pytest.approx(credits(answers, people))
        assert branch.usage.previous_credits == pytest.approx(
            sum(answers[p.id].previous.totals.credits for p in people)
        )
        assert branch.usage.active_people == sum(
            1 for p in people if answers[p.id].current.active_days
        )
    top = [org["admin"], org["ceo"], org["founder"]]
    assert organisation.top == top  # by name: Ada, Cleo, Fay
    assert organisation.top_usage.people == 3
    assert organisation.top_usage.credits == pytest.approx(credits(answers, top))
    # Every person once: the lines add up to the directory.
    assert organisation.size == len(everyone) == 14
    assert organisation.total_credits == pytest.approx(credits(answers, everyone))
    assert organisation.active_people == sum(1 for a in answers.values() if a.current.active_days)


def test_branches_by_credits_with_leavers_history_and_mark(org):
    organisation = organisation_usage(Period.ending_before(utc_today(), 30))
    shown = [branch.usage.credits for branch in organisation.branches]
    assert shown == sorted(shown, reverse=True)
    gone = next(b for b in organisation.branches if b.head.email == "gone@example.com")
    assert gone.left_on == ago(3)
    # Gus left 3 days ago: his days up to then count, his later ones are nobody's.
    answers = stats_answers([org["gone"], org["orphan"]], Period.ending_before(utc_today(), 30))
    assert gone.usage.credits == pytest.approx(credits(answers, [org["gone"], org["orphan"]]))
    assert answers[org["gone"].id].current.by_surface.get("Codex in ChatGPT") is None
    assert all(b.left_on is None for b in organisation.branches if b is not gone)


def test_a_long_organisation_is_cut_but_its_totals_are_not(org):
    period = Period.ending_before(utc_today(), 30)
    whole = organisation_usage(period)
    cut = organisation_usage(period, shown=2)
    assert cut.branches == whole.branches[:2] and cut.hidden == 2
    assert (cut.size, cut.total_credits) == (whole.size, whole.total_credits)


def team(org, viewer, days=30, manager=None, admin_emails=(), **kwargs):
    find = None if manager is None else (lambda: org.get(manager))
    return ask_team(
        Viewer(org[viewer]), Period.ending_before(utc_today(), days), admin_emails, find, **kwargs
    )


def test_an_admin_without_a_team_gets_the_organisation_and_the_heads_are_logged(org):
    answer = team(org, "admin", 90)
    assert isinstance(answer, OrganisationUsage) and answer.period.days == 90
    logged = {(r.target.email, r.surface) for r in AccessLog.select()}
    names = {f"{k}@example.com" for k in ("mgr", "other", "solo", "gone", "ceo", "founder")}
    assert logged == {(email, "team") for email in names}  # not the admin themself


def test_an_admin_with_a_team_gets_it_and_asks_for_all_to_see_the_organisation(org):
    ceo_admin = ["ceo@example.com"]
    own = team(org, "ceo", admin_emails=ceo_admin)
    assert isinstance(own, TeamUsage) and own.manager is None
    assert own.size == 9  # everyone below the CEO, leavers included
    everyone = team(org, "ceo", admin_emails=ceo_admin, everyone=True)
    assert isinstance(everyone, OrganisationUsage) and everyone.size == 14


@pytest.mark.parametrize("viewer", ["mgr", "rep", "ceo"])
def test_all_is_for_admins_only(org, viewer):
    assert team(org, viewer, everyone=True) == ADMINS_ONLY
    assert AccessLog.select().count() == 0


@pytest.mark.parametrize(
    ("viewer", "manager", "expected"),
    [
        ("ceo", "mgr", {"rep", "deep", "peer", "left"}),  # a manager within their line
        ("mgr", "rep", {"deep"}),
        ("admin", "other", {"tia", "idle"}),  # admins: anyone's
        ("admin", "gone", {"orphan"}),  # even a leaver's, whose people still report to them
        ("mgr", "mgr", {"rep", "deep", "peer", "left"}),  # naming oneself: one's own team
    ],
)
def test_team_of_a_named_manager(org, viewer, manager, expected):
    answer = team(org, viewer, manager=manager)
    assert isinstance(answer, TeamUsage)
    assert {row.employee.email.split("@")[0] for row in answer.rows} == expected
    assert answer.manager == (None if viewer == manager else org[manager])
    logged = {r.target.email.split("@")[0] for r in AccessLog.select()}
    assert logged == expected


@pytest.mark.parametrize(
    ("viewer", "manager"),
    [
        ("mgr", "other"),  # the manager of another line
        ("peer", "mgr"),  # one's own manager
        ("rep", "peer"),  # a peer
        ("other", "rep"),
        ("mgr", "nobody"),  # nobody of that name: the same words
        ("left", "left"),  # who has left sees nothing
    ],
)
def test_a_manager_one_may_not_view_is_refused_like_a_stats_mention(org, viewer, manager):
    assert team(org, viewer, manager=manager) == REFUSED
    assert AccessLog.select().count() == 0


def test_a_named_person_without_reports_has_no_team(org):
    assert team(org, "mgr", manager="peer") == Notice("no_team_of", {"name": "Pia Peer"})
    assert team(org, "peer") == Notice("no_team")
    assert ask_team(Viewer(None), Period.ending_before(utc_today(), 7)) == NOT_IN_DIRECTORY

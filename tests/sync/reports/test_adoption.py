"""Adoption of a reporting line or the organisation (sync/reports/adoption.py): its figures
equal plain SQL over the stored rows on both engines, cohorts and idle seats turn at
their thresholds, who may ask for which scope, the group-size floor at 4 and 5 people,
and names only for viewers who may see each person."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from factories import WORKSPACE, person, store_usage, usage
from freezegun import freeze_time

from sync.config import AdoptionSettings, RetentionSettings
from sync.notices import Notice
from sync.org.access import AccessPolicy, Viewer
from sync.reports.adoption import AdoptionAnswer, ask_adoption, cohort_of
from sync.reports.adoption_rollups import Bounds, Window, compute, rolled_up, store, warm
from sync.reports.periods import Period
from sync.store.models import (
    AccessLog,
    AdoptionRollup,
    AdoptionRollupLine,
    EmailAlias,
    Employee,
)
from sync.store.retention import apply_retention
from sync.store.workspaces import forget_workspace

TODAY = dt.date(2026, 6, 15)
SETTINGS = AdoptionSettings()
POLICY = AccessPolicy()


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


@pytest.fixture
def frozen():
    with freeze_time("2026-06-15 12:00:00"):
        yield


@pytest.fixture
def org(db, frozen):
    """Max's line: a heavy user, a moderate one, a light one, someone with an account and
    no use, a new adopter, a lapsed one, a leaver, someone with two accounts, someone
    without an account, and a manager below Max with her own report."""
    admin = person("admin@example.com", "Ada Admin", role="admin")
    analyst = person("analyst@example.com", "Nia Analyst", role="analyst")
    ceo = person("ceo@example.com", "Cleo Chief")
    max_ = person("max@example.com", "Max Manager", manager=ceo)
    pia = person("pia@example.com", "Pia Peer", manager=ceo)
    ana = person("ana@example.com", "Ana Heavy", manager=max_)
    people = {
        "admin": admin,
        "analyst": analyst,
        "ceo": ceo,
        "max": max_,
        "pia": pia,
        "ana": ana,
        "ben": person("ben@example.com", "Ben Moderate", manager=max_),
        "cat": person("cat@example.com", "Cat Light", manager=max_),
        "dan": person("dan@example.com", "Dan Idle", manager=max_),
        "eve": person("eve@example.com", "Eve New", manager=max_),
        "fay": person("fay@example.com", "Fay Lapsed", manager=max_),
        "gus": person("gus@example.com", "Gus Gone", manager=max_, archived_on=ago(10)),
        "hal": person("hal@example.com", "Hal Twice", manager=max_),
        "ida": person("ida@example.com", "Ida Nobody", manager=max_),
        "ken": person("ken@example.com", "Ken Below", manager=ana),
    }
    EmailAlias.create(codex_email="hal.old@example.com", employee=people["hal"])
    records = []
    for n in range(1, 31):  # every day of the last 30
        records.append(usage("u-ana", ago(n), email="ana@example.com", credits=5.0, turns=6))
        records.append(usage("u-ana", ago(n), "CODEX_IDE_VSCODE", credits=0.5, threads=0, turns=0))
    for n in range(1, 11):
        records.append(usage("u-ben", ago(n), email="ben@example.com", credits=2.0))
    records.append(usage("u-cat", ago(3), email="cat@example.com", credits=1.0))
    # Dan's account is known (a zero row long ago) but unused.
    records.append(
        usage("u-dan", ago(80), email="dan@example.com", threads=0, turns=0, credits=0.0)
    )
    for n in (2, 4, 6):
        records.append(usage("u-eve", ago(n), "CODEX_WEB", email="eve@example.com"))
    for n in (35, 40, 45):
        records.append(usage("u-fay", ago(n), email="fay@example.com", credits=3.0))
    for n in range(5, 21):  # some days after Gus left: nobody's
        records.append(usage("u-gus", ago(n), email="gus@example.com", credits=1.5))
    for n in range(1, 8):  # both of Hal's accounts on the same days
        records.append(usage("u-hal", ago(n), email="hal@example.com", credits=1.0))
        records.append(usage("u-hal2", ago(n), email="hal.old@example.com", credits=1.0))
    for n in (1, 40):
        records.append(usage("u-ken", ago(n), "CODEX_GITHUB", email="ken@example.com"))
    # Someone nobody in the directory owns: in no scope.
    records.append(usage("u-stranger", ago(1), email="stranger@example.com", credits=99.0))
    store_usage(records)
    return people


def ask(viewer: Employee, days=30, manager: Employee | None = None, *, org=False, policy=POLICY):
    return ask_adoption(
        Viewer(viewer, viewer.email),
        Period.ending_before(TODAY, days),
        SETTINGS,
        policy,
        (lambda: manager) if manager is not None else None,
        whole_organisation=org,
    )


def elsewhere(count: int) -> None:
    """People in another branch of the organisation."""
    head = person("head@example.com", "Hugo Head")
    for n in range(count - 1):
        person(f"x{n}@example.com", f"X {n}", manager=head)


def _sql(db, text: str, params: list) -> list[tuple]:
    return list(db.execute_sql(text.replace("?", db.param), params).fetchall())


ATTRIBUTED = """
    FROM daily_usage d
    JOIN codex_user c ON c.user_id = d.codex_user_id
    LEFT JOIN employee by_email ON by_email.email = c.email
    LEFT JOIN email_alias a ON a.codex_email = c.email
    JOIN employee e ON e.id = COALESCE(by_email.id, a.employee_id)
    WHERE d.day BETWEEN ? AND ? {workspace}
      AND (e.archived_on IS NULL OR d.day <= e.archived_on)
      AND e.id IN (SELECT id FROM employee WHERE {scope})
"""


def sql_figures(db, period: Period, scope: str, workspace: str | None = None) -> dict:
    """The figures an adoption answer gives, by hand-written SQL over the stored rows (of
    `workspace` only, if given)."""
    attributed = ATTRIBUTED.format(
        scope=scope, workspace="" if workspace is None else f"AND d.workspace_id = '{workspace}'"
    )
    days = [period.first_day, period.last_day]
    active = "(d.threads > 0 OR d.turns > 0 OR d.credits > 0)"
    (people,) = _sql(
        db,
        f"SELECT COUNT(*) FROM employee WHERE ({scope}) "
        "AND (archived_on IS NULL OR archived_on >= ?)",
        [period.first_day],
    )[0]
    (active_people, person_days) = _sql(
        db,
        "SELECT COUNT(DISTINCT id), COUNT(*) FROM (SELECT DISTINCT e.id AS id, d.day AS day "
        + attributed
        + f" AND {active}) AS active_days",
        days,
    )[0]
    credits, threads, turns = _sql(
        db,
        "SELECT SUM(d.credits), SUM(d.threads), SUM(d.turns)" + attributed,
        days,
    )[0]
    by_client = _sql(
        db,
        "SELECT d.client_id, SUM(d.credits)" + attributed + " GROUP BY d.client_id",
        days,
    )
    return {
        "people": people,
        "active": active_people,
        "person_days": person_days,
        "credits": round(float(credits or 0), 6),
        "threads": int(threads or 0),
        "turns": int(turns or 0),
        "clients": {client: round(float(c), 6) for client, c in by_client},
    }


@pytest.mark.parametrize("days", [7, 30, 90])
def test_the_figures_equal_sql_over_the_stored_rows(db, org, days):
    answer = ask(org["max"], days)
    assert isinstance(answer, AdoptionAnswer)
    below_max = "id IN ({})".format(
        ",".join(str(org[k].id) for k in "ana ben cat dan eve fay gus hal ida ken".split())
    )
    for figures, period in (
        (answer.current, answer.period),
        (answer.previous, answer.period.previous),
    ):
        expected = sql_figures(db, period, below_max)
        assert figures.people == expected["people"]
        assert figures.active == expected["active"]
        assert figures.active_person_days == expected["person_days"]
        assert figures.credits == pytest.approx(expected["credits"])
        assert (figures.threads, figures.turns) == (expected["threads"], expected["turns"])
        assert sum(figures.credits_by_surface.values()) == pytest.approx(expected["credits"])
    org_answer = ask(org["admin"], days, org=True)
    assert isinstance(org_answer, AdoptionAnswer)
    everyone = sql_figures(db, org_answer.period, "1 = 1")
    assert (org_answer.current.people, org_answer.current.active) == (
        everyone["people"],
        everyone["active"],
    )
    assert org_answer.current.credits == pytest.approx(everyone["credits"])
    assert org_answer.current.active_person_days == everyone["person_days"]


def test_cohorts_new_lapsed_idle_and_depth_of_a_line(db, org):
    answer = ask(org["max"], 30)
    assert isinstance(answer, AdoptionAnswer)
    now = answer.current
    # ana heavy; ben and gus (11 days to his last) moderate; cat, eve, hal, ken light;
    # dan, fay, ida none.
    assert now.cohorts == {"none": 3, "light": 4, "moderate": 2, "heavy": 1}
    assert (now.people, now.active) == (10, 7)
    assert now.adoption_rate == pytest.approx(0.7)
    assert now.recent_active == 6  # gus left 10 days ago: his last 7 days are nobody's
    # New: everyone active now but ken (also active 40 days ago); lapsed: fay.
    assert (answer.new_adopters, answer.lapsed) == (6, 1)
    # An account and no use in 30 days: dan and fay (ida has no account, gus has left).
    assert answer.idle_seats == 2
    assert {p.email for p in answer.named["idle"].people} == {"dan@example.com", "fay@example.com"}
    assert [p.email for p in answer.named["heavy"].people] == ["ana@example.com"]
    hal_days = 7  # two accounts on the same days count once
    gus_days = 11  # 20 to 10 days ago: none after his last day
    assert now.active_person_days == 30 + 10 + 1 + 3 + gus_days + hal_days + 1
    assert now.turn_depth == pytest.approx(now.turns / now.threads)
    assert set(now.credits_by_surface) == {"CLI", "IDE", "Codex in ChatGPT", "GitHub"}


def test_cohort_boundaries():
    settings = AdoptionSettings(
        moderate_active_day_share=0.25,
        moderate_credits=10,
        heavy_active_day_share=0.6,
        heavy_credits=100,
    )
    assert cohort_of(0, 500.0, 30, settings) == "none"
    assert cohort_of(1, 0.0, 30, settings) == "light"
    assert cohort_of(7, 100.0, 30, settings) == "light"  # 7/30 of the days: under a quarter
    assert cohort_of(8, 9.99, 32, settings) == "light"  # a quarter of the days, too few credits
    assert cohort_of(8, 10.0 * 32 / 30, 32, settings) == "moderate"
    assert cohort_of(18, 99.0, 30, settings) == "moderate"
    assert cohort_of(18, 100.0, 30, settings) == "heavy"
    assert cohort_of(17, 1000.0, 30, settings) == "moderate"  # 17/30 < 0.6
    # Credits are per 30 days: a week needs 7/30 of them.
    assert cohort_of(5, 100.0 * 7 / 30, 7, settings) == "heavy"


def test_an_idle_seat_turns_idle_after_idle_days(db):
    with freeze_time("2026-06-15 12:00:00"):
        max_ = person("max@example.com", "Max Manager")
        zoe = person("zoe@example.com", "Zoe", manager=max_)
        store_usage([usage("u-zoe", ago(30), email=zoe.email)])  # the 30th day back: in
        answer = ask(max_, 7)
        assert isinstance(answer, AdoptionAnswer)
        assert answer.idle_seats == 0
    with freeze_time("2026-06-16 12:00:00"):  # a day later, the 31st day back: idle
        answer = ask_adoption(
            Viewer(max_, max_.email),
            Period.ending_before(TODAY + dt.timedelta(days=1), 7),
            SETTINGS,
            POLICY,
        )
        assert isinstance(answer, AdoptionAnswer)
        assert answer.idle_seats == 1
        assert [p.email for p in answer.named["idle"].people] == ["zoe@example.com"]


def test_who_may_ask_for_which_scope(db, org):
    refused = Notice("refused")
    assert ask(org["pia"], manager=org["max"]) == refused  # a peer
    assert ask(org["ana"], manager=org["max"]) == refused  # one's own manager
    assert ask(org["max"], manager=org["pia"]) == refused  # another branch
    below = ask(org["max"], manager=org["ana"])  # a manager below
    assert isinstance(below, AdoptionAnswer) and below.current.people == 1
    assert below.manager == org["ana"]
    assert ask(org["max"], org=True) == Notice("organisation_adoption_refused")
    assert ask(org["pia"]) == Notice("no_team")
    whole = ask(org["admin"], org=True)
    assert isinstance(whole, AdoptionAnswer) and whole.scope == "org"
    assert (
        whole.current.people
        == Employee.select()
        .where(Employee.archived_on.is_null() | (Employee.archived_on >= ago(30)))
        .count()
    )
    assert isinstance(ask(org["admin"], manager=org["max"]), AdoptionAnswer)
    # An admin nobody reports to: plain `adoption` is the organisation.
    assert ask(org["admin"]).scope == "org"


def test_analysts_get_aggregates_without_names(db, org):
    whole = ask(org["analyst"], org=True)
    assert isinstance(whole, AdoptionAnswer) and whole.withheld_below is None
    assert whole.named == {} and whole.idle_seats == 2
    line = ask(org["analyst"], manager=org["max"])
    assert isinstance(line, AdoptionAnswer) and line.named == {}
    assert AccessLog.select().where(AccessLog.viewer == org["analyst"].id).count() == 0


def test_named_people_are_logged_as_viewed(db, org):
    answer = ask(org["max"])
    assert isinstance(answer, AdoptionAnswer)
    logged = {
        (row.target.email, row.surface)
        for row in AccessLog.select().where(AccessLog.viewer == org["max"].id)
    }
    assert logged == {(p.email, "adoption") for p in answer.named_people}
    assert ("dan@example.com", "adoption") in logged


@pytest.mark.parametrize("size, withheld", [(4, True), (5, False)])
def test_the_floor_at_4_and_5_people(db, frozen, size, withheld):
    lead = person("lead@example.com", "Lea Lead")
    analyst = person("analyst@example.com", "Nia Analyst", role="analyst")
    members = [person(f"m{n}@example.com", f"Member {n}", manager=lead) for n in range(size)]
    elsewhere(5)  # so that the organisation minus the line is no small group either
    store_usage([usage(f"u-{m.id}", ago(2), email=m.email) for m in members])
    for viewer, policy in (
        (analyst, POLICY),
        (lead, AccessPolicy(individual_views=False)),  # works-council mode
    ):
        answer = ask(viewer, manager=lead, policy=policy)
        assert isinstance(answer, AdoptionAnswer)
        assert (answer.withheld_below == 5) is withheld
        assert answer.current.active == (0 if withheld else size)
        assert answer.named == {}
    # Their own manager in the usual mode sees each of them: no floor, names.
    own = ask(lead)
    assert isinstance(own, AdoptionAnswer)
    assert own.withheld_below is None and own.current.active == size


def test_cache_share_is_a_ratio_of_sums_and_unknown_with_rows_stored_without(db, frozen):
    lead = person("lead@example.com", "Lea Lead")
    ann = person("ann@example.com", "Ann", manager=lead)
    bob = person("bob@example.com", "Bob", manager=lead)
    store_usage(
        [
            usage("u-ann", ago(2), email=ann.email, input_tokens=1000, cached_input_tokens=600),
            usage("u-bob", ago(3), email=bob.email, input_tokens=3000, cached_input_tokens=400),
            # Tokens not published yet: neither input nor cached counts.
            usage("u-bob", ago(1), email=bob.email, input_tokens=None, output_tokens=None),
            # Stored before cached tokens were kept: the period before is unknown.
            usage("u-ann", ago(9), email=ann.email, input_tokens=500, cached_input_tokens=None),
        ]
    )
    answer = ask(lead, 7)
    assert isinstance(answer, AdoptionAnswer)
    (expected,) = _sql(
        db,
        "SELECT SUM(cached_input_tokens) * 1.0 / SUM(input_tokens) FROM daily_usage "
        "WHERE day BETWEEN ? AND ? AND input_tokens IS NOT NULL",
        [ago(7), ago(1)],
    )[0:1]
    assert answer.current.cache_share == pytest.approx(float(expected[0])) == pytest.approx(0.25)
    assert answer.current.input_tokens == 4000
    assert answer.previous.cache_share is None


@pytest.mark.parametrize("others, both_shown", [(0, False), (4, True)])
def test_a_team_minus_one_person_is_not_readable_by_difference(db, frozen, others, both_shown):
    """Lea's line is Sam and Sam's five reports (and `others` more of hers); Sam's line
    is his five. Shown side by side, the two would give Sam's own figures away by
    subtraction unless the rest are five: then one of them is withheld (which one follows
    the cells of sync/org/privacy.py), never both, and two shown lines differ by five."""
    lea = person("lea@example.com", "Lea Lead")
    analyst = person("analyst@example.com", "Nia Analyst", role="analyst")
    sam = person("sam@example.com", "Sam Sub", manager=lea)
    below_sam = [person(f"s{n}@example.com", f"S {n}", manager=sam) for n in range(5)]
    rest = [person(f"o{n}@example.com", f"O {n}", manager=lea) for n in range(others)]
    elsewhere(5)  # the organisation minus Lea's line: five people and the analyst
    store_usage([usage(f"u-{p.id}", ago(2), email=p.email) for p in [sam, *below_sam, *rest]])
    works_council = AccessPolicy(individual_views=False)
    for viewer, policy in ((lea, works_council), (analyst, POLICY)):
        whole = ask(viewer, manager=lea, policy=policy)
        part = ask(viewer, manager=sam, policy=policy)
        assert isinstance(whole, AdoptionAnswer) and isinstance(part, AdoptionAnswer)
        shown = [a for a in (whole, part) if a.withheld_below is None]
        assert shown, viewer.name
        assert (len(shown) == 2) is both_shown, viewer.name
        if both_shown:
            assert whole.current.people - part.current.people >= 5
        for answer in (whole, part):
            assert answer.withheld_below in (None, 5)
    # Lea, in works-council mode, keeps her whole line: Sam's five are what is withheld.
    assert ask(lea, manager=lea, policy=works_council).withheld_below is None
    # Seeing everyone one by one, nothing is withheld.
    assert ask(lea, manager=sam).withheld_below is None


# ------------------------------------------------------------------------------ roll-ups
# (sync/reports/adoption_rollups.py): read while the usage revision stays, never after a
# write of usage, whoever writes it.

OTHER_WORKSPACE = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def org_answer_equal_to_sql(db, admin: Employee, days=90, workspace=None) -> AdoptionAnswer:
    answer = ask(admin, days, org=True)
    assert isinstance(answer, AdoptionAnswer)
    for figures, period in (
        (answer.current, answer.period),
        (answer.previous, answer.period.previous),
    ):
        expected = sql_figures(db, period, "1 = 1", workspace)
        assert (figures.people, figures.active, figures.active_person_days) == (
            expected["people"],
            expected["active"],
            expected["person_days"],
        )
        assert figures.credits == pytest.approx(expected["credits"])
        assert (figures.threads, figures.turns) == (expected["threads"], expected["turns"])
        assert sum(figures.credits_by_surface.values()) == pytest.approx(expected["credits"])
    return answer


def window_of(days: int, workspace: str = WORKSPACE) -> Window:
    period = Period.ending_before(TODAY, days)
    return Window(workspace, Bounds.of(period, SETTINGS.idle_days), period.last_day)


def plain(rows: list[tuple]) -> list[tuple]:
    """Rows with PostgreSQL's Decimal sums as ints, in key order."""
    return sorted(tuple(int(v) if isinstance(v, Decimal) else v for v in row) for row in rows)


def test_answers_read_the_rollup_until_a_sync_changes_a_row(db, org):
    first = org_answer_equal_to_sql(db, org["admin"])
    team = ask(org["max"], 90)
    assert isinstance(team, AdoptionAnswer)
    assert AdoptionRollup.select().count() == 1
    # Read, not scanned again: a figure changed in the roll-up shows, in the organisation
    # and in a reporting line (which reads only its own accounts).
    AdoptionRollupLine.update(credits=AdoptionRollupLine.credits + 1000).where(
        AdoptionRollupLine.codex_user_id == "u-ana"
    ).execute()
    tampered = ask(org["admin"], 90, org=True)
    tampered_team = ask(org["max"], 90)
    assert isinstance(tampered, AdoptionAnswer) and isinstance(tampered_team, AdoptionAnswer)
    assert tampered.current.credits == pytest.approx(first.current.credits + 1000)
    assert tampered_team.current.credits == pytest.approx(team.current.credits + 1000)
    # A sync that rewrites one row: the roll-up is stale, the answer is the rows'.
    store_usage([usage("u-ana", ago(1), email="ana@example.com", credits=50.0, turns=6)])
    after = org_answer_equal_to_sql(db, org["admin"])
    assert after.current.credits == pytest.approx(first.current.credits - 5.0 + 50.0)
    after_team = ask(org["max"], 90)
    assert isinstance(after_team, AdoptionAnswer)
    assert after_team.current.credits == pytest.approx(team.current.credits - 5.0 + 50.0)
    # The stale roll-up was pruned when the new one was built.
    assert AdoptionRollup.select().count() == 1


def test_a_leaver_is_cut_at_their_last_day_whether_the_rollup_knew_it_or_not(db, org):
    first = org_answer_equal_to_sql(db, org["admin"], 30)
    cut = AdoptionRollupLine.select().where(AdoptionRollupLine.cut_day != ago(1))
    assert {(line.codex_user_id, line.cut_day) for line in cut} == {("u-gus", ago(10))}
    # Ben leaves 4 days ago, after the roll-up was built: no cut for him in it, so his rows
    # are summed for the answer, up to his last day; the roll-up is read for everyone else.
    Employee.update(archived_on=ago(4)).where(Employee.id == org["ben"].id).execute()
    after = org_answer_equal_to_sql(db, org["admin"], 30)
    assert after.current.credits == pytest.approx(first.current.credits - 3 * 2.0)
    assert AdoptionRollup.select().count() == 1


def test_retention_makes_the_rollup_stale(db, org):
    first = org_answer_equal_to_sql(db, org["admin"])
    assert apply_retention(RetentionSettings(usage_days=30))[0] > 0  # Fay's and Ken's old days
    after = org_answer_equal_to_sql(db, org["admin"])
    assert after.current.credits == pytest.approx(first.current.credits - 9.0 - 1.0)


def test_a_workspace_switch_reads_the_new_workspaces_usage(db, org):
    org_answer_equal_to_sql(db, org["admin"], workspace=WORKSPACE)
    with freeze_time("2026-06-15 13:00:00"):  # connected after the first one
        store_usage([usage("u-ana", ago(2), email="ana@example.com", credits=7.0)], OTHER_WORKSPACE)
        switched = org_answer_equal_to_sql(db, org["admin"], workspace=OTHER_WORKSPACE)
        assert (switched.current.active, switched.current.credits) == (1, 7.0)
        # Forgetting it: answers go back to the first workspace's history.
        forget_workspace(OTHER_WORKSPACE)
        back = org_answer_equal_to_sql(db, org["admin"], workspace=WORKSPACE)
        assert back.current.active > 1


def test_two_builders_store_one_rollup_and_an_overtaken_build_none(db, org):
    window = window_of(30)
    first, second = compute([window])[0], compute([window])[0]
    assert (store(first), store(second)) == (True, False)
    assert AdoptionRollup.select().count() == 1
    stored = rolled_up(window, None)
    assert stored is not None
    assert plain(stored.lines) == plain(first.sums.lines)
    assert plain(stored.surfaces) == plain(first.sums.surfaces)
    overtaken = compute([window_of(7)])[0]
    store_usage([usage("u-cat", ago(2), email="cat@example.com")])  # a sync writes meanwhile
    assert store(overtaken) is False
    assert rolled_up(window, None) is None  # and the first one is stale now


def test_warming_builds_each_common_window_as_its_own_scans_would(db, org):
    assert warm(SETTINGS, TODAY) == 3
    assert warm(SETTINGS, TODAY) == 0  # already built
    for days in (7, 30, 90):
        stored = rolled_up(window_of(days), None)
        assert stored is not None
        alone = compute([window_of(days)])[0].sums
        # Only the accounts with rows in this window: Fay's (35 to 45 days ago) are in the
        # 90 days' only, as a scan of the window alone finds them.
        assert plain(stored.lines) == plain(alone.lines)
        assert plain(stored.surfaces) == plain(alone.surfaces)
    assert "u-fay" not in {row[0] for row in stored_lines(7)}
    assert "u-fay" in {row[0] for row in stored_lines(90)}


def stored_lines(days: int) -> list[tuple]:
    stored = rolled_up(window_of(days), None)
    assert stored is not None
    return stored.lines

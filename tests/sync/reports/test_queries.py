"""Stats and digests read back exactly what was stored, attributed through the directory."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import WORKSPACE, person, store_usage, usage
from freezegun import freeze_time

from bot.rendering import render, sparkline
from sync.notices import Notice
from sync.org.directory import add_alias
from sync.reports.digest import compose_digest, flags_for
from sync.reports.periods import Period
from sync.reports.queries import stats_answer
from sync.reports.surfaces import CHATGPT, CLI, IDE, OTHER
from sync.store.models import CodexUser, SyncRun
from sync.store.workspaces import current_workspace_id, note_connected

TODAY = dt.date(2026, 11, 25)  # a Wednesday
WEEK = Period.ending_before(TODAY, 7)  # Nov 18 .. Nov 24


def day(offset_from_today: int) -> dt.date:
    return TODAY - dt.timedelta(days=offset_from_today)


def test_period_is_complete_days_and_previous_is_the_same_length():
    assert (WEEK.first_day, WEEK.last_day) == (dt.date(2026, 11, 18), dt.date(2026, 11, 24))
    assert (WEEK.previous.first_day, WEEK.previous.last_day) == (
        dt.date(2026, 11, 11),
        dt.date(2026, 11, 17),
    )


def test_stats_sum_exactly_by_surface_day_and_period(db):
    ada = person("ada@example.com")
    store_usage(
        [
            usage("u-ada", day(1), "CODEX_CLI", email="Ada@Example.com", credits=2.5, turns=3),
            usage("u-ada", day(1), "CODEX_IDE_VSCODE", threads=2, credits=1.25),
            usage("u-ada", day(3), "CODEX_WEB", credits=4.0, input_tokens=None),
            usage("u-ada", day(8), "CODEX_CLI", credits=1.0),  # previous week
            usage("u-ada", day(0), "CODEX_CLI", credits=99.0),  # today: not complete
            usage("u-ada", day(30), "CODEX_CLI", credits=50.0),  # outside both periods
        ],
    )
    answer = stats_answer(ada, WEEK)
    totals = answer.current.totals
    assert (totals.threads, totals.turns, totals.credits) == (4, 7, 7.75)
    # The web row has unknown input tokens: the known sum is kept and marked pending.
    assert totals.input_tokens == 200
    assert totals.output_tokens == 150
    assert totals.tokens_pending is True
    assert list(answer.current.by_surface) == [CHATGPT, IDE, CLI]
    assert answer.current.by_surface[CLI].credits == 2.5
    assert answer.current.active_days == 2
    assert dict(answer.current.daily_credits)[day(1)] == 3.75
    assert dict(answer.current.daily_credits)[day(3)] == 4.0
    assert len(answer.current.daily_credits) == 7
    assert answer.previous.totals.credits == 1.0
    assert answer.change("credits") == pytest.approx(6.75)
    assert answer.previous.totals.tokens_pending is False


def test_a_surface_never_seen_before_is_other_not_an_error(db):
    ada = person("ada@example.com")
    store_usage([usage("u-ada", day(2), "CODEX_HOLOGRAM", email="ada@example.com")])
    assert list(stats_answer(ada, WEEK).current.by_surface) == [OTHER]


def test_an_alias_reattributes_history_without_a_resync(db):
    ada = person("ada@example.com")
    store_usage([usage("u-old", day(2), email="ada@old-domain.com", credits=5.0)])
    assert stats_answer(ada, WEEK).current.totals.credits == 0
    add_alias("ADA@old-domain.com", "ada@example.com")
    assert stats_answer(ada, WEEK).current.totals.credits == 5.0


def test_activity_after_archiving_is_not_attributed_but_history_stays(db):
    bo = person("bo@example.com", archived_on=day(4))
    store_usage(
        [
            usage("u-bo", day(5), email="bo@example.com", credits=1.0),
            usage("u-bo", day(4), email="bo@example.com", credits=2.0),
            usage("u-bo", day(3), email="bo@example.com", credits=40.0),
        ],
    )
    assert stats_answer(bo, WEEK).current.totals.credits == 3.0


def test_data_as_of_is_the_last_successful_sync_of_the_current_workspace(db):
    ada = person("ada@example.com")
    finished = dt.datetime(2026, 11, 25, 8, 0)
    note_connected("old-workspace", finished - dt.timedelta(days=1))
    note_connected(WORKSPACE, finished)
    SyncRun.create(
        workspace_id="old-workspace",
        started_at=finished,
        finished_at=finished + dt.timedelta(hours=2),
        window_start=day(5),
        window_end=TODAY,
        outcome=SyncRun.OUTCOME_OK,
    )
    SyncRun.create(
        workspace_id=WORKSPACE,
        started_at=finished,
        finished_at=finished,
        window_start=day(5),
        window_end=TODAY,
        outcome=SyncRun.OUTCOME_OK,
    )
    SyncRun.create(
        workspace_id=WORKSPACE,
        started_at=finished,
        finished_at=finished + dt.timedelta(hours=1),
        window_start=day(5),
        window_end=TODAY,
        outcome=SyncRun.OUTCOME_FAILED,
    )
    assert stats_answer(ada, WEEK).data_as_of == finished


def test_digest_covers_direct_reports_with_their_own_flags(db):
    boss = person("boss@example.com", name="Boss")
    steady = person("steady@example.com", name="A Steady", manager=boss)
    idle = person("idle@example.com", name="B Idle", manager=boss)
    new = person("new@example.com", name="C New", manager=boss)
    gone = person("gone@example.com", name="D Gone", manager=boss, archived_on=day(20))
    grand = person("grand@example.com", name="Grandreport", manager=steady)
    records = []
    for offset in range(1, 15):
        records.append(usage("u-steady", day(offset), email="steady@example.com", credits=2.0))
    records.append(usage("u-steady", day(2), "CODEX_GITHUB", credits=1.0))
    records.append(usage("u-idle", day(20), email="idle@example.com", credits=3.0))
    # A row with nothing in it in the window: Idle is still idle since day 20.
    records.append(
        usage("u-idle", day(3), email="idle@example.com", credits=0.0, threads=0, turns=0)
    )
    records.append(usage("u-gone", day(30), email="gone@example.com", credits=3.0))
    records.append(usage("u-grand", day(1), email="grand@example.com", credits=9.0))
    store_usage(records)

    digest = compose_digest(boss, TODAY, 7)
    names = [entry.answer.employee.name for entry in digest.entries]
    # Archived before the period: nothing to discuss. Skip-level people are not entries.
    assert names == ["A Steady", "B Idle", "C New"]
    flags = {entry.answer.employee.name: entry.flags for entry in digest.entries}
    assert flags["A Steady"] == [Notice("new_surface", {"surface": "GitHub"})]
    assert flags["B Idle"] == [Notice("idle", {"days": 14})]
    assert flags["C New"] == []  # a new starter with no history is not idle
    last_active = {e.answer.employee.name: e.answer.last_active_day for e in digest.entries}
    assert last_active == {"A Steady": day(1), "B Idle": day(20), "C New": None}
    steady_entry = digest.entries[0]
    assert steady_entry.answer.current.totals.credits == 15.0
    assert steady_entry.answer.previous.totals.credits == 14.0
    assert grand.id not in [e.answer.employee.id for e in digest.entries]
    assert gone.id not in [e.answer.employee.id for e in digest.entries]
    assert new.id in [e.answer.employee.id for e in digest.entries]
    assert idle.id in [e.answer.employee.id for e in digest.entries]

    text = render("digest.txt.j2", digest=digest)
    assert "A Steady" in text and "⚑ new surface: GitHub" in text
    assert "credits 15 (↑ 7%)" in text


def test_usage_swings_are_flagged_both_ways(db):
    boss = person("boss@example.com")
    up = person("up@example.com", manager=boss)
    down = person("down@example.com", manager=boss)
    store_usage(
        [
            usage("u-up", day(2), email="up@example.com", credits=10.0),
            usage("u-up", day(9), email="up@example.com", credits=4.0),
            usage("u-down", day(2), email="down@example.com", credits=1.0),
            usage("u-down", day(9), email="down@example.com", credits=4.0),
        ],
    )
    assert flags_for(stats_answer(up, WEEK), TODAY) == [Notice("usage_up", {"change": 1.5})]
    assert flags_for(stats_answer(down, WEEK), TODAY) == [Notice("usage_down", {"change": 0.75})]


def test_stats_text_shows_unknown_tokens_as_unknown(db):
    ada = person("ada@example.com", name="Ada Lovelace")
    store_usage(
        [usage("u-ada", day(1), email="ada@example.com", input_tokens=None, output_tokens=None)],
        completed_sync=False,
    )
    text = render("stats.txt.j2", answer=stats_answer(ada, WEEK))
    assert "Codex usage for Ada Lovelace <ada@example.com>" in text
    input_line = next(line for line in text.splitlines() if line.startswith("Input tokens"))
    assert "unknown" in input_line and " 0 " not in input_line
    assert "tokens are not published yet" in text
    assert "Data as of never synced" in text


def test_sparkline_scales_to_the_busiest_day():
    assert sparkline([0, 1, 2, 4, 8]) == "▁▁▂▄█"
    assert sparkline([0, 0, 0]) == "▁▁▁"


def test_team_rollups_sum_everyone_below_and_cut_archived_people(db):
    from sync.org.chart import load_org_chart
    from sync.reports.queries import team_rollups

    lead = person("lead@example.com", "Lead")
    mid = person("mid@example.com", "Mid", manager=lead)
    deep = person("deep@example.com", "Deep", manager=mid)
    gone = person("gone@example.com", "Gone", manager=mid, archived_on=day(3))
    person("idle@example.com", "Idle", manager=deep)
    solo = person("solo@example.com", "Solo")
    store_usage(
        [
            usage("u-mid", day(1), email="mid@example.com", credits=1.25),
            usage("u-deep", day(2), email="deep@example.com", credits=2.0),
            usage("u-deep", day(9), email="deep@example.com", credits=4.0),  # previous week
            usage("u-gone", day(4), email="gone@example.com", credits=8.0),  # before archiving
            usage("u-gone", day(2), email="gone@example.com", credits=100.0),  # after: not theirs
        ],
    )
    rollups = team_rollups([lead, solo], WEEK, WORKSPACE)
    assert set(rollups) == {lead.id}  # nobody below Solo: no roll-up
    team = rollups[lead.id]
    assert (team.people, team.active_people) == (4, 3)
    assert team.credits == 11.25 and team.previous_credits == 4.0
    assert gone.id and team.change == pytest.approx(11.25 / 4 - 1)
    # A delivery run walks the teams from the org chart it read once: same answer.
    assert team_rollups([lead, solo], WEEK, WORKSPACE, load_org_chart()) == rollups
    # Another workspace's usage is not this one's.
    assert team_rollups([lead], WEEK, "another-workspace")[lead.id].credits == 0


def test_after_a_workspace_switch_someone_seen_only_in_the_old_one_has_no_account(db):
    only_before, both, never_used = (
        person(f"{name}@example.com") for name in ("only-before", "both", "never-used")
    )
    with freeze_time("2026-11-25 08:00", tick=True) as clock:
        store_usage(
            [
                usage("u-before", day(9), email="only-before@example.com", credits=5.0),
                usage("u-both", day(9), email="both@example.com"),
            ],
            workspace="old-workspace",
        )
        CodexUser.create(user_id="u-never", email="never-used@example.com")
        clock.tick(dt.timedelta(hours=1))
        store_usage([usage("u-both", day(2), email="both@example.com")])  # the switch
        assert current_workspace_id() == WORKSPACE
        gone = stats_answer(only_before, WEEK)
        assert not gone.has_codex_account  # said so, not a row of zeros
        assert "No Codex account matches only-before@example.com" in render(
            "stats.txt.j2", answer=gone
        )
        assert stats_answer(both, WEEK).has_codex_account
        # Known, with usage nowhere (say, retention deleted it): still an account.
        assert stats_answer(never_used, WEEK).has_codex_account


def test_a_runs_team_sums_give_every_managers_roll_ups_exactly_as_the_queries_do(db, tmp_path):
    """A delivery run sums every roll-up from TeamSums, read once; each manager's reports'
    roll-ups are the ones team_rollups reads for that manager alone, leavers, aliases,
    unmatched accounts and idle rows included."""
    import random

    from sync.codex.simulator import generate_org, write_org_csv
    from sync.org.chart import direct_reports, load_org_chart, members_below
    from sync.org.directory import codex_user_ids_by_employee
    from sync.org.importer import import_org_csv
    from sync.reports.queries import TeamSums, stats_answers, team_rollups
    from sync.store.models import Employee

    org = generate_org(160, 3, TODAY)
    write_org_csv(org, tmp_path / "org.csv")
    import_org_csv(tmp_path / "org.csv")
    rng = random.Random(5)
    surfaces = ("CODEX_CLI", "CODEX_IDE_VSCODE", "CODEX_WEB")
    records = [
        usage(
            account.user_id,
            day(offset),
            client_id,
            email=account.email,
            threads=rng.randrange(3),
            turns=rng.randrange(4),
            credits=round(rng.uniform(0, 9), 2) if rng.random() < 0.9 else 0.0,
        )
        for account in org.accounts
        for offset in range(16)
        for client_id in surfaces
        if rng.random() < 0.3
    ]
    # Someone who left mid-week: only their days up to then count, in both ways.
    leaver = Employee.get(Employee.email == org.accounts[0].person_email)
    leaver.archived_on = day(4)
    leaver.save()
    records += [usage(org.accounts[0].user_id, day(n), email=org.accounts[0].email) for n in (2, 6)]
    store_usage(records)
    contractor = next(a for a in org.accounts if a.person_email is None)
    add_alias(contractor.email, org.people[-1].email)

    chart = load_org_chart()
    # As a delivery run keeps them (teams summed up the chart once), and from the people's
    # sums alone, each team walked.
    sums, walked = TeamSums(WORKSPACE, chart), TeamSums(WORKSPACE)
    sums.of(WEEK), walked.of(WEEK), sums.teams_of([], WEEK)
    compared = credited = 0
    statements = [0]
    original = db.execute_sql

    def counting(*args, **kwargs):
        statements[0] += 1
        return original(*args, **kwargs)

    for manager in Employee.select().where(Employee.id.in_(list(chart))):
        reports = direct_reports(manager)
        expected = team_rollups(reports, WEEK, WORKSPACE, chart)
        db.execute_sql = counting
        try:
            assert team_rollups(reports, WEEK, WORKSPACE, chart, sums) == expected
            assert team_rollups(reports, WEEK, WORKSPACE, chart, walked) == expected
            accounts = sums.accounts_of(reports)
        finally:
            del db.execute_sql
        assert accounts == codex_user_ids_by_employee(reports)
        compared += len(expected)
        credited += sum(1 for rollup in expected.values() if rollup.previous_credits)
    assert compared > 20 and credited > 10
    assert statements[0] == 0  # read once for the run: no statement per manager
    # The whole org at once, as the CEO's digest sums it, and another period read on demand.
    ceo = Employee.get(Employee.email == org.people[0].email)
    top = direct_reports(ceo)
    # Summed another way: everyone's own stats answer, added up under each of the CEO's reports.
    everyone = stats_answers(Employee.select(), WEEK)
    for head, rollup in team_rollups(top, WEEK, WORKSPACE, chart, sums).items():
        below = [everyone[member] for member, _ in members_below([Employee[head]]).items()]
        assert rollup.people == len(below)
        assert rollup.active_people == sum(a.current.totals.is_active for a in below)
        assert rollup.credits == pytest.approx(sum(a.current.totals.credits for a in below))
        assert rollup.previous_credits == pytest.approx(
            sum(a.previous.totals.credits for a in below)
        )
    month = Period.ending_before(TODAY, 8)
    assert team_rollups(top, month, WORKSPACE, chart, sums) == team_rollups(top, month, WORKSPACE)
    # Sums of another workspace are not used for this one.
    assert team_rollups(top, WEEK, WORKSPACE, chart, TeamSums("another-workspace")) == (
        team_rollups(top, WEEK, WORKSPACE, chart)
    )
    # A lead below another: the lower one's team is not the upper one's.
    nested = [ceo, top[0]]
    assert sums.teams_of(nested, WEEK) is None
    assert team_rollups(nested, WEEK, WORKSPACE, chart, sums) == (
        team_rollups(nested, WEEK, WORKSPACE, chart)
    )
    assert team_rollups(nested, WEEK, WORKSPACE, chart)[ceo.id].people < len(org.people) - 10
    # A loop written straight to the database: teams are walked, and still agree.
    a, b = direct_reports(top[0])[:2]
    Employee.update(manager=b.id).where(Employee.id == a.id).execute()
    Employee.update(manager=a.id).where(Employee.id == b.id).execute()
    looped = load_org_chart()
    in_loop = TeamSums(WORKSPACE, looped)
    assert in_loop.teams_of(top, WEEK) is None
    assert team_rollups(top, WEEK, WORKSPACE, looped, in_loop) == (
        team_rollups(top, WEEK, WORKSPACE, looped)
    )

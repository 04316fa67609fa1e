"""Reading usage back for people: per employee and period, by surface and by day.

Attribution happens here, at query time, through the directory (emails and aliases),
so fixing an email re-attributes history without a re-sync.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple
from zoneinfo import ZoneInfo

from peewee import Case, chunked, fn

from sync.clock import utc_today
from sync.org.access import activity_counts
from sync.org.chart import OrgChart, members_below
from sync.org.directory import (
    codex_user_ids_by_employee,
    codex_user_ids_for,
    matched_employee_ids_by_codex_user,
)
from sync.org.time_zones import utc_days_on_clock
from sync.reports.coverage import Coverage, DayRange
from sync.reports.metrics import STAT_FIELDS, Stats
from sync.reports.periods import Period
from sync.reports.surfaces import SURFACE_ORDER, surface_of
from sync.store.models import DailyUsage, Employee, Workspace
from sync.store.prepared import Prepared


@dataclass(frozen=True)
class PeriodUsage:
    period: Period
    totals: Stats
    by_surface: dict[str, Stats]
    daily_credits: list[tuple[dt.date, float]]
    active_days: int
    # Days of the period no sync has read: said beside the figures, never shown as zeros.
    missing: list[DayRange]
    # Credits by surface and day, as read (only the cells with rows): what a chart stacks.
    credits_by_surface_day: dict[tuple[str, dt.date], float] = field(default_factory=dict)

    def daily_by_surface(self) -> dict[str, list[float]]:
        """Each surface's credits for every day of the period (aligned with
        `period.each_day()`), surfaces in the order of `by_surface`."""
        days = self.period.each_day()
        return {
            surface: [round(self.credits_by_surface_day.get((surface, d), 0.0), 6) for d in days]
            for surface in self.by_surface
        }


@dataclass(frozen=True)
class StatsAnswer:
    employee: Employee
    current: PeriodUsage
    previous: PeriodUsage
    data_as_of: dt.datetime | None
    last_active_day: dt.date | None
    # No Codex account matches the person's email or aliases: their zeros mean nothing.
    has_codex_account: bool = True
    # The time zone of whoever reads the answer (sync/org/time_zones.py): its dates are
    # their days, its figures the UTC days of the same dates, and its times on their clock.
    time_zone: str = "UTC"

    def change(self, key: str) -> float | None:
        """Relative change against the previous period, or None where there is no base."""
        now, before = self.current.totals.value(key), self.previous.totals.value(key)
        if now is None or before is None or before == 0:
            return None
        return (now - before) / before

    @property
    def new_surfaces(self) -> list[str]:
        return [s for s in self.current.by_surface if s not in self.previous.by_surface]

    @property
    def utc_days_on_clock(self) -> tuple[dt.datetime, dt.datetime] | None:
        """When the UTC days the figures sum begin and end on the reader's clock; None
        when those are the reader's own days."""
        period = self.current.period
        return utc_days_on_clock(period.first_day, period.last_day, ZoneInfo(self.time_zone))


@dataclass(frozen=True)
class TeamRollup:
    """A team below someone, summed: what a digest says of skip-level people, and a line
    of the organisation view (sync/reports/organisation.py)."""

    people: int
    active_people: int
    credits: float
    previous_credits: float

    @property
    def change(self) -> float | None:
        if not self.previous_credits:
            return None
        return (self.credits - self.previous_credits) / self.previous_credits


class _Member(NamedTuple):
    id: int
    email: str
    archived_on: dt.date | None


def team_rollups(
    leads: list[Employee],
    period: Period,
    workspace_id: str | None,
    chart: OrgChart | None = None,
    sums: TeamSums | None = None,
) -> dict[int, TeamRollup]:
    """For each lead with people below them, their whole team's credits this period and
    the one before in `workspace_id`, and how many were active. With `sums` (a delivery
    run's, read once for everyone) the teams are summed in memory, in time independent of
    their size in queries; else a bounded number of queries: one per tree level, one per
    5,000 people, one per 5,000 Codex accounts."""
    run_sums = sums if sums is not None and sums.workspace_id == workspace_id else None
    if run_sums is not None and chart is run_sums.chart:
        teams = run_sums.teams_of(leads, period)
        if teams is not None:
            return teams
    root_of = members_below(leads, chart)
    if not root_of:
        return {}
    if run_sums is not None:
        return _summed_teams(root_of, run_sums.of(period))
    # Only what attribution needs: model instances for a whole org cost more than the sums.
    members: dict[int, _Member] = {}
    for batch in chunked(list(root_of), 5000):
        query = Employee.select(Employee.id, Employee.email, Employee.archived_on).where(
            Employee.id.in_(batch)
        )
        members.update((row[0], _Member(*row)) for row in query.tuples())
    owner_of = {
        user_id: members[member_id]
        for member_id, user_ids in codex_user_ids_by_employee(members.values()).items()
        for user_id in user_ids
    }
    # Past 5,000 accounts, one grouped query over the workspace beats batches of IN lists.
    sums_below = _person_sums(owner_of, period, workspace_id, whole_workspace=len(owner_of) > 5000)
    return _summed_teams(root_of, sums_below)


class _PersonSums:
    """Each person's credits in a period and the one before, and who was active in it."""

    __slots__ = ("credits", "previous_credits", "active")

    def __init__(self) -> None:
        self.credits: dict[int, float] = defaultdict(float)
        self.previous_credits: dict[int, float] = defaultdict(float)
        self.active: set[int] = set()

    def add(self, person_id: int, current: int, amount: float, activity: int) -> None:
        if current:
            self.credits[person_id] += amount
            if amount > 0 or activity > 0:
                self.active.add(person_id)
        else:
            self.previous_credits[person_id] += amount


class TeamSums:
    """What a delivery run reads once for all its digests: every employee's Codex accounts,
    and per period everyone's credits in it and the one before and whether they were
    active (one grouped query over the workspace), summed up the org chart into every
    manager's whole team. A digest's roll-ups are then looked up, and the CEO's digest
    costs what a team lead's does. Each period is read on first use (a run may compose
    digests for more than one period: the weeks of different time zones, digests still
    waiting). `chart`: the run's org chart; the roll-ups of a call given another one are
    summed from the people's sums by walking it."""

    def __init__(self, workspace_id: str | None, chart: OrgChart | None = None) -> None:
        self.workspace_id = workspace_id
        self.chart = chart
        self._by_period: dict[Period, _PersonSums] = {}
        self._teams: dict[Period, dict[int, TeamRollup] | None] = {}
        self._owners: dict[str, _Member] | None = None
        self._accounts: dict[int, list[str]] | None = None
        self._order: tuple[list[int], dict[int, int]] | tuple[()] | None = None

    def of(self, period: Period) -> _PersonSums:
        if period not in self._by_period:
            self._by_period[period] = self._read(period)
        return self._by_period[period]

    def accounts_of(self, employees: Iterable[Employee]) -> dict[int, list[str]]:
        """Each employee's Codex accounts, as `codex_user_ids_by_employee` finds them."""
        if self._accounts is None:
            accounts: dict[int, list[str]] = defaultdict(list)
            for user_id, owner in self._owner_of().items():
                accounts[owner.id].append(user_id)
            self._accounts = {employee_id: sorted(ids) for employee_id, ids in accounts.items()}
        return {e.id: list(self._accounts.get(e.id, ())) for e in employees}

    def teams_of(self, leads: list[Employee], period: Period) -> dict[int, TeamRollup] | None:
        """team_rollups(leads, period, ...) from every manager's team summed once per
        period; None where that does not answer it: without a chart, when the chart is no
        forest (a loop written straight to the database), or when a lead is below another
        (then the lower one's team is not the upper one's), and teams are walked instead."""
        if period not in self._teams:
            self._teams[period] = None if self._walk() is None else self._sum_up(period)
        teams, walk = self._teams[period], self._walk()
        if teams is None or walk is None:
            return None
        manager_of = walk[1]
        ids = {lead.id for lead in leads}
        for lead in ids:
            manager = manager_of.get(lead)
            while manager is not None:
                if manager in ids:
                    return None
                manager = manager_of.get(manager)
        return {lead: teams[lead] for lead in ids if lead in teams}

    def _walk(self) -> tuple[list[int], dict[int, int]] | None:
        """Everyone in the chart, breadth first from the people nobody manages (a manager
        before their reports), and each one's manager; None without a chart or with a
        loop in it."""
        if self.chart is None:
            return None
        if self._order is None:
            chart = self.chart
            # Managing oneself is the top's mark, not a loop.
            below = {r for manager, reports in chart.items() for r in reports if r != manager}
            order = [m for m in chart if m not in below]
            manager_of: dict[int, int] = {}
            for node in order:  # grows while it is walked
                for report in chart.get(node, ()):
                    if report != node:
                        manager_of[report] = node
                        order.append(report)
            # People in a loop are never reached from the top.
            self._order = (order, manager_of) if len(order) == len(set(chart) | below) else ()
        return self._order or None

    def _sum_up(self, period: Period) -> dict[int, TeamRollup]:
        walk = self._walk()
        assert walk is not None
        order, manager_of = walk
        sums = self.of(period)
        people: dict[int, int] = defaultdict(int)
        active: dict[int, int] = defaultdict(int)
        credits: dict[int, float] = defaultdict(float)
        previous: dict[int, float] = defaultdict(float)
        own_credits, own_previous, own_active = sums.credits, sums.previous_credits, sums.active
        for node in reversed(order):
            manager = manager_of.get(node)
            if manager is None:
                continue
            people[manager] += 1 + people.get(node, 0)
            active[manager] += (node in own_active) + active.get(node, 0)
            credits[manager] += own_credits.get(node, 0.0) + credits.get(node, 0.0)
            previous[manager] += own_previous.get(node, 0.0) + previous.get(node, 0.0)
        return {
            manager: TeamRollup(
                people[manager],
                active[manager],
                round(credits[manager], 6),
                round(previous[manager], 6),
            )
            for manager in people
        }

    def _owner_of(self) -> dict[str, _Member]:
        if self._owners is None:
            everyone = Employee.select(Employee.id, Employee.email, Employee.archived_on)
            members = {row[0]: _Member(*row) for row in everyone.tuples()}
            self._owners = {
                user_id: members[employee_id]
                for user_id, employee_id in matched_employee_ids_by_codex_user().items()
            }
        return self._owners

    def _read(self, period: Period) -> _PersonSums:
        if self.workspace_id is None:
            return _PersonSums()
        return _person_sums(self._owner_of(), period, self.workspace_id, whole_workspace=True)


def _person_sums(
    owner_of: dict[str, _Member], period: Period, workspace_id: str | None, whole_workspace: bool
) -> _PersonSums:
    """The sums of the people owning the accounts in `owner_of` (Codex user id -> owner)
    over `period` and the one before: two sums per account, except for the accounts of
    people with an archive date, some of whose days may not count: those few are read day
    by day. `whole_workspace`: the sums are read for every account in one grouped query
    and the others' dropped, rather than in batches of IN lists."""
    found = _PersonSums()
    previous = period.previous
    in_window = (DailyUsage.workspace_id == workspace_id) & DailyUsage.day.between(
        previous.first_day, period.last_day
    )
    is_current = Case(None, [(DailyUsage.day >= period.first_day, 1)], 0)
    kept = [u for u in owner_of if owner_of[u].archived_on is None]
    cut = [u for u in owner_of if owner_of[u].archived_on is not None]
    sums = DailyUsage.select(
        DailyUsage.codex_user_id,
        is_current,
        fn.SUM(DailyUsage.credits),
        fn.SUM(DailyUsage.threads + DailyUsage.turns),
    )
    if whole_workspace:
        wanted = set(kept)
        query = sums.where(in_window).group_by(DailyUsage.codex_user_id, is_current)
        batches = [[row for row in _driver_rows(query) if row[0] in wanted]]
    else:
        batches = [
            list(
                _driver_rows(
                    sums.where(DailyUsage.codex_user_id.in_(batch), in_window).group_by(
                        DailyUsage.codex_user_id, is_current
                    )
                )
            )
            for batch in chunked(kept, 5000)
        ]
    for rows in batches:
        for user_id, current, amount, activity in rows:
            found.add(owner_of[user_id].id, current, amount, activity)
    for batch in chunked(cut, 5000):
        days = DailyUsage.select(
            DailyUsage.codex_user_id,
            DailyUsage.day,
            DailyUsage.credits,
            DailyUsage.threads + DailyUsage.turns,
        ).where(DailyUsage.codex_user_id.in_(batch), in_window)
        for user_id, day, day_credits, activity in _driver_rows(days):
            day = dt.date.fromisoformat(day) if isinstance(day, str) else day
            owner = owner_of[user_id]
            if activity_counts(owner, day):
                found.add(owner.id, int(day >= period.first_day), day_credits, activity)
    return found


def _summed_teams(root_of: dict[int, int], sums: _PersonSums) -> dict[int, TeamRollup]:
    """Each root's team (`root_of`: member id -> root id) summed from its members' sums."""
    people: dict[int, int] = defaultdict(int)
    active: dict[int, int] = defaultdict(int)
    credits: dict[int, float] = defaultdict(float)
    previous_credits: dict[int, float] = defaultdict(float)
    member_credits, member_previous, member_active = (
        sums.credits,
        sums.previous_credits,
        sums.active,
    )
    for member, root in root_of.items():
        people[root] += 1
        if member in member_credits:
            credits[root] += member_credits[member]
        if member in member_previous:
            previous_credits[root] += member_previous[member]
        if member in member_active:
            active[root] += 1
    return {
        root: TeamRollup(
            people[root],
            active[root],
            round(credits[root], 6),
            round(previous_credits[root], 6),
        )
        for root in people
    }


def stats_answers(
    employees: Iterable[Employee],
    period: Period,
    coverage: Coverage | None = None,
    accounts: dict[int, list[str]] | None = None,
) -> dict[int, StatsAnswer]:
    """The stats answer for each employee, from one query over both periods, in the
    current workspace (`coverage`, read here unless the caller has it already). `accounts`:
    each employee's Codex accounts, when the caller has them (a delivery run's TeamSums)."""
    employees = list(employees)
    previous = period.previous
    if coverage is None:
        coverage = Coverage.load(previous.first_day, utc_today())
    by_id = {employee.id: employee for employee in employees}
    if accounts is not None:
        user_ids = accounts
    elif len(employees) == 1:
        user_ids = {employees[0].id: codex_user_ids_for(employees[0])}
    else:
        user_ids = codex_user_ids_by_employee(employees)
    owner_of = {
        user_id: by_id[employee_id] for employee_id, ids in user_ids.items() for user_id in ids
    }
    rows_by_employee: dict[int, list[tuple]] = defaultdict(list)
    last_active: dict[int, dt.date] = {}
    if owner_of and coverage.workspace_id is not None:
        window = Period(previous.first_day, period.last_day)
        for employee, day, client_id, counts in _attributed_rows(
            owner_of, coverage.workspace_id, window
        ):
            rows_by_employee[employee.id].append((day, client_id, counts))
            threads, turns, credits = counts[0], counts[1], counts[2]
            if (credits > 0 or turns > 0 or threads > 0) and day > last_active.get(
                employee.id, dt.date.min
            ):
                last_active[employee.id] = day
        # The last active day of someone active in the window is in the window's rows; of
        # the others, it is before the window, if ever: only those are read.
        before = {u: e for u, e in owner_of.items() if e.id not in last_active}
        if before:
            up_to = window.first_day - dt.timedelta(days=1)
            last_active.update(_last_active_days(coverage.workspace_id, before, up_to))
    with_account = set(user_ids)
    if owner_of and coverage.workspace_id is not None and coverage.data_as_of is not None:
        with_account = _with_account_in(coverage.workspace_id, owner_of)
    missing, missing_before = coverage.missing(period), coverage.missing(previous)
    return {
        employee.id: StatsAnswer(
            employee,
            _period_usage(period, rows_by_employee[employee.id], missing),
            _period_usage(previous, rows_by_employee[employee.id], missing_before),
            coverage.data_as_of,
            last_active.get(employee.id),
            has_codex_account=bool(user_ids.get(employee.id)) and employee.id in with_account,
        )
        for employee in employees
    }


def stats_answer(employee: Employee, period: Period) -> StatsAnswer:
    return stats_answers([employee], period)[employee.id]


@dataclass(frozen=True)
class DaySurfaceUsage:
    """One person's counts on one UTC day on one surface: a line of an export."""

    employee: Employee
    day: dt.date
    surface: str
    stats: Stats


def usage_by_day_and_surface(
    employees: Iterable[Employee], period: Period, workspace_id: str | None
) -> list[DaySurfaceUsage]:
    """The employees' usage in `period`, one line per person, day and surface (people in
    the order given, then days, then surfaces), read and attributed exactly as
    stats_answers reads it: a person's lines sum to their stats answer's totals."""
    employees = list(employees)
    by_id = {employee.id: employee for employee in employees}
    owner_of = {
        user_id: by_id[employee_id]
        for employee_id, ids in codex_user_ids_by_employee(employees).items()
        for user_id in ids
    }
    if not owner_of or workspace_id is None:
        return []
    sums: dict[tuple[int, dt.date, str], _Sums] = {}
    for employee, day, client_id, counts in _attributed_rows(owner_of, workspace_id, period):
        key = (employee.id, day, surface_of(client_id))
        sums.setdefault(key, _Sums()).add(counts)
    position = {employee.id: n for n, employee in enumerate(employees)}
    surface_rank = {surface: n for n, surface in enumerate(SURFACE_ORDER)}
    ordered = sorted(sums, key=lambda k: (position[k[0]], k[1], surface_rank[k[2]]))
    return [
        DaySurfaceUsage(by_id[employee_id], day, surface, sums[employee_id, day, surface].stats())
        for employee_id, day, surface in ordered
    ]


# The rows of a few accounts (one person's, most often): the SQL is built once, and the
# rows come as the driver returns them (peewee's conversion of each value of each row was
# most of a digest's time, over rows of plain numbers). Days come back as text from
# SQLite and as dates from PostgreSQL: the caller converts them.
_USAGE_ROWS = Prepared(
    lambda workspace_id, user_ids, first_day, last_day: DailyUsage.select(
        DailyUsage.codex_user_id,
        DailyUsage.day,
        DailyUsage.client_id,
        *(getattr(DailyUsage, name) for name in STAT_FIELDS),
    ).where(
        DailyUsage.workspace_id == workspace_id,
        DailyUsage.codex_user_id.in_(user_ids),
        DailyUsage.day.between(first_day, last_day),
    )
)


def _attributed_rows(
    owner_of: dict[str, Employee], workspace_id: str, window: Period
) -> Iterator[tuple[Employee, dt.date, str, list]]:
    """Every usage row of the accounts in `owner_of` (Codex user id -> employee) in
    `workspace_id` over `window`, with the employee it counts for: the one reading of
    usage behind stats answers and exports. Rows after someone's last day are nobody's."""
    rows = _USAGE_ROWS.execute(workspace_id, list(owner_of), window.first_day, window.last_day)
    days: dict[str | dt.date, dt.date] = {}
    for user_id, day, client_id, *counts in rows:
        if day not in days:
            days[day] = dt.date.fromisoformat(day) if isinstance(day, str) else day
        employee = owner_of[user_id]
        if activity_counts(employee, days[day]):
            yield employee, days[day], client_id, counts


def _driver_rows(query) -> Iterable[tuple]:
    """`query`'s rows as the driver returns them: peewee's conversion of each value of
    each row was most of a digest's time, over rows of plain numbers. Days come back as
    text from SQLite and as dates from PostgreSQL: the caller converts them."""
    return DailyUsage._meta.database.execute(query)


def _period_usage(period: Period, rows: list[tuple], missing: list[DayRange]) -> PeriodUsage:
    # Plain accumulators, one Stats per group at the end: digests over large teams read
    # many rows, and a Stats per row was most of their time.
    totals = _Sums()
    by_surface: dict[str, _Sums] = {}
    by_day: dict[dt.date, _Sums] = {}
    cells: dict[tuple[str, dt.date], float] = {}
    first, last = period.first_day, period.last_day
    for day, client_id, counts in rows:
        if first <= day <= last:
            surface = surface_of(client_id)
            for sums in (
                totals,
                by_surface.setdefault(surface, _Sums()),
                by_day.setdefault(day, _Sums()),
            ):
                sums.add(counts)
            cells[surface, day] = cells.get((surface, day), 0.0) + counts[2]  # credits
    daily_stats = {day: sums.stats() for day, sums in by_day.items()}
    ordered = {s: by_surface[s].stats() for s in SURFACE_ORDER if s in by_surface}
    daily = [(d, daily_stats[d].credits if d in daily_stats else 0.0) for d in period.each_day()]
    active_days = sum(1 for stats in daily_stats.values() if stats.is_active)
    return PeriodUsage(period, totals.stats(), ordered, daily, active_days, missing, cells)


class _Sums:
    """Running sums of the seven counts; a token sum stays None until some row knows it.
    Cached input tokens are summed over the rows whose input tokens are known, and stay
    None once one of those lacks them (stored before schema v6): see Stats."""

    __slots__ = ("threads", "turns", "credits", "tokens", "pending", "cached", "cached_gap")

    def __init__(self) -> None:
        self.threads = self.turns = 0
        self.credits = 0.0
        self.tokens: list[int | None] = [None, None, None]
        self.pending = False
        self.cached: int | None = None
        self.cached_gap = False

    def add(self, counts) -> None:
        threads, turns, credits, input_tokens, output_tokens, total_tokens, cached = counts
        self.threads += threads
        self.turns += turns
        self.credits += credits
        tokens = self.tokens
        if input_tokens is None or output_tokens is None or total_tokens is None:
            self.pending = True
        if input_tokens is not None:
            tokens[0] = input_tokens if tokens[0] is None else tokens[0] + input_tokens
            if cached is None:
                self.cached_gap = True
            else:
                self.cached = cached if self.cached is None else self.cached + cached
        if output_tokens is not None:
            tokens[1] = output_tokens if tokens[1] is None else tokens[1] + output_tokens
        if total_tokens is not None:
            tokens[2] = total_tokens if tokens[2] is None else tokens[2] + total_tokens

    def stats(self) -> Stats:
        input_tokens, output_tokens, total_tokens = self.tokens
        return Stats(
            self.threads,
            self.turns,
            round(self.credits, 6),
            input_tokens,
            output_tokens,
            total_tokens,
            None if self.cached_gap else self.cached,
            self.pending,
        )


_WORKSPACES = Prepared(lambda: Workspace.select(Workspace.workspace_id))


def _with_account_in(workspace_id: str, owner_of: dict[str, Employee]) -> set[int]:
    """The employees with a Codex account in the workspace. The API lists only users with
    usage, so an account is known from usage: someone whose users appear only in another
    workspace's usage (the one before a switch) has none in this one, which is said, not
    shown as a row of zeros. Someone with no usage anywhere (retention deleted it) keeps
    the account they were once seen with."""
    everyone = {employee.id for employee in owner_of.values()}
    others = [other for (other,) in _WORKSPACES.execute() if other != workspace_id]
    if not others:  # one workspace so far: the usual case, and nothing to read
        return everyone

    def seen_in(workspaces: list[str]) -> set[int]:
        # Per workspace, so each lookup is a prefix of the primary key.
        seen: set[int] = set()
        for workspace in workspaces:
            query = (
                DailyUsage.select(DailyUsage.codex_user_id)
                .where(
                    DailyUsage.workspace_id == workspace,
                    DailyUsage.codex_user_id.in_(list(owner_of)),
                )
                .distinct()
                .tuples()
            )
            seen.update(owner_of[user_id].id for (user_id,) in query)
        return seen

    return (everyone - seen_in(others)) | seen_in([workspace_id])


def _last_active_days(
    workspace_id: str, owner_of: dict[str, Employee], up_to: dt.date
) -> dict[int, dt.date]:
    """Each employee's last day with any activity, at most `up_to`, across the workspace's
    history."""
    query = (
        DailyUsage.select(DailyUsage.codex_user_id, fn.MAX(DailyUsage.day))
        .where(
            DailyUsage.workspace_id == workspace_id,
            DailyUsage.codex_user_id.in_(list(owner_of)),
            DailyUsage.day <= up_to,
            (DailyUsage.credits > 0) | (DailyUsage.turns > 0) | (DailyUsage.threads > 0),
        )
        .group_by(DailyUsage.codex_user_id)
        .tuples()
    )
    last: dict[int, dt.date] = {}
    for user_id, day in query:
        employee = owner_of[user_id]
        if isinstance(day, str):  # SQLite hands back aggregated dates as text
            day = dt.date.fromisoformat(day)
        if not activity_counts(employee, day):
            continue
        if employee.id not in last or day > last[employee.id]:
            last[employee.id] = day
    return last

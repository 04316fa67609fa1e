"""Reading usage back for people: per employee and period, by surface and by day.

Attribution happens here, at query time, through the directory (emails and aliases),
so fixing an email re-attributes history without a re-sync.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from peewee import fn

from sync.directory import codex_user_ids_by_employee, codex_user_ids_for
from sync.metrics import STAT_FIELDS, Stats
from sync.models import DailyUsage, Employee, SyncRun
from sync.surfaces import SURFACE_ORDER, surface_of


@dataclass(frozen=True)
class Period:
    first_day: dt.date
    last_day: dt.date

    @classmethod
    def ending_before(cls, today: dt.date, days: int) -> Period:
        """The last `days` complete UTC days: today is still filling in, so it is left out."""
        last = today - dt.timedelta(days=1)
        return cls(last - dt.timedelta(days=days - 1), last)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def previous(self) -> Period:
        length = dt.timedelta(days=self.days)
        return Period(self.first_day - length, self.last_day - length)

    def each_day(self) -> list[dt.date]:
        return [self.first_day + dt.timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class PeriodUsage:
    period: Period
    totals: Stats
    by_surface: dict[str, Stats]
    daily_credits: list[tuple[dt.date, float]]
    active_days: int


@dataclass(frozen=True)
class StatsAnswer:
    employee: Employee
    current: PeriodUsage
    previous: PeriodUsage
    data_as_of: dt.datetime | None
    last_active_day: dt.date | None

    def change(self, key: str) -> float | None:
        """Relative change against the previous period, or None where there is no base."""
        now, before = self.current.totals.value(key), self.previous.totals.value(key)
        if now is None or before is None or before == 0:
            return None
        return (now - before) / before

    @property
    def new_surfaces(self) -> list[str]:
        return [s for s in self.current.by_surface if s not in self.previous.by_surface]


def data_as_of() -> dt.datetime | None:
    """When the last successful sync finished: the freshness every answer shows."""
    return (
        SyncRun.select(SyncRun.finished_at)
        .where(SyncRun.outcome == SyncRun.OUTCOME_OK)
        .order_by(SyncRun.finished_at.desc())
        .scalar()
    )


def stats_answers(
    employees: Iterable[Employee], period: Period, as_of: dt.datetime | None = None
) -> dict[int, StatsAnswer]:
    """The stats answer for each employee, from one query over both periods."""
    employees = list(employees)
    previous = period.previous
    as_of = as_of if as_of is not None else data_as_of()
    by_id = {employee.id: employee for employee in employees}
    if len(employees) == 1:
        user_ids = {employees[0].id: codex_user_ids_for(employees[0])}
    else:
        user_ids = codex_user_ids_by_employee(employees)
    owner_of = {
        user_id: by_id[employee_id] for employee_id, ids in user_ids.items() for user_id in ids
    }
    rows_by_employee: dict[int, list[tuple]] = defaultdict(list)
    last_active: dict[int, dt.date] = {}
    if owner_of:
        query = (
            DailyUsage.select(
                DailyUsage.codex_user_id,
                DailyUsage.day,
                DailyUsage.client_id,
                *(getattr(DailyUsage, name) for name in STAT_FIELDS),
            )
            .where(
                DailyUsage.codex_user_id.in_(list(owner_of)),
                DailyUsage.day.between(previous.first_day, period.last_day),
            )
            .tuples()
        )
        for user_id, day, client_id, *counts in query:
            employee = owner_of[user_id]
            # Activity after an employee was archived belongs to nobody: not attributed.
            if employee.archived_on is not None and day > employee.archived_on:
                continue
            rows_by_employee[employee.id].append((day, client_id, counts))
        last_active = _last_active_days(owner_of, period.last_day)
    return {
        employee.id: StatsAnswer(
            employee,
            _period_usage(period, rows_by_employee[employee.id]),
            _period_usage(previous, rows_by_employee[employee.id]),
            as_of,
            last_active.get(employee.id),
        )
        for employee in employees
    }


def stats_answer(employee: Employee, period: Period) -> StatsAnswer:
    return stats_answers([employee], period)[employee.id]


def _period_usage(period: Period, rows: list[tuple]) -> PeriodUsage:
    totals = Stats()
    by_surface: dict[str, Stats] = {}
    by_day: dict[dt.date, Stats] = {}
    for day, client_id, counts in rows:
        if not period.first_day <= day <= period.last_day:
            continue
        stats = _stats_of_row(counts)
        totals = totals + stats
        surface = surface_of(client_id)
        by_surface[surface] = by_surface.get(surface, Stats()) + stats
        by_day[day] = by_day.get(day, Stats()) + stats
    ordered = {s: by_surface[s] for s in SURFACE_ORDER if s in by_surface}
    daily = [(day, by_day[day].credits if day in by_day else 0.0) for day in period.each_day()]
    active_days = sum(1 for stats in by_day.values() if stats.is_active)
    return PeriodUsage(period, totals, ordered, daily, active_days)


def _stats_of_row(counts: list) -> Stats:
    threads, turns, credits, input_tokens, output_tokens, total_tokens = counts
    pending = input_tokens is None or output_tokens is None or total_tokens is None
    return Stats(threads, turns, credits, input_tokens, output_tokens, total_tokens, pending)


def _last_active_days(owner_of: dict[str, Employee], up_to: dt.date) -> dict[int, dt.date]:
    """Each employee's last day with any activity, at most `up_to`, across all history."""
    query = (
        DailyUsage.select(DailyUsage.codex_user_id, fn.MAX(DailyUsage.day))
        .where(
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
        if employee.archived_on is not None and day > employee.archived_on:
            # Archived people are never flagged idle, so their last day is not needed.
            continue
        if employee.id not in last or day > last[employee.id]:
            last[employee.id] = day
    return last

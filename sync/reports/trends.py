"""What a chart draws, read from the answers people already get: credits per day by
surface over a period, for one person or summed over a team, with the period before as
daily totals beside it.

Nothing here reads the database or knows Slack: a trend is made from stats answers that
were access-checked when they were asked for, and it keeps whose figures it holds, so
whoever shows it can write them to the access log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sync.reports.coverage import DayRange
from sync.reports.periods import Period
from sync.reports.queries import StatsAnswer
from sync.reports.surfaces import SURFACE_ORDER
from sync.store.models import Employee


@dataclass(frozen=True)
class UsageTrend:
    period: Period
    # Credits per day of `period` for each surface that has any (in SURFACE_ORDER).
    by_surface: dict[str, list[float]]
    # The period before, day by day: its first day beside `period`'s first day.
    previous_period: Period
    previous: list[float]
    # Days of `period` no sync has read (drawn as gaps, never as zeros) and of the one before.
    missing: list[DayRange]
    previous_missing: list[DayRange]
    people: tuple[Employee, ...]  # whose figures are in it
    data_as_of: dt.datetime | None

    @property
    def days(self) -> list[dt.date]:
        return self.period.each_day()

    @property
    def daily(self) -> list[float]:
        """Credits per day, all surfaces together."""
        columns = zip(*self.by_surface.values(), strict=True) if self.by_surface else ()
        totals = [round(sum(day), 6) for day in columns]
        return totals or [0.0] * self.period.days

    @property
    def total(self) -> float:
        return round(sum(sum(values) for values in self.by_surface.values()), 6)

    @property
    def previous_total(self) -> float:
        return round(sum(self.previous), 6)

    @property
    def surface_totals(self) -> dict[str, float]:
        return {surface: round(sum(values), 6) for surface, values in self.by_surface.items()}

    @property
    def previous_known(self) -> list[float | None]:
        """The period before, day by day, with None for the days no sync has read."""
        return [
            None if _within(day, self.previous_missing) else value
            for day, value in zip(self.previous_period.each_day(), self.previous, strict=True)
        ]

    @property
    def previous_unknown(self) -> bool:
        """No day of the period before has been read: there is nothing to compare with."""
        return all(value is None for value in self.previous_known)


def _within(day: dt.date, ranges: list[DayRange]) -> bool:
    return any(first <= day <= last for first, last in ranges)


def trend_of(answer: StatsAnswer) -> UsageTrend:
    """One person's trend, from their stats answer."""
    return summed_trend([answer])


def summed_trend(answers: Sequence[StatsAnswer]) -> UsageTrend:
    """Several people's answers over the same period, summed day by day and surface by
    surface (a team's trend)."""
    if not answers:
        raise ValueError("a trend needs at least one answer")
    first = answers[0]
    period, previous_period = first.current.period, first.previous.period
    position = {day: n for n, day in enumerate(period.each_day())}
    cells: dict[str, list[float]] = {}
    previous = [0.0] * previous_period.days
    for answer in answers:
        if answer.current.period != period:
            raise ValueError("answers over different periods can't be summed")
        # Only the cells that have rows: a big team's trend is a sum over few of them.
        for (surface, day), value in answer.current.credits_by_surface_day.items():
            cells.setdefault(surface, [0.0] * period.days)[position[day]] += value
        for n, (_, value) in enumerate(answer.previous.daily_credits):
            previous[n] += value
    return UsageTrend(
        period=period,
        by_surface={
            surface: [round(v, 6) for v in cells[surface]]
            for surface in SURFACE_ORDER
            if surface in cells and any(cells[surface])
        },
        previous_period=previous_period,
        previous=[round(v, 6) for v in previous],
        missing=first.current.missing,
        previous_missing=first.previous.missing,
        people=tuple(answer.employee for answer in answers),
        data_as_of=first.data_as_of,
    )

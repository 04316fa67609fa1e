"""The 1:1-prep digest: each direct report's period against their own previous period,
with a one-line roll-up of the team below each report who manages people."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sync.access import reporting_chain
from sync.models import Employee
from sync.queries import Period, StatsAnswer, data_as_of, stats_answers

IDLE_DAYS = 14
# A change in credits beyond this share of the previous period is worth a word in the 1:1.
NOTABLE_CHANGE = 0.5


@dataclass(frozen=True)
class TeamRollup:
    people: int
    active_people: int
    credits: float
    previous_credits: float

    @property
    def change(self) -> float | None:
        if not self.previous_credits:
            return None
        return (self.credits - self.previous_credits) / self.previous_credits


@dataclass(frozen=True)
class DigestEntry:
    answer: StatsAnswer
    flags: list[str] = field(default_factory=list)
    team: TeamRollup | None = None


@dataclass(frozen=True)
class Digest:
    manager: Employee
    period: Period
    entries: list[DigestEntry]
    data_as_of: dt.datetime | None


def flags_for(answer: StatsAnswer, today: dt.date) -> list[str]:
    flags = []
    employee = answer.employee
    last_active = answer.last_active_day
    # New starters (no history yet) and archived people are not "idle".
    if (
        employee.archived_on is None
        and last_active is not None
        and (today - last_active).days > IDLE_DAYS
    ):
        flags.append(f"no Codex activity in {IDLE_DAYS} days")
    change = answer.change("credits")
    if change is not None and change > NOTABLE_CHANGE:
        flags.append(f"usage up {change:.0%}")
    elif change is not None and change < -NOTABLE_CHANGE:
        flags.append(f"usage down {-change:.0%}")
    if answer.previous.totals.is_active:
        for surface in answer.new_surfaces:
            flags.append(f"new surface: {surface}")
    return flags


def compose_digest(manager: Employee, today: dt.date, period_days: int = 7) -> Digest:
    """The digest for the `period_days` complete days before `today`."""
    period = Period.ending_before(today, period_days)
    reports = [
        r
        for r in Employee.select()
        .where(Employee.manager == manager)
        .order_by(Employee.name, Employee.email)
        # Someone archived before this period has nothing to discuss in a 1:1.
        if r.archived_on is None or r.archived_on >= period.first_day
    ]
    teams = {report.id: reporting_chain(report) for report in reports}
    everyone = {e.id: e for e in reports}
    for team in teams.values():
        everyone.update((e.id, e) for e in team)
    as_of = data_as_of()
    answers = stats_answers(everyone.values(), period, as_of)
    entries = [
        DigestEntry(
            answers[r.id],
            flags_for(answers[r.id], today),
            _rollup([answers[e.id] for e in teams[r.id]]) if teams[r.id] else None,
        )
        for r in reports
    ]
    return Digest(manager, period, entries, as_of)


def _rollup(answers: list[StatsAnswer]) -> TeamRollup:
    return TeamRollup(
        people=len(answers),
        active_people=sum(1 for a in answers if a.current.totals.is_active),
        credits=round(sum(a.current.totals.credits for a in answers), 6),
        previous_credits=round(sum(a.previous.totals.credits for a in answers), 6),
    )

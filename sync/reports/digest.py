"""The 1:1-prep digest: each direct report's period against their own previous period,
with a one-line roll-up of the team below each report who manages people."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sync.notices import Notice
from sync.org.access import digest_subjects, is_archived
from sync.org.chart import OrgChart
from sync.reports.coverage import Coverage, DayRange
from sync.reports.periods import Period
from sync.reports.queries import StatsAnswer, TeamRollup, stats_answers, team_rollups
from sync.store.models import Employee

IDLE_DAYS = 14
# A change in credits beyond this share of the previous period is worth a word in the 1:1.
NOTABLE_CHANGE = 0.5


@dataclass(frozen=True)
class DigestEntry:
    answer: StatsAnswer
    flags: list[Notice] = field(default_factory=list)  # worded by templates/_notices.j2
    team: TeamRollup | None = None
    left_on: dt.date | None = None  # a report who has left: said, never flagged as declining


@dataclass(frozen=True)
class Digest:
    manager: Employee
    period: Period
    entries: list[DigestEntry]
    data_as_of: dt.datetime | None
    # Days of the period no sync has read (a digest waits for them; a preview says so).
    missing: list[DayRange] = field(default_factory=list)
    # The manager's time zone (sync/org/time_zones.py): the digest's times are on their clock.
    time_zone: str = "UTC"


def flags_for(answer: StatsAnswer, today: dt.date) -> list[Notice]:
    """What is worth a word in the 1:1: a long idle spell, a big change, a new surface.
    People who have left are neither idle nor declining: they are gone."""
    flags = []
    left = is_archived(answer.employee, today)
    last_active = answer.last_active_day
    # New starters (no history yet) are not "idle" either.
    if not left and last_active is not None and (today - last_active).days > IDLE_DAYS:
        flags.append(Notice("idle", {"days": IDLE_DAYS}))
    change = answer.change("credits")
    if change is not None and change > NOTABLE_CHANGE:
        flags.append(Notice("usage_up", {"change": change}))
    elif change is not None and change < -NOTABLE_CHANGE and not left:
        flags.append(Notice("usage_down", {"change": -change}))
    if answer.previous.totals.is_active:
        for surface in answer.new_surfaces:
            flags.append(Notice("new_surface", {"surface": surface}))
    return flags


def compose_digest(
    manager: Employee,
    today: dt.date,
    period_days: int = 7,
    coverage: Coverage | None = None,
    chart: OrgChart | None = None,
    reports: list[Employee] | None = None,
    time_zone: str = "UTC",
) -> Digest:
    """The digest for the `period_days` complete days before `today`. A delivery run
    passes the coverage and the org chart it read once, rather than reading them again
    for every manager. `reports`: the people to cover, when not the manager's direct
    reports (a 1:1's prep covers the one person it is with)."""
    period = Period.ending_before(today, period_days)
    if coverage is None:
        coverage = Coverage.load(period.previous.first_day, today)
    if reports is None:
        reports = digest_subjects(manager, period.first_day)
    # Full answers for direct reports only; the people below them are summed in SQL.
    answers = stats_answers(reports, period, coverage)
    teams = team_rollups(reports, period, coverage.workspace_id, chart)
    entries = [
        DigestEntry(
            answers[r.id],
            flags_for(answers[r.id], today),
            teams.get(r.id),
            r.archived_on if is_archived(r, today) else None,
        )
        for r in reports
    ]
    return Digest(
        manager, period, entries, coverage.data_as_of, coverage.missing(period), time_zone
    )

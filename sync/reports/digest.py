"""The 1:1-prep digest: each direct report's period against their own previous period,
with a one-line roll-up of the team below each report who manages people."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field, replace

from sync.config import AdoptionSettings
from sync.notices import Notice
from sync.org.access import digest_subjects, is_archived, policy_of
from sync.org.chart import OrgChart, members_below
from sync.org.privacy import individually_visible, sum_shown
from sync.reports.adoption import AdoptionAnswer, adoption_answer
from sync.reports.coverage import Coverage, DayRange
from sync.reports.periods import Period
from sync.reports.queries import (
    StatsAnswer,
    TeamRollup,
    TeamSums,
    stats_answers,
    team_rollups,
)
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
class TeamAggregate:
    """Everyone a digest covers, summed, for a manager who may not see some of them one by
    one (works-council mode): the digest's team-level section. `usage` is None when the
    people hidden from the manager are fewer than the floor (said, never shown)."""

    people: int
    usage: TeamRollup | None
    floor: int


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
    # Works-council mode: the team summed, in place of the reports `entries` leaves out.
    team_level: TeamAggregate | None = None
    # The reporting line's adoption over the same days, without names: the digest's last
    # section (sync/reports/adoption.py); None for a 1:1's prep.
    adoption: AdoptionAnswer | None = None


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
    policy: Collection[str] = (),
    adoption: AdoptionSettings | None = None,
    team_sums: TeamSums | None = None,
) -> Digest:
    """The digest for the `period_days` complete days before `today`. A delivery run
    passes the coverage and the org chart it read once, rather than reading them again
    for every manager. `reports`: the people to cover, when not the manager's direct
    reports (a 1:1's prep covers the one person it is with). `policy`: the AccessPolicy;
    in works-council mode the digest names only the reports the manager may see one by
    one, and sums everyone it covers into one team-level section above the floor.
    `adoption`: the [adoption] settings, to end the digest with the line's adoption.
    `team_sums`: a delivery run's per-person sums, read once for every digest in it, from
    which the roll-ups are summed in memory (the CEO's then costs what a lead's does)."""
    period = Period.ending_before(today, period_days)
    if coverage is None:
        coverage = Coverage.load(period.previous.first_day, today)
    if reports is None:
        reports = digest_subjects(manager, period.first_day)
    # Full answers for direct reports only; the people below them are only summed.
    accounts = None if team_sums is None else team_sums.accounts_of(reports)
    answers = stats_answers(reports, period, coverage, accounts)
    teams = team_rollups(reports, period, coverage.workspace_id, chart, team_sums)
    entries = [
        DigestEntry(
            answers[r.id],
            flags_for(answers[r.id], today),
            teams.get(r.id),
            r.archived_on if is_archived(r, today) else None,
        )
        for r in reports
    ]
    team_level = None
    if policy_of(policy).works_council:
        entries, team_level = _team_level(manager, reports, entries, teams, chart, policy)
    line = None
    if adoption is not None and reports:
        line = adoption_answer(period, adoption, manager, policy, manager=manager, names=False)
    return Digest(
        manager,
        period,
        entries,
        coverage.data_as_of,
        coverage.missing(period),
        time_zone,
        team_level,
        line,
    )


def _team_level(
    manager: Employee,
    reports: list[Employee],
    entries: list[DigestEntry],
    teams: dict[int, TeamRollup],
    chart: OrgChart | None,
    policy: Collection[str],
) -> tuple[list[DigestEntry], TeamAggregate | None]:
    """The entries the manager may see, without roll-ups, and the whole team summed; or
    the digest unchanged when works-council mode hides nobody it covers."""
    below = list(members_below(reports, chart))
    covered = reports + (list(Employee.select().where(Employee.id.in_(below))) if below else [])
    visible = individually_visible(manager, covered, policy)
    hidden = len(covered) - len(visible)
    if hidden == 0:
        return entries, None
    summed = TeamRollup(0, 0, 0.0, 0.0)
    for entry in entries:
        own = entry.answer
        rollup = entry.team or TeamRollup(0, 0, 0.0, 0.0)
        summed = TeamRollup(
            summed.people + 1 + rollup.people,
            summed.active_people + bool(own.current.active_days) + rollup.active_people,
            round(summed.credits + own.current.totals.credits + rollup.credits, 6),
            round(
                summed.previous_credits + own.previous.totals.credits + rollup.previous_credits,
                6,
            ),
        )
    shown = [replace(e, team=None) for e in entries if e.answer.employee.id in visible]
    usage = summed if sum_shown(manager, [p.id for p in covered], policy) else None
    return shown, TeamAggregate(len(covered), usage, policy_of(policy).min_group_size)

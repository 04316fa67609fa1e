"""The whole organisation for an admin's `/codex team all` (and plain `/codex team` for an
admin nobody reports to): rolled up one level below the top.

The top is whoever has no manager (a CEO; people the directory gives no manager, or who
manage themselves). Each person right below the top heads a branch, summed with everyone
below them into one line: its size, credits and active people. The people at the top are
a line of their own, so the lines add up to the directory, each person once. Leavers
count as in team views: their days up to leaving, in the branch they were in. Branches
are summed in SQL (queries.team_rollups): an organisation of 10,000 costs a query per
tree level, not one per person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sync.clock import utc_today
from sync.org.access import is_archived
from sync.org.chart import load_org_chart
from sync.reports.coverage import Coverage, DayRange
from sync.reports.periods import Period
from sync.reports.queries import StatsAnswer, TeamRollup, stats_answers, team_rollups
from sync.store.models import Employee

# The people at the top named on their line; the rest are counted.
TOP_NAMED = 5
# Branches listed: 44 sections of 20 lines and six other blocks fill a message's 50.
BRANCHES_SHOWN = 880


@dataclass(frozen=True)
class Branch:
    """A person right below the top and everyone below them, summed into one line."""

    head: Employee
    usage: TeamRollup
    left_on: dt.date | None = None  # a head who has left, whose people still report to them


@dataclass(frozen=True)
class OrganisationUsage:
    period: Period
    branches: list[Branch]  # the most credits first, cut to what a message can show
    hidden: int
    top: list[Employee]  # the people without a manager, named first ones first
    top_usage: TeamRollup
    size: int
    total_credits: float
    active_people: int
    data_as_of: dt.datetime | None
    missing: list[DayRange] = field(default_factory=list)
    # For a viewer who may not see each person (an analyst), after the group-size floor
    # (answers.organisation_for): the lines too small to show, summed into one...
    others: TeamRollup | None = None
    # ...or, when the whole organisation is below the floor, the floor (nothing shown).
    floor: int | None = None

    @property
    def top_named(self) -> list[Employee]:
        return self.top[:TOP_NAMED]

    @property
    def named(self) -> list[Employee]:
        """Everyone the answer names: the heads shown and the first people at the top."""
        return [branch.head for branch in self.branches] + self.top_named


def organisation_usage(period: Period, shown: int = BRANCHES_SHOWN) -> OrganisationUsage:
    """Every branch below the top and the top itself, for `period` against the one
    before, in the connected workspace."""
    coverage = Coverage.load(period.previous.first_day, utc_today())
    chart = load_org_chart()
    top = list(
        Employee.select()
        .where(Employee.manager.is_null() | (Employee.manager == Employee.id))
        .order_by(Employee.name, Employee.email)
    )
    top_ids = {person.id for person in top}
    head_ids = [
        report for person in top for report in chart.get(person.id, ()) if report not in top_ids
    ]
    heads = list(Employee.select().where(Employee.id.in_(head_ids))) if head_ids else []
    own = stats_answers([*top, *heads], period, coverage)
    below = team_rollups(heads, period, coverage.workspace_id, chart)
    today = utc_today()
    branches = []
    for head in heads:
        rollup = below.get(head.id)
        usage = _summed([own[head.id]])
        if rollup is not None:
            usage = TeamRollup(
                usage.people + rollup.people,
                usage.active_people + rollup.active_people,
                round(usage.credits + rollup.credits, 6),
                round(usage.previous_credits + rollup.previous_credits, 6),
            )
        left_on = head.archived_on if is_archived(head, today) else None
        branches.append(Branch(head, usage, left_on))
    branches.sort(key=lambda b: (-b.usage.credits, b.head.display_name.lower()))
    top_usage = _summed([own[person.id] for person in top])
    lines = [branch.usage for branch in branches] + [top_usage]
    return OrganisationUsage(
        period=period,
        branches=branches[:shown],
        hidden=max(0, len(branches) - shown),
        top=top,
        top_usage=top_usage,
        size=sum(line.people for line in lines),
        total_credits=round(sum(line.credits for line in lines), 6),
        active_people=sum(line.active_people for line in lines),
        data_as_of=coverage.data_as_of,
        missing=coverage.missing(period),
    )


def _summed(answers: list[StatsAnswer]) -> TeamRollup:
    return TeamRollup(
        len(answers),
        sum(1 for a in answers if a.current.active_days),
        round(sum(a.current.totals.credits for a in answers), 6),
        round(sum(a.previous.totals.credits for a in answers), 6),
    )

"""Exports: Codex usage as CSV, one line per person, UTC day and surface with the six
counts, for taking into a review document (`/codex export`, `codexbot export`).

An export holds only people its viewer may see (sync/org/access.py) and is logged as a
view of each of them. Its lines are read by the same query as stats answers
(queries.usage_by_day_and_surface), so a person's lines sum to their stats answer. A
token count the API has not published is an empty cell, never 0, and the days no sync has
read are said in the file's first line (the heading the caller renders), never shown as
zeros. Names, emails and departments come from outside (an HRIS file, SCIM, Slack): a
cell a spreadsheet would run as a formula is neutralised.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import IO

from peewee import chunked

from sync.clock import utc_today
from sync.notices import Notice, Problem
from sync.org.access import Viewer, may_view, team_of
from sync.org.access_log import record_views
from sync.org.privacy import individually_visible
from sync.reports.answers import NOT_IN_DIRECTORY, refusal
from sync.reports.coverage import Coverage, DayRange
from sync.reports.metrics import STAT_FIELDS, Stats
from sync.reports.periods import STATS_PERIOD_DAYS, Period
from sync.reports.queries import usage_by_day_and_surface
from sync.store.models import Employee

EXPORT_PERIOD_DAYS = STATS_PERIOD_DAYS
COLUMNS = ("email", "name", "department", "day", "surface", *STAT_FIELDS, "tokens_pending")
# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets:
# OWASP's CSV injection list (=, +, -, @, tab, carriage return, and since 2025 line feed).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
# People read per query: a 90-day batch is at most 200 x 90 x 5 lines in memory, whatever
# the size of the export, which is written as it is read.
PEOPLE_PER_QUERY = 200
# Access-log rows inserted per statement (SQLite takes 32,766 parameters, 4 a row).
VIEWS_PER_INSERT = 1000

SCOPE_SELF = "self"
SCOPE_PERSON = "person"
SCOPE_TEAM = "team"
SCOPE_ORGANISATION = "organisation"


@dataclass(frozen=True)
class Export:
    """What an export will hold: decided (access checked) but not read yet."""

    viewer: Employee
    scope: str  # SCOPE_SELF, SCOPE_PERSON (`person`), SCOPE_TEAM or SCOPE_ORGANISATION
    people: list[Employee]  # in the order their lines come
    period: Period
    workspace_id: str | None  # the connected workspace, whose usage answers read
    data_as_of: dt.datetime | None
    missing: list[DayRange]  # days of the period no sync has read
    person: Employee | None = None  # the one person a SCOPE_PERSON export is about


class ExportTooLarge(Problem):
    """More lines than the caller can take (a Slack DM's bound); nothing was logged."""

    kind = "export_too_large"


def ask_export(
    viewer: Viewer,
    find_target: Callable[[], Employee | None] | None,
    period: Period,
    admin_emails: Collection[str],
    *,
    whole_team: bool = False,
    everyone: bool = False,
) -> Export | Notice:
    """What `viewer` may export for `period`: the person `find_target` finds (called only
    for a viewer in the directory), else with `whole_team` everyone below the viewer (for
    an admin with nobody below them, the whole directory, as `/codex team` shows), with
    `everyone` the whole directory (admins only), else their own usage. Refused as a
    stats answer would be: the same words whether the person exists or not."""
    employee = viewer.employee
    if employee is None:
        return NOT_IN_DIRECTORY
    person = None
    if everyone:
        if not viewer.is_admin(admin_emails):
            return Notice("admins_only", {"action": "organisation"})
        scope, people = SCOPE_ORGANISATION, everyone_in_directory()
    elif whole_team:
        scope, people = SCOPE_TEAM, team_of(employee)
        if not people and viewer.is_admin(admin_emails):
            scope, people = SCOPE_ORGANISATION, everyone_in_directory()
        if not people:
            return Notice("no_team")
        # An export is one person's lines: in works-council mode, only those the viewer
        # may see one by one (their sums are in `/codex team`).
        visible = individually_visible(employee, people, admin_emails)
        if len(visible) < len(people):
            hidden = next(person for person in people if person.id not in visible)
            people = [person for person in people if person.id in visible]
            if not people:
                return refusal(employee, hidden, admin_emails)
    else:
        person = employee if find_target is None else find_target()
        if person is None or not may_view(employee, person, admin_emails):
            return refusal(employee, person, admin_emails)
        scope = SCOPE_SELF if person.id == employee.id else SCOPE_PERSON
        people = [person]
    coverage = Coverage.load(period.first_day, utc_today())
    return Export(
        employee,
        scope,
        people,
        period,
        coverage.workspace_id,
        coverage.data_as_of,
        coverage.missing(period),
        person if scope == SCOPE_PERSON else None,
    )


def everyone_in_directory() -> list[Employee]:
    """The whole directory, archived people included (their history still counts), in
    the order team lists use."""
    return list(Employee.select().order_by(Employee.name, Employee.email))


def write_export(
    export: Export, out: IO[str], heading: str, *, row_limit: int | None = None
) -> int:
    """Write `export` to `out` as CSV: `heading` as a first `#` line, the column names,
    then the lines as they are read; returns how many lines. Once all are written, each
    person in it is logged as viewed. Past `row_limit` lines it stops with ExportTooLarge,
    having logged nothing (what it wrote so far is for the caller to discard)."""
    out.write("# " + " ".join(heading.split()) + "\r\n")
    writer = csv.writer(out)  # RFC 4180: quotes where needed, CRLF line ends
    writer.writerow(COLUMNS)
    written = 0
    for line in export_lines(export):
        written += 1
        if row_limit is not None and written > row_limit:
            raise ExportTooLarge(limit=row_limit, days=export.period.days)
        writer.writerow(line)
    for batch in chunked(export.people, VIEWS_PER_INSERT):
        record_views(export.viewer, batch, "export")
    return written


def export_lines(export: Export) -> Iterator[list[str | int | float]]:
    """The export's cells, line by line, PEOPLE_PER_QUERY people per query."""
    for batch in chunked(export.people, PEOPLE_PER_QUERY):
        for usage in usage_by_day_and_surface(batch, export.period, export.workspace_id):
            person = usage.employee
            yield [
                neutralised(person.email),
                neutralised(person.name),
                neutralised(person.department or ""),
                usage.day.isoformat(),
                neutralised(usage.surface),
                *_counts(usage.stats),
            ]


def _counts(stats: Stats) -> list[str | int | float]:
    # A token count nobody has published is unknown, not zero: an empty cell.
    cells: list[str | int | float] = [
        "" if stats.value(name) is None else stats.value(name) for name in STAT_FIELDS
    ]
    return [*cells, "yes" if stats.tokens_pending else ""]


def neutralised(cell: str) -> str:
    """`cell` as text a spreadsheet shows rather than runs: one starting with a formula
    trigger gets a leading apostrophe, which spreadsheets read as "this is text" (OWASP's
    advice). The csv writer then quotes any comma, quote or line break inside it, so
    nothing can open a new cell either."""
    return "'" + cell if cell.startswith(FORMULA_TRIGGERS) else cell

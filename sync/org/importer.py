"""Importing the org directory from CSV: all or nothing, every problem with its line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync.config import ORG_COLUMNS
from sync.org.chart import manager_loops
from sync.org.directory import is_valid_email, normalize_email
from sync.store.models import ROLE_EMPLOYEE, ROLES, Employee, database

COLUMNS = ORG_COLUMNS

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class OrgImportError(Exception):
    """The CSV was refused as a whole; `problems` lists every reason, one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int = 0


@dataclass
class _Row:
    line: int
    email: str
    manager_email: str | None
    fields: dict[str, object]  # only the optional columns the file has, parsed

    @property
    def slack_user_id(self) -> str | None:
        slack_id = self.fields.get("slack_user_id")
        return slack_id if isinstance(slack_id, str) else None


class _Problems(list):
    def add(self, line: int, message: str) -> None:
        self.append((line, f"line {line}: {message}"))


def import_org_csv(source: str | os.PathLike | IO) -> ImportSummary:
    """Create or update (by email) everyone in the CSV, all or nothing.

    A column the file has is authoritative for the people it lists, so an empty cell
    clears the value (no manager, not archived, ...); a column it lacks is left as is.
    People absent from the file are not touched.
    """
    problems = _Problems()
    columns, rows = _parse(_read_text(source), problems)
    with database.atomic():
        existing = {e.email: e for e in Employee.select()}
        if columns:
            _check_against_directory(columns, rows, existing, problems)
        if problems:
            raise OrgImportError([message for _, message in sorted(problems, key=lambda p: p[0])])
        return _apply(columns, rows, existing)


def _read_text(source: str | os.PathLike | IO) -> str:
    data = None
    try:
        data = Path(source).read_bytes() if isinstance(source, str | os.PathLike) else source.read()
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1 if isinstance(data, bytes) else None
        where = f"line {line}: " if line else ""
        raise OrgImportError([f"{where}the file is not UTF-8 text; save it as UTF-8 CSV"]) from exc
    except OSError as exc:
        raise OrgImportError([f"cannot read {source}: {exc.strerror or exc}"]) from exc
    return text.removeprefix("\ufeff")  # spreadsheet exports often start with a BOM


def _parse(text: str, problems: _Problems) -> tuple[tuple[str, ...] | None, list[_Row]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    columns: tuple[str, ...] | None = None
    rows: dict[str, _Row] = {}
    first_line = 1
    slack_lines: dict[str, int] = {}
    try:
        for cells in reader:
            # A quoted field may span lines: report the line its record starts on.
            line, first_line = first_line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                columns = _parse_header(line, cells, problems)
                if not columns:
                    return None, []
            elif len(cells) != len(columns):
                problems.add(line, f"has {len(cells)} fields but the header has {len(columns)}")
            elif row := _parse_row(line, dict(zip(columns, cells, strict=True)), problems):
                if row.email in rows:
                    problems.add(
                        line, f"{row.email} is already listed on line {rows[row.email].line}"
                    )
                    continue
                rows[row.email] = row
                slack_id = row.slack_user_id
                if slack_id in slack_lines:
                    problems.add(
                        line, f"Slack user {slack_id} is also on line {slack_lines[slack_id]}"
                    )
                elif slack_id:
                    slack_lines[slack_id] = line
    except csv.Error as exc:
        problems.add(reader.line_num, f"the CSV is malformed ({exc})")
    if columns is None and not problems:
        problems.add(1, "the file is empty; expected a header row with an email column")
    return columns, list(rows.values())


def _parse_header(line: int, cells: list[str], problems: _Problems) -> tuple[str, ...] | None:
    columns = tuple(cell.strip().lower() for cell in cells)
    messages = [
        f"unknown column {column!r}; known columns: {', '.join(COLUMNS)}"
        for column in columns
        if column not in COLUMNS
    ]
    messages += [
        f"column {c!r} appears twice" for c in sorted(set(columns)) if columns.count(c) > 1
    ]
    if "email" not in columns:
        messages.append("the header has no email column")
    for message in messages:
        problems.add(line, message)
    return None if messages else columns


def _parse_row(line: int, cells: dict[str, str], problems: _Problems) -> _Row | None:
    email = normalize_email(cells["email"])
    manager_email = normalize_email(cells.get("manager_email")) or None
    valid = True
    for column, value in (("email", email), ("manager_email", manager_email)):
        if value is not None and not is_valid_email(value):
            problems.add(line, f"{column} {cells[column].strip()!r} is not a valid email address")
            valid = False
    fields: dict[str, object] = {}
    for column, parse in _FIELD_PARSERS.items():
        if column in cells:
            try:
                fields[column] = parse(cells[column].strip())
            except ValueError as exc:
                problems.add(line, str(exc))
    return _Row(line, email, manager_email, fields) if valid else None


def _parse_role(value: str) -> str:
    role = value.lower() or ROLE_EMPLOYEE
    if role not in ROLES:
        raise ValueError(f"role {value!r} is not one of: {', '.join(ROLES)}")
    return role


def _parse_date(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        if _ISO_DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(f"archived_on {value!r} is not a date like 2024-01-31")


def _parse_time_zone(value: str) -> str | None:
    try:
        return ZoneInfo(value).key if value else None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"timezone {value!r} is not an IANA time zone like Europe/Paris") from None


# An empty cell clears the value, except role, which falls back to the default.
_FIELD_PARSERS: dict[str, Callable[[str], object]] = {
    "name": str,
    "role": _parse_role,
    "archived_on": _parse_date,
    "slack_user_id": lambda value: value or None,
    "timezone": _parse_time_zone,
}


def _check_against_directory(columns, rows: list[_Row], existing: dict, problems: _Problems):
    in_file = {row.email: row for row in rows}
    email_by_id = {employee.id: employee.email for employee in existing.values()}
    manager_of = {email: email_by_id.get(e.manager_id) for email, e in existing.items()}
    slack_owner = {e.slack_user_id: e.email for e in existing.values() if e.slack_user_id}
    for row in rows:
        if "manager_email" in columns:
            manager_of[row.email] = row.manager_email
        manager = row.manager_email
        if manager and manager not in in_file and manager not in existing:
            problems.add(row.line, f"manager {manager} is not in the directory or in this file")
        # Someone listed in the file gets their Slack id from the file, so only people
        # absent from it can clash.
        slack_id = row.slack_user_id
        owner = slack_owner.get(slack_id)
        if owner and owner != row.email and owner not in in_file:
            problems.add(row.line, f"Slack user {slack_id} already belongs to {owner}")
    for cycle in manager_loops(manager_of, in_file):
        lines = [in_file[email].line for email in cycle if email in in_file]
        if not lines:  # an old loop among people absent from the file is not this file's doing
            continue
        line = min(lines)
        if len(cycle) == 1:
            problems.add(line, f"{cycle[0]} is listed as their own manager")
        else:
            problems.add(line, "the manager chain loops: " + " -> ".join([*cycle, cycle[0]]))


def _apply(columns, rows: list[_Row], existing: dict[str, Employee]) -> ImportSummary:
    # Slack ids may move between people in one file; freeing the old ones first keeps the
    # unique index from tripping over a swap halfway through.
    moving = [
        existing[row.email].id
        for row in rows
        if row.email in existing
        and "slack_user_id" in row.fields
        and existing[row.email].slack_user_id not in (None, row.fields["slack_user_id"])
    ]
    for start in range(0, len(moving), 500):
        chunk = moving[start : start + 500]
        Employee.update(slack_user_id=None).where(Employee.id.in_(chunk)).execute()

    people: dict[str, Employee] = dict(existing)
    created, changed = set(), set()
    for row in rows:
        employee = existing.get(row.email)
        if employee is None:
            people[row.email] = Employee.create(email=row.email, **row.fields)
            created.add(row.email)
            continue
        fields = [name for name, value in row.fields.items() if getattr(employee, name) != value]
        if fields:
            for name in fields:
                setattr(employee, name, row.fields[name])
            employee.save(only=[getattr(Employee, name) for name in fields])
            changed.add(row.email)
    if "manager_email" in columns:
        for row in rows:
            employee = people[row.email]
            manager_id = people[row.manager_email].id if row.manager_email else None
            if employee.manager_id != manager_id:
                employee.manager = manager_id
                employee.save(only=[Employee.manager])
                if row.email not in created:
                    changed.add(row.email)
    return ImportSummary(
        created=len(created), updated=len(changed), unchanged=len(rows) - len(created | changed)
    )

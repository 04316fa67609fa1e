"""Reading an org CSV: its headers matched to codexbot's columns (through `[org.columns]`,
whatever their case and surrounding spaces), every row parsed and checked on its own,
within bounds on the file's size, its rows and its cells. What the rows mean for the
directory is decided in importer.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync.config import ORG_COLUMNS
from sync.org.directory import is_valid_email, normalize_email
from sync.store.models import ROLE_EMPLOYEE, ROLES

COLUMNS = ORG_COLUMNS

# An HRIS export of the largest organisation codexbot is built for (bench/: 10,000
# people) is a few megabytes; anything far past that is not an org file.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
# The directory's text columns hold 255 characters (PostgreSQL refuses more).
MAX_CELL_CHARS = 255

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class OrgImportError(Exception):
    """The CSV was refused as a whole; `problems` lists every reason, one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class Problems(list):
    """(line, sentence) pairs, reported in line order; line 0 is about the whole file."""

    def add(self, line: int, message: str) -> None:
        self.append((line, f"line {line}: {message}" if line else message))

    def refusal(self) -> OrgImportError:
        return OrgImportError([message for _, message in sorted(self, key=lambda p: p[0])])


@dataclass
class Row:
    line: int
    email: str
    manager_email: str | None
    fields: dict[str, object]  # only the optional columns the file has, parsed

    @property
    def slack_user_id(self) -> str | None:
        slack_id = self.fields.get("slack_user_id")
        return slack_id if isinstance(slack_id, str) else None


@dataclass(frozen=True)
class OrgRows:
    headers: dict[str, str]  # each of codexbot's columns the file has -> its header there
    ignored: tuple[str, ...]  # the file's headers that name no column
    rows: list[Row]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.headers)


def read_org_file(source: str | os.PathLike | IO) -> bytes | str:
    """The file's content (bytes from a path), refused past MAX_FILE_BYTES."""
    try:
        if isinstance(source, str | os.PathLike):
            with open(source, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        else:
            data = source.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise OrgImportError([f"cannot read {source}: {exc.strerror or exc}"]) from exc
    if len(data) > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // (1024 * 1024)
        raise OrgImportError([f"the file is larger than {limit} MiB, the most codexbot reads"])
    return data


def fingerprint(data: bytes | str) -> str:
    """SHA-256 of the file's bytes: whether an org file changed since it was last read."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def parse_org_csv(
    data: bytes | str, mapping: Mapping[str, str], problems: Problems
) -> OrgRows | None:
    """Every row of the file, each checked on its own; None when its header is unusable.
    Problems are added to `problems`, never raised."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str | None] | None = None
    headers: dict[str, str] = {}
    ignored: tuple[str, ...] = ()
    rows: dict[str, Row] = {}
    first_line = 1
    records = 0
    slack_lines: dict[str, int] = {}
    try:
        for cells in reader:
            # A quoted field may span lines: report the line its record starts on.
            line, first_line = first_line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header, headers, ignored = _parse_header(line, cells, mapping, problems)
                if not headers or "email" not in headers:
                    return None
                continue
            records += 1
            if records > MAX_ROWS:
                problems.add(
                    line, f"the file has more than {MAX_ROWS:,} rows, the most codexbot imports"
                )
                break
            if len(cells) != len(header):
                problems.add(line, f"has {len(cells)} fields but the header has {len(header)}")
                continue
            values = {column: cell for column, cell in zip(header, cells, strict=True) if column}
            row = _parse_row(line, values, headers, problems)
            if row is None:
                continue
            if row.email in rows:
                problems.add(line, f"{row.email} is already listed on line {rows[row.email].line}")
                continue
            rows[row.email] = row
            slack_id = row.slack_user_id
            if slack_id in slack_lines:
                problems.add(line, f"Slack user {slack_id} is also on line {slack_lines[slack_id]}")
            elif slack_id:
                slack_lines[slack_id] = line
    except csv.Error as exc:
        problems.add(reader.line_num, f"the CSV is malformed ({exc})")
    if header is None:
        if not problems:
            problems.add(1, "the file is empty; expected a header row with an email column")
        return None
    return OrgRows(headers, ignored, list(rows.values()))


def _decode(data: bytes | str) -> str:
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise OrgImportError(
                [f"line {line}: the file is not UTF-8 text; save it as UTF-8 CSV"]
            ) from exc
    else:
        text = data
    return text.removeprefix("\ufeff")  # spreadsheet exports often start with a BOM


def _parse_header(
    line: int, cells: list[str], mapping: Mapping[str, str], problems: Problems
) -> tuple[list[str | None], dict[str, str], tuple[str, ...]]:
    """The column at each position (None: ignored), each column's header, and the headers
    ignored. A column is read from the header `[org.columns]` maps it to, else from its own
    name (so one configuration reads HRIS exports and hand-made files alike); headers
    match whatever their case and surrounding spaces."""
    mapped = {name.strip().lower(): column for column, name in mapping.items()}
    # A column's own name, unless another column is mapped to that very header.
    own = {column: column for column in COLUMNS if column not in mapped}
    names = [cell.strip() for cell in cells]
    header: list[str | None] = [None] * len(names)
    headers: dict[str, str] = {}
    for by, lookup in (("mapped", mapped), ("own", own)):
        for position, name in enumerate(names):
            column = lookup.get(name.lower())
            if column is None or header[position] is not None:
                continue
            if column not in headers:
                header[position] = column
                headers[column] = name
            elif by == "mapped" or headers[column].lower() == name.lower():
                problems.add(line, f"column {name!r} appears twice")
    headers = {column: names[position] for position, column in enumerate(header) if column}
    ignored = [name for position, name in enumerate(names) if header[position] is None and name]
    if "email" not in headers:
        if "email" in mapping:
            hint = f" (nor {mapping['email']!r}, its name in [org.columns])"
        else:
            hint = '; a file that names it otherwise needs [org.columns] email = "ITS HEADER"'
        problems.add(line, f"the header has no email column{hint}")
    return header, headers, tuple(dict.fromkeys(ignored))


def _parse_row(
    line: int, cells: dict[str, str], headers: dict[str, str], problems: Problems
) -> Row | None:
    too_long = [c for c, value in cells.items() if len(value.strip()) > MAX_CELL_CHARS]
    for column in too_long:
        problems.add(line, f"{headers[column]} is longer than {MAX_CELL_CHARS} characters")
    if too_long:
        return None
    email = normalize_email(cells["email"])
    manager_email = normalize_email(cells.get("manager_email")) or None
    valid = True
    for column, value in (("email", email), ("manager_email", manager_email)):
        if value is not None and not is_valid_email(value):
            problems.add(
                line, f"{headers[column]} {cells[column].strip()!r} is not a valid email address"
            )
            valid = False
    fields: dict[str, object] = {}
    for column, parse in _FIELD_PARSERS.items():
        if column in cells:
            value = cells[column].strip()
            try:
                fields[column] = parse(value)
            except ValueError as exc:
                problems.add(line, f"{headers[column]} {value!r} {exc}")
    return Row(line, email, manager_email, fields) if valid else None


def _parse_role(value: str) -> str:
    role = value.lower() or ROLE_EMPLOYEE
    if role not in ROLES:
        raise ValueError(f"is not one of: {', '.join(ROLES)}")
    return role


def _parse_date(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        if _ISO_DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError("is not a date like 2024-01-31")


def _parse_time_zone(value: str) -> str | None:
    try:
        return ZoneInfo(value).key if value else None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("is not an IANA time zone like Europe/Paris") from None


# An empty cell clears the value, except role, which falls back to the default.
_FIELD_PARSERS: dict[str, Callable[[str], object]] = {
    "name": str,
    "role": _parse_role,
    "archived_on": _parse_date,
    "slack_user_id": lambda value: value or None,
    "timezone": _parse_time_zone,
    "department": lambda value: value or None,
}

"""Writing usage: the batched, idempotent upsert that every sync goes through (the hot path).

Each statement is written once per engine from the models' column names: building it row
by row through the ORM cost ten times the database's work. SQLite runs it with the
driver's `executemany` (in-process: no round trips to save). PostgreSQL gets the rows by
COPY into a temporary table, then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`:
COPY is the server's bulk path, where a multi-row INSERT (`execute_values`) makes the
server parse, plan and run one statement per thousand rows; it reached 0.46 of the COPY
pipeline (issue 15).
"""

from __future__ import annotations

import io
import operator
from collections.abc import Sequence
from functools import cache

from peewee import Field, PostgresqlDatabase

from sync.codex.client import collector_paused
from sync.codex.rows import UsageRecord
from sync.org.directory import normalize_email
from sync.store.models import CodexUser, DailyUsage, database
from sync.store.rollups import note_usage_changed

_USAGE_KEY = (
    DailyUsage.workspace_id,
    DailyUsage.codex_user_id,
    DailyUsage.day,
    DailyUsage.client_id,
)
_USAGE_COUNTS = (
    DailyUsage.threads,
    DailyUsage.turns,
    DailyUsage.credits,
    DailyUsage.input_tokens,
    DailyUsage.output_tokens,
    DailyUsage.total_tokens,
    DailyUsage.cached_input_tokens,
)
# A usage row is the workspace, the record's fields but its email (UsageRecord lists them
# in the same order as _USAGE_KEY and _USAGE_COUNTS), then the sync run that wrote it.
_USER_FIELDS = (CodexUser.user_id, CodexUser.email)
_USAGE_FIELDS = (*_USAGE_KEY, *_USAGE_COUNTS, DailyUsage.sync_run)
_USER_ID, _DAY = operator.itemgetter(0), operator.itemgetter(2)
_USER_AND_EMAIL, _EMAIL_GIVEN = operator.itemgetter(0, 1), operator.itemgetter(1)
# The temporary tables COPY fills, one per statement; dropped at commit at the latest.
_COPY_TABLE = {CodexUser: "codexbot_users_in", DailyUsage: "codexbot_usage_in"}
# COPY's text format: a backslash escapes these; None is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@cache
def _upsert_statements(postgres: bool) -> tuple[str, str]:
    """The upserts of Codex users and of usage. On PostgreSQL, they read the rows from the
    temporary table that `_copy_in` fills; on SQLite, one row's placeholders."""

    def upsert(fields: Sequence[Field], key: Sequence[Field], assignments: list[str]) -> str:
        model = fields[0].model
        table = _quoted(model._meta.table_name)
        columns = ", ".join(_quoted(f.column_name) for f in fields)
        if postgres:
            values = f"SELECT {columns} FROM {_COPY_TABLE[model]}"
        else:
            values = "VALUES (" + ", ".join("?" * len(fields)) + ")"
        conflict = ", ".join(_quoted(f.column_name) for f in key)
        return (
            f"INSERT INTO {table} ({columns}) {values} "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(assignments)}"
        )

    email = _quoted(CodexUser.email.column_name)
    users = upsert(
        _USER_FIELDS,
        (CodexUser.user_id,),
        # A row that withholds the email must not erase one we already know.
        [f"{email} = COALESCE(EXCLUDED.{email}, {_quoted(CodexUser._meta.table_name)}.{email})"],
    )
    usage = upsert(
        _USAGE_FIELDS,
        _USAGE_KEY,
        [
            f"{_quoted(f.column_name)} = EXCLUDED.{_quoted(f.column_name)}"
            for f in _USAGE_FIELDS[len(_USAGE_KEY) :]
        ],
    )
    return users, usage


def _quoted(name: str) -> str:
    return f'"{name}"'


def upsert_usage(
    records: Sequence[UsageRecord], sync_run_id: int | None, workspace_id: str
) -> None:
    """Store a page of `workspace_id`'s records in one transaction; re-reading a day
    overwrites it, and a key given twice keeps the last."""
    if not records:
        return
    postgres = isinstance(database.obj, PostgresqlDatabase)
    users_sql, usage_sql = _upsert_statements(postgres)
    # Tuples of plain values, which make no cycles: the collector would only walk the page
    # (see collector_paused), a quarter of this function's time in the ingest benchmark.
    # Paused until they are freed, or the first collection after would walk them all.
    with collector_paused():
        users, rows = _rows(records, sync_run_id, workspace_id, postgres)
        with database.atomic():
            note_usage_changed()  # in the page's transaction (sync/store/rollups.py)
            cursor = database.cursor()
            if postgres:
                _copy_in(cursor, _USER_FIELDS, users)
                cursor.execute(users_sql)
                _copy_in(cursor, _USAGE_FIELDS, rows)
                cursor.execute(usage_sql)
                # Dropped now rather than at commit: a caller's transaction may hold pages.
                cursor.execute(f"DROP TABLE {', '.join(_COPY_TABLE.values())}")
            else:
                cursor.executemany(users_sql, users)
                cursor.executemany(usage_sql, rows)
        del users, rows


def _rows(
    records: Sequence[UsageRecord], sync_run_id: int | None, workspace_id: str, postgres: bool
) -> tuple[list[tuple], list[tuple]]:
    """The Codex users' rows and the usage rows of `records`."""
    # Each user once, with the last email given for them, if any: loops of map and
    # filter in C. As a Python loop, this took a fifth of building the rows.
    emails: dict[str, str | None] = dict.fromkeys(map(_USER_ID, records))
    emails.update(filter(_EMAIL_GIVEN, map(_USER_AND_EMAIL, records)))
    # Attribution compares lower-cased emails; store them so whoever calls this.
    users = sorted((user, normalize_email(email) or None) for user, email in emails.items())
    if postgres:
        # PostgreSQL refuses to upsert one key twice in a statement; the last one wins,
        # as it does on SQLite, where executemany upserts the rows one after the other.
        unique = {(r[0], r[2], r[3]): r for r in records}.values()
        return users, [(workspace_id, r[0], *r[2:], sync_run_id) for r in unique]
    # Days as the ISO text SQLite stores (sync/store/database.py), each written once:
    # through the driver's adapter a day cost a microsecond a row, a sixth of the upsert.
    days = {day: day.isoformat() for day in set(map(_DAY, records))}
    # Unpacked into names: slicing each record (r[3:]) cost a quarter more.
    return users, [
        (
            workspace_id,
            user,
            days[day],
            client,
            threads,
            turns,
            credits,
            inputs,
            out,
            total,
            cached,
            sync_run_id,
        )
        for user, _, day, client, threads, turns, credits, inputs, out, total, cached in records
    ]


def _copy_in(cursor, fields: Sequence[Field], rows: Sequence[tuple]) -> None:
    """`rows` into a new temporary table of `fields` (typed as their table's), by COPY."""
    model = fields[0].model
    table = _COPY_TABLE[model]
    columns = ", ".join(_quoted(f.column_name) for f in fields)
    cursor.execute(
        f"CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS "
        f"SELECT {columns} FROM {_quoted(model._meta.table_name)} WITH NO DATA"
    )
    cursor.copy_expert(f"COPY {table} FROM STDIN", io.StringIO(_copy_text(rows)), size=1 << 20)


def _copy_text(rows: Sequence[tuple]) -> str:
    """`rows` in COPY's text format: a tab between values, a line each, None as \\N, and a
    backslash before any tab, newline, carriage return or backslash in text from the API.
    Numbers and days are written as Python prints them, which PostgreSQL reads back
    exactly (a float's repr round-trips). Built column by column, so that most of the
    work is the C loops of map and join: value by value it cost a third of the COPY."""
    if not rows:
        return ""
    columns = [_copy_column(column) for column in zip(*rows, strict=True)]
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def _copy_column(values: tuple) -> Sequence[str]:
    kinds = set(map(type, values))
    if kinds == {str}:
        if not any(special in "".join(values) for special in "\\\t\n\r"):
            return values  # the usual text: nothing to escape
    elif str not in kinds:  # numbers or days: each distinct one printed once
        unique = set(values)
        if len(unique) * 2 > len(values):
            return [_copy_value(value) for value in values]
        printed = {value: _copy_value(value) for value in unique}
        return [*map(printed.__getitem__, values)]
    return [_copy_value(value) for value in values]


def _copy_value(value: object) -> str:
    if value is None:
        return "\\N"
    if type(value) is str:
        return value.translate(_COPY_ESCAPES)
    return str(value)


def usage_in_window(workspace_id: str, first_day, last_day) -> bool:
    """Whether `workspace_id` has any usage stored in [first_day, last_day]."""
    return (
        DailyUsage.select()
        .where(DailyUsage.workspace_id == workspace_id, DailyUsage.day.between(first_day, last_day))
        .exists()
    )


def delete_unreported_usage(workspace_id: str, first_day, last_day, sync_run_id: int) -> int:
    """Drop rows in a fully re-read window that the API no longer reports (revised days)."""
    with database.atomic():
        note_usage_changed()
        return (
            DailyUsage.delete()
            .where(
                DailyUsage.workspace_id == workspace_id,
                DailyUsage.day.between(first_day, last_day),
                (DailyUsage.sync_run != sync_run_id) | DailyUsage.sync_run.is_null(),
            )
            .execute()
        )

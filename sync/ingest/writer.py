"""Writing usage: the batched, idempotent upsert that every sync goes through (the hot path).

Each statement is written once per engine from the models' column names: building it row
by row through the ORM cost ten times the database's work. PostgreSQL gets each page's
rows by COPY into a temporary table, then one `INSERT ... SELECT ... ON CONFLICT DO
UPDATE`: COPY is the server's bulk path, where a multi-row INSERT (`execute_values`) makes
the server parse, plan and run one statement per thousand rows; it reached 0.46 of the
COPY pipeline (issue 15).

SQLite stages the pages of a transaction in temporary tables keyed as the tables are, a
thousand rows a statement (see _stage_values), and `flush_staged_usage` moves them into
the tables, one `INSERT ... SELECT ... ON CONFLICT` each, in the key's order. A page of
the API holds one day of thousands of people, each in a leaf of its own in the key's
index (person, then day): stored page by page, every page of a transaction walked the
whole index again, and at 3.6M rows that index outgrows the page cache, so leaves were
read back and written out over and over. In the key's order, a transaction's rows reach
each leaf once; and each statement runs in SQLite without the interpreter's lock, so the
next pages are decoded meanwhile (sync/ingest/job.py fetches two ahead). Plain sqlite3
storing 10k people x 90 days x 4 surfaces in 200k-row transactions: 22.4 s page by page,
19.0 s staged; the full-density backfill (bench/backfill.py): 54.4 s before, 37-41 s after.

How rows reach the staging tables decides what staging costs where neither gain shows
(bench/ingest.py stores in one thread, and its index fits the cache). Read from JSON
text, a statement a page, SQLite's json_extract cost more than the writes: 0.58 of the
plain driver's limit, against 0.84 writing straight into the table. Bound row by row
through `executemany`, 0.71, but the backfill took 47 s: the driver takes the
interpreter's lock back at every row, so the next page could not be decoded meanwhile.
Bound a thousand rows a statement, the records' values chained with no tuple built per
row: 0.76 fresh and 0.85 re-sync, storing alone 0.90 and 1.06 (the rest was decoding and
parsing, which check what the limit takes on trust: 0.87 and 0.90 since rows.py reads
typed rows inline), and the backfill 40.8 s, its peak RSS 216 MB (JSON: 41.5 s and
232 MB).

Either way, a page is first prepared (`prepare_page`: the COPY text, or the values to
bind) without the database, on the thread that fetches it, and a sync writes each Codex
user once unless their email changes.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import operator
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from peewee import Field, Model, PostgresqlDatabase

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
# The temporary tables holding rows on their way in: on PostgreSQL, a page's, filled by
# COPY and dropped at commit at the latest; on SQLite, a transaction's pages, until
# flush_staged_usage drops them.
_STAGING_TABLE = {CodexUser: "codexbot_users_in", DailyUsage: "codexbot_usage_in"}
_STAGED_FOR = "codexbot_usage_in_for"  # SQLite: see _SqliteStaging
# Rows a staging statement binds at most. Each statement of a size stays compiled, with
# a cell for each value and the last values bound: at the 2,978 records SQLite would
# bind, a full-density backfill peaked at 270 MB against 217 MB, and went no faster.
_STAGED_ROWS_PER_STATEMENT = 1024
# COPY's text format: a backslash escapes these; None is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@cache
def _upsert_statements(postgres: bool) -> tuple[str, str]:
    """The upserts of Codex users and of usage, from their staging tables: on PostgreSQL
    the one `_copy_in` fills with a page; on SQLite the one `stage_prepared` fills with a
    transaction's pages, read in the key's order (the usage's workspace and sync run are
    bound: see _STAGED_FOR)."""

    def upsert(fields: Sequence[Field], selected: Sequence[str]) -> str:
        model = fields[0].model
        columns = ", ".join(_quoted(f.column_name) for f in fields)
        table = _quoted(model._meta.table_name)
        values = f"SELECT {', '.join(selected)} FROM {_STAGING_TABLE[model]}"
        if not postgres:
            # WHERE true: without it, SQLite would read ON CONFLICT as a join's constraint.
            values += " WHERE true"
        return f"INSERT INTO {table} ({columns}) {values} {_on_conflict(model, table)}"

    user_columns = [_quoted(f.column_name) for f in _USER_FIELDS]
    usage_columns = [_quoted(f.column_name) for f in _USAGE_FIELDS]
    if not postgres:
        usage_columns = ["?", *usage_columns[1:-1], "?"]
    return upsert(_USER_FIELDS, user_columns), upsert(_USAGE_FIELDS, usage_columns)


def _on_conflict(model: type[Model], table: str) -> str:
    """How a row meets the stored one with its key, in `table`: a usage row replaces its
    counts (the last read of a day wins); a user's email is replaced unless the row
    withholds it, which must not erase one we already know."""
    if model is CodexUser:
        email = _quoted(CodexUser.email.column_name)
        return (
            f"ON CONFLICT ({_quoted(CodexUser.user_id.column_name)}) "
            f"DO UPDATE SET {email} = COALESCE(EXCLUDED.{email}, {table}.{email})"
        )
    key = ", ".join(_quoted(f.column_name) for f in _USAGE_KEY)
    return f"ON CONFLICT ({key}) DO UPDATE SET {_replaced(_USAGE_FIELDS[len(_USAGE_KEY) :])}"


def _replaced(fields: Sequence[Field]) -> str:
    """DO UPDATE's assignments giving `fields` the incoming row's values."""
    return ", ".join(
        f"{_quoted(f.column_name)} = EXCLUDED.{_quoted(f.column_name)}" for f in fields
    )


@dataclass(frozen=True)
class _SqliteStaging:
    """SQLite: a model's staging table, temporary (this connection's own) and keyed as its
    table is, but for the workspace, so that the flush reads it in the key's order.

    Rows are staged as they come: users as (user, email), usage as the records themselves
    (UsageRecord: the key and counts named and ordered as in _USAGE_FIELDS, the email
    second), so that a page's values are its records chained, with no tuple built per
    row. The workspace and sync run of the staged usage, the same for all its rows, are
    kept once, in the table _STAGED_FOR."""

    table: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    on_conflict: str  # how a row meets a staged one with its key: as in its table
    _inserts: dict[int, str] = field(default_factory=dict, compare=False)

    def create(self) -> str:
        return (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.table} "
            f"({', '.join(map(_quoted, self.columns))}, "
            f"PRIMARY KEY ({', '.join(map(_quoted, self.key))})) WITHOUT ROWID"
        )

    def insert(self, rows: int) -> str:
        """The statement upserting `rows` rows, all bound. Many rows a statement, which
        SQLite runs without the interpreter's lock: bound row by row through
        `executemany`, the driver takes the lock back at every row, and while the next
        page was decoded each took a turn of the thread switch (3 microseconds a row)."""
        if rows not in self._inserts:
            row = f"({', '.join('?' * len(self.columns))})"
            self._inserts[rows] = (
                f"INSERT INTO temp.{self.table} VALUES {', '.join([row] * rows)} "
                + self.on_conflict
            )
        return self._inserts[rows]


def _sqlite_staging() -> dict[type[Model], _SqliteStaging]:
    users, usage = _STAGING_TABLE[CodexUser], _STAGING_TABLE[DailyUsage]
    # The flush reads the staged records by their tables' column names.
    record_columns = [name for name in UsageRecord._fields if name != "email"]
    assert record_columns == [f.column_name for f in _USAGE_FIELDS[1:-1]], record_columns
    usage_key = tuple(f.column_name for f in _USAGE_KEY[1:])
    return {
        CodexUser: _SqliteStaging(
            users,
            tuple(f.column_name for f in _USER_FIELDS),
            (CodexUser.user_id.column_name,),
            _on_conflict(CodexUser, users),
        ),
        DailyUsage: _SqliteStaging(
            usage,
            UsageRecord._fields,
            usage_key,
            # The counts, as _on_conflict does; the staged email is not read.
            f"ON CONFLICT ({', '.join(map(_quoted, usage_key))}) "
            f"DO UPDATE SET {_replaced(_USAGE_COUNTS)}",
        ),
    }


def _quoted(name: str) -> str:
    return f'"{name}"'


_SQLITE_STAGING = _sqlite_staging()


def upsert_usage(
    records: Sequence[UsageRecord], sync_run_id: int | None, workspace_id: str
) -> None:
    """Store a page of `workspace_id`'s records in one transaction; re-reading a day
    overwrites it, and a key given twice keeps the last."""
    with database.atomic():
        stage_usage(records, sync_run_id, workspace_id)
        flush_staged_usage()


@dataclass(frozen=True)
class PreparedPage:
    """A page of records as its engine's staging takes them: on PostgreSQL the text that
    COPY reads, on SQLite the rows' values one after the other (see _SqliteStaging),
    which stage_prepared binds many rows a statement. Built without the database, so
    that a sync builds the next pages' while it stores one (sync/ingest/job.py): on
    PostgreSQL, building the COPY text is most of the Python work of storing a page, and
    the server waited for it."""

    workspace_id: str
    sync_run_id: int | None
    records: int
    latest_day: dt.date | None
    users: str | list[object] = ""  # empty: no user to write
    usage: str | list[object] = ""


def prepare_page(
    records: Sequence[UsageRecord],
    sync_run_id: int | None,
    workspace_id: str,
    users_written: dict[str, str | None] | None = None,
) -> PreparedPage:
    """`records`, ready for stage_prepared. `users_written`, if given, is what the pages
    prepared before these wrote of Codex users (user -> email), a sync's own: a user
    already written with the same email, or given no email now, is left out, as writing
    it again would change nothing. A page of the API lists each of its people again for
    every day: without it, a 90-day backfill upserted each user 90 times."""
    if not records:
        return PreparedPage(workspace_id, sync_run_id, 0, None)
    postgres = _on_postgres()
    # Tuples of plain values, which make no cycles: the collector would only walk the page
    # (see collector_paused), a quarter of this function's time in the ingest benchmark.
    # Paused until they are freed, or the first collection after would walk them all.
    with collector_paused():
        users = _users_to_write(records, users_written)
        users_out: str | list[object]
        usage_out: str | list[object]
        if postgres:
            users_out, usage_out = (
                _copy_text(users),
                _copy_text(_usage_rows(records, sync_run_id, workspace_id)),
            )
        else:
            users_out = list(itertools.chain.from_iterable(users))
            usage_out = list(itertools.chain.from_iterable(records))
        del users
    latest_day = max(map(_DAY, records))
    return PreparedPage(workspace_id, sync_run_id, len(records), latest_day, users_out, usage_out)


def _changes(user: tuple[str, str | None], users_written: dict[str, str | None]) -> bool:
    user_id, email = user
    return user_id not in users_written or (email is not None and email != users_written[user_id])


def stage_usage(records: Sequence[UsageRecord], sync_run_id: int | None, workspace_id: str) -> None:
    """Write a page of `workspace_id`'s records in the open transaction (see
    stage_prepared)."""
    stage_prepared(prepare_page(records, sync_run_id, workspace_id))


def stage_prepared(page: PreparedPage) -> None:
    """Write a prepared page in the open transaction: on PostgreSQL into the tables; on
    SQLite into the staging tables, which flush_staged_usage moves into the tables
    before the transaction commits (the caller's to call)."""
    if not page.records:
        return
    users, usage = page.users, page.usage
    with database.atomic():
        cursor = database.cursor()
        if _on_postgres():
            assert isinstance(users, str) and isinstance(usage, str), "prepared for SQLite"
            users_sql, usage_sql = _upsert_statements(True)
            note_usage_changed()  # in the page's transaction (sync/store/rollups.py)
            if users:
                _copy_in(cursor, CodexUser, users)
                cursor.execute(users_sql)
            _copy_in(cursor, DailyUsage, usage)
            cursor.execute(usage_sql)
            # Dropped now rather than at commit: a caller's transaction may hold pages.
            cursor.execute(f"DROP TABLE IF EXISTS {', '.join(_STAGING_TABLE.values())}")
        else:
            assert isinstance(users, list) and isinstance(usage, list), "prepared for PostgreSQL"
            staged_for = (page.workspace_id, page.sync_run_id)
            already = _staged_for(cursor)
            if already != staged_for:
                if already is not None:
                    # Staged usage has one workspace and sync run: rows of others are
                    # moved in first, as if each page had been stored alone.
                    flush_staged_usage()
                for staging in _SQLITE_STAGING.values():
                    cursor.execute(staging.create())
                cursor.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGED_FOR} (workspace_id, sync_run)"
                )
                cursor.execute(f"INSERT INTO temp.{_STAGED_FOR} VALUES (?, ?)", staged_for)
            _stage_values(cursor, CodexUser, users)
            _stage_values(cursor, DailyUsage, usage)


def flush_staged_usage() -> None:
    """SQLite: move the rows stage_prepared staged on this connection into the tables, in one
    statement per table, and drop the staging tables. PostgreSQL: nothing (each page is
    written as it is staged)."""
    if _on_postgres():
        return
    cursor = database.cursor()
    staged_for = _staged_for(cursor)
    if staged_for is None:
        return
    users_sql, usage_sql = _upsert_statements(False)
    with database.atomic():
        note_usage_changed()  # in the rows' transaction (sync/store/rollups.py)
        # Users first, as on PostgreSQL.
        cursor.execute(users_sql)
        cursor.execute(usage_sql, staged_for)
        cursor.execute(f"DROP TABLE temp.{_STAGED_FOR}")
        for name in _STAGING_TABLE.values():
            cursor.execute(f"DROP TABLE temp.{name}")


def _staged_for(cursor) -> tuple[str, int | None] | None:
    """SQLite: the workspace and sync run of the usage staged on this connection, or None
    if nothing is staged."""
    exists = cursor.execute(
        "SELECT 1 FROM sqlite_temp_master WHERE type = 'table' AND name = ?", (_STAGED_FOR,)
    ).fetchone()
    if exists is None:
        return None
    row = cursor.execute(f"SELECT workspace_id, sync_run FROM temp.{_STAGED_FOR}").fetchone()
    return None if row is None else tuple(row)


def _stage_values(cursor, model: type[Model], values: list[object]) -> None:
    """SQLite: rows of `model`'s staged columns, their values one after the other, into
    its staging table, _STAGED_ROWS_PER_STATEMENT rows a statement (fewer if SQLite binds
    fewer values), then the rest in halves, so that a connection compiles few statements."""
    staging = _SQLITE_STAGING[model]
    width = len(staging.columns)
    rows_left = len(values) // width
    bound = database.connection().getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    rows = min(_STAGED_ROWS_PER_STATEMENT, bound // width)
    start = 0
    while rows_left:
        while rows > rows_left:
            rows //= 2
        end = start + rows * width
        cursor.execute(staging.insert(rows), values[start:end])
        start, rows_left = end, rows_left - rows


def _on_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def _users_to_write(
    records: Sequence[UsageRecord], users_written: dict[str, str | None] | None
) -> list[tuple[str, str | None]]:
    """The Codex users of `records`, each once with the last email given for them, if any,
    but those `users_written` says are written already (see prepare_page)."""
    # Loops of map and filter in C. As a Python loop, this took a fifth of building rows.
    emails: dict[str, str | None] = dict.fromkeys(map(_USER_ID, records))
    emails.update(filter(_EMAIL_GIVEN, map(_USER_AND_EMAIL, records)))
    if users_written is not None and emails.items() <= users_written.items():
        # Every user as written already (parsed emails are normalized): checked in C, for
        # the usual page after a sync's first day, where the loop below took 70% of this.
        return []
    # Attribution compares lower-cased emails; store them so whoever calls this.
    users = sorted((user, normalize_email(email) or None) for user, email in emails.items())
    if users_written is not None:
        users = [u for u in users if _changes(u, users_written)]
        users_written.update(users)
    return users


def _usage_rows(
    records: Sequence[UsageRecord], sync_run_id: int | None, workspace_id: str
) -> list[tuple]:
    """PostgreSQL: the usage rows of `records`, each key once."""
    # PostgreSQL refuses to upsert one key twice in a statement; the last one wins, as it
    # does on SQLite, where the staged rows are upserted in the order staged.
    unique = {(r[0], r[2], r[3]): r for r in records}.values()
    return [(workspace_id, r[0], *r[2:], sync_run_id) for r in unique]


def _copy_in(cursor, model: type[Model], text: str) -> None:
    """`text` (see _copy_text) into a new temporary table of `model`'s staged columns
    (typed as its table's), by COPY."""
    table = _STAGING_TABLE[model]
    fields = _USER_FIELDS if model is CodexUser else _USAGE_FIELDS
    columns = ", ".join(_quoted(f.column_name) for f in fields)
    cursor.execute(
        f"CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS "
        f"SELECT {columns} FROM {_quoted(model._meta.table_name)} WITH NO DATA"
    )
    cursor.copy_expert(f"COPY {table} FROM STDIN", io.StringIO(text), size=1 << 20)


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

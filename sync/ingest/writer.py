"""Writing usage: the batched, idempotent upsert that every sync goes through (the hot path).

Each statement is written once per engine from the models' column names: building it row
by row through the ORM cost ten times the database's work. PostgreSQL gets each page's
rows by COPY into a temporary table, then one `INSERT ... SELECT ... ON CONFLICT DO
UPDATE`: COPY is the server's bulk path, where a multi-row INSERT (`execute_values`) makes
the server parse, plan and run one statement per thousand rows; it reached 0.46 of the
COPY pipeline (issue 15).

SQLite stages the pages of a transaction in a temporary table keyed as the table is, a
page per statement (see _staging_statements), and `flush_staged_usage` moves them into
the table in one `INSERT ... SELECT ... ON CONFLICT`, in the key's order. A page of the
API holds one day of thousands of people, each in a leaf of its own in the key's index
(person, then day): stored page by page, every page of a transaction walked the whole
index again, and at 3.6M rows that index outgrows the page cache, so leaves were read
back and written out over and over. In the key's order, a transaction's rows reach each
leaf once; and each statement runs in SQLite without the interpreter's lock, so the next
pages are decoded meanwhile (sync/ingest/job.py fetches two ahead). Plain sqlite3 storing
10k people x 90 days x 4 surfaces in 200k-row transactions: 22.4 s page by page, 19.0 s
staged; the full-density backfill (bench/backfill.py): 54.4 s before, 37-41 s after.

The price is paid where neither helps: in sequence, every row is written twice, and
SQLite reads it from JSON. bench/ingest.py, which stores in one thread, puts the project
at 0.58 of the plain driver's limit, against 0.84 writing straight into the table. Staged
through `executemany` instead of JSON, it reached 0.71, but the backfill took 47 s: the
driver takes the interpreter's lock back at every row, so the next page could not be
decoded meanwhile.

Either way, a page is first prepared (`prepare_page`: the COPY text, or the JSON arrays)
without the database, on the thread that fetches it, and a sync writes each Codex user
once unless their email changes.
"""

from __future__ import annotations

import datetime as dt
import io
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import msgspec
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
_EMAIL_POSITION = UsageRecord._fields.index("email")
_USER_AND_EMAIL, _EMAIL_GIVEN = operator.itemgetter(0, 1), operator.itemgetter(1)
# The temporary tables holding rows on their way in: on PostgreSQL, a page's, filled by
# COPY and dropped at commit at the latest; on SQLite, a transaction's pages, until
# flush_staged_usage drops them.
_STAGING_TABLE = {CodexUser: "codexbot_users_in", DailyUsage: "codexbot_usage_in"}


def _iso_day(value: object) -> str:
    """What msgspec does not know: subclasses of date (freezegun's, in tests)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    raise NotImplementedError(type(value))


_JSON_ENCODER = msgspec.json.Encoder(enc_hook=_iso_day)
# COPY's text format: a backslash escapes these; None is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@cache
def _upsert_statements(postgres: bool) -> tuple[str, str]:
    """The upserts of Codex users and of usage, from their staging tables: on PostgreSQL
    the one `_copy_in` fills with a page; on SQLite the one `stage_usage` fills with a
    transaction's pages, read in the key's order (see _staging_statements)."""

    def upsert(fields: Sequence[Field]) -> str:
        model = fields[0].model
        columns = ", ".join(_quoted(f.column_name) for f in fields)
        table = _quoted(model._meta.table_name)
        values = f"SELECT {columns} FROM {_STAGING_TABLE[model]}"
        if not postgres:
            # WHERE true: without it, SQLite would read ON CONFLICT as a join's constraint.
            values += " WHERE true"
        return f"INSERT INTO {table} ({columns}) {values} {_on_conflict(model, table)}"

    return upsert(_USER_FIELDS), upsert(_USAGE_FIELDS)


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
    assignments = ", ".join(
        f"{_quoted(f.column_name)} = EXCLUDED.{_quoted(f.column_name)}"
        for f in _USAGE_FIELDS[len(_USAGE_KEY) :]
    )
    key = ", ".join(_quoted(f.column_name) for f in _USAGE_KEY)
    return f"ON CONFLICT ({key}) DO UPDATE SET {assignments}"


@cache
def _staging_statements() -> tuple[tuple[str, str], tuple[str, str]]:
    """SQLite: for Codex users and for usage, the statement creating the staging table (a
    temporary table, this connection's own, keyed as its table is, so that it reads back
    in the key's order) and the one upserting a page's rows into it as into the table,
    read from one JSON array: one statement a page, which SQLite runs without the
    interpreter's lock. Bound row by row through `executemany`, the driver takes the lock
    back at every row, and while the next page was decoded each took a turn of the thread
    switch: staging took 3 microseconds a row."""

    def staging(fields: Sequence[Field], key: Sequence[Field], values: str) -> tuple[str, str]:
        model = fields[0].model
        staged = _STAGING_TABLE[model]
        columns = ", ".join(_quoted(f.column_name) for f in fields)
        key_columns = ", ".join(_quoted(f.column_name) for f in key)
        return (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staged} "
            f"({columns}, PRIMARY KEY ({key_columns})) WITHOUT ROWID",
            f"INSERT INTO temp.{staged} ({columns}) SELECT {values} FROM json_each(?) "
            f"WHERE true {_on_conflict(model, staged)}",
        )

    def items(*positions: int) -> str:
        return ", ".join(f"json_extract(value, '$[{n}]')" for n in positions)

    # Users: [user, email] pairs. Usage: the records themselves (UsageRecord), which list
    # the key and the counts in _USAGE_FIELDS's order, with the email second; the
    # workspace and the sync run are the same for all, bound once.
    record_positions = [n for n in range(len(UsageRecord._fields)) if n != _EMAIL_POSITION]
    return (
        staging(_USER_FIELDS, (CodexUser.user_id,), items(0, 1)),
        staging(_USAGE_FIELDS, _USAGE_KEY, f"?, {items(*record_positions)}, ?"),
    )


def _quoted(name: str) -> str:
    return f'"{name}"'


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
    COPY reads, on SQLite the JSON arrays that _staging_statements read. Built without
    the database, so that a sync builds the next pages' while it stores one
    (sync/ingest/job.py): on PostgreSQL, building the COPY text is most of the Python
    work of storing a page, and the server waited for it."""

    workspace_id: str
    sync_run_id: int | None
    records: int
    latest_day: dt.date | None
    users: str = ""  # empty: no user to write
    usage: str = ""


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
        users, rows = _rows(records, sync_run_id, workspace_id, postgres)
        if users_written is not None:
            users = [u for u in users if _changes(u, users_written)]
            users_written.update(users)
        if postgres:
            users_text, usage_text = _copy_text(users), _copy_text(rows)
        else:
            users_text, usage_text = _json_array(users) if users else "", _json_array(records)
        del users, rows
    latest_day = max(map(_DAY, records))
    return PreparedPage(workspace_id, sync_run_id, len(records), latest_day, users_text, usage_text)


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
    with database.atomic():
        cursor = database.cursor()
        if _on_postgres():
            users_sql, usage_sql = _upsert_statements(True)
            note_usage_changed()  # in the page's transaction (sync/store/rollups.py)
            if page.users:
                _copy_in(cursor, CodexUser, page.users)
                cursor.execute(users_sql)
            _copy_in(cursor, DailyUsage, page.usage)
            cursor.execute(usage_sql)
            # Dropped now rather than at commit: a caller's transaction may hold pages.
            cursor.execute(f"DROP TABLE IF EXISTS {', '.join(_STAGING_TABLE.values())}")
        else:
            (create_users, users_sql), (create_usage, usage_sql) = _staging_statements()
            if page.users:
                cursor.execute(create_users)
                cursor.execute(users_sql, (page.users,))
            cursor.execute(create_usage)
            cursor.execute(usage_sql, (page.workspace_id, page.sync_run_id, page.usage))


def flush_staged_usage() -> None:
    """SQLite: move the rows stage_usage staged on this connection into the tables, in one
    statement per table, and drop the staging tables. PostgreSQL: nothing (each page is
    written as it is staged)."""
    if _on_postgres():
        return
    cursor = database.cursor()
    staged = {
        name
        for (name,) in cursor.execute(
            "SELECT name FROM sqlite_temp_master WHERE type = 'table' AND name IN (?, ?)",
            tuple(_STAGING_TABLE.values()),
        )
    }
    if not staged:
        return
    with database.atomic():
        note_usage_changed()  # in the rows' transaction (sync/store/rollups.py)
        # Users first, as on PostgreSQL: a page may have staged no user (all written).
        for name, sql in zip(_STAGING_TABLE.values(), _upsert_statements(False), strict=True):
            if name in staged:
                cursor.execute(sql)
                cursor.execute(f"DROP TABLE temp.{name}")


def _on_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def _rows(
    records: Sequence[UsageRecord], sync_run_id: int | None, workspace_id: str, postgres: bool
) -> tuple[list[tuple], list[tuple]]:
    """The Codex users' rows of `records` and, on PostgreSQL, their usage rows (SQLite
    reads those from the records themselves, see _staging_statements)."""
    # Each user once, with the last email given for them, if any: loops of map and
    # filter in C. As a Python loop, this took a fifth of building the rows.
    emails: dict[str, str | None] = dict.fromkeys(map(_USER_ID, records))
    emails.update(filter(_EMAIL_GIVEN, map(_USER_AND_EMAIL, records)))
    # Attribution compares lower-cased emails; store them so whoever calls this.
    users = sorted((user, normalize_email(email) or None) for user, email in emails.items())
    if not postgres:
        return users, []
    # PostgreSQL refuses to upsert one key twice in a statement; the last one wins, as it
    # does on SQLite, where the staged rows are upserted one after the other.
    unique = {(r[0], r[2], r[3]): r for r in records}.values()
    return users, [(workspace_id, r[0], *r[2:], sync_run_id) for r in unique]


def _json_array(rows: Sequence[tuple]) -> str:
    """`rows` as one JSON array of arrays, days as ISO text (as SQLite stores them, see
    sync/store/database.py); floats in the shortest text that reads back the same."""
    return _JSON_ENCODER.encode(rows).decode()


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

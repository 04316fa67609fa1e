"""Writing usage: the batched, idempotent upsert that every sync goes through (the hot path).

Each statement is written once per engine from the models' column names, then run with
the driver's own batch execution: building it row by row through the ORM cost ten times
the database's work. SQLite and PostgreSQL share the upsert syntax (`ON CONFLICT ... DO
UPDATE`); only the placeholders differ.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import cache

from peewee import Field, PostgresqlDatabase

from sync.codex.rows import UsageRecord
from sync.org.directory import normalize_email
from sync.store.models import CodexUser, DailyUsage, database

# Rows per batch: large enough to amortise each round trip, small enough to stream.
UPSERT_BATCH_ROWS = 1000

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
# A usage row is the workspace, the record's fields of the same names, then the sync run
# that wrote it.
_record_values = operator.attrgetter(*(field.name for field in _USAGE_KEY[1:] + _USAGE_COUNTS))


@cache
def _upsert_statements(postgres: bool) -> tuple[str, str]:
    """The upserts of Codex users and of usage. On PostgreSQL, VALUES takes one `%s` that
    execute_values fills with many rows; on SQLite, one row's placeholders."""

    def upsert(fields: Sequence[Field], key: Sequence[Field], assignments: list[str]) -> str:
        table = _quoted(fields[0].model._meta.table_name)
        columns = ", ".join(_quoted(f.column_name) for f in fields)
        values = "%s" if postgres else "(" + ", ".join("?" * len(fields)) + ")"
        conflict = ", ".join(_quoted(f.column_name) for f in key)
        return (
            f"INSERT INTO {table} ({columns}) VALUES {values} "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(assignments)}"
        )

    email = _quoted(CodexUser.email.column_name)
    users = upsert(
        (CodexUser.user_id, CodexUser.email),
        (CodexUser.user_id,),
        # A row that withholds the email must not erase one we already know.
        [f"{email} = COALESCE(EXCLUDED.{email}, {_quoted(CodexUser._meta.table_name)}.{email})"],
    )
    overwritten = (*_USAGE_COUNTS, DailyUsage.sync_run)
    usage = upsert(
        (*_USAGE_KEY, *overwritten),
        _USAGE_KEY,
        [f"{_quoted(f.column_name)} = EXCLUDED.{_quoted(f.column_name)}" for f in overwritten],
    )
    return users, usage


def _quoted(name: str) -> str:
    return f'"{name}"'


def upsert_usage(records: Sequence[UsageRecord], sync_run_id: int | None, workspace_id: str) -> int:
    """Store a page of `workspace_id`'s records in one transaction; re-reading a day
    overwrites it."""
    if not records:
        return 0
    emails: dict[str, str | None] = {}
    for record in records:
        if record.email or record.codex_user_id not in emails:
            # Attribution compares lower-cased emails; store them so whoever calls this.
            emails[record.codex_user_id] = normalize_email(record.email) or None
    users = sorted(emails.items())
    # PostgreSQL refuses to upsert one key twice in a statement; the last one wins.
    unique = {(r.codex_user_id, r.day, r.client_id): r for r in records}.values()
    rows = [(workspace_id, *_record_values(r), sync_run_id) for r in unique]
    postgres = isinstance(database.obj, PostgresqlDatabase)
    users_sql, usage_sql = _upsert_statements(postgres)
    with database.atomic():
        cursor = database.cursor()
        if postgres:
            from psycopg2.extras import execute_values

            execute_values(cursor, users_sql, users, page_size=UPSERT_BATCH_ROWS)
            execute_values(cursor, usage_sql, rows, page_size=UPSERT_BATCH_ROWS)
        else:
            cursor.executemany(users_sql, users)
            cursor.executemany(usage_sql, rows)
    return len(rows)


def delete_unreported_usage(workspace_id: str, first_day, last_day, sync_run_id: int) -> int:
    """Drop rows in a fully re-read window that the API no longer reports (revised days)."""
    return (
        DailyUsage.delete()
        .where(
            DailyUsage.workspace_id == workspace_id,
            DailyUsage.day.between(first_day, last_day),
            (DailyUsage.sync_run != sync_run_id) | DailyUsage.sync_run.is_null(),
        )
        .execute()
    )

"""Writing usage: the batched, idempotent upsert that every sync goes through (the hot path).

The statement is built by peewee once per engine, then run with the driver's own batch
execution: building it row by row through the ORM cost ten times the database's work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from peewee import EXCLUDED, PostgresqlDatabase, fn

from sync.codex.client import UsageRecord
from sync.org.directory import normalize_email
from sync.store.models import CodexUser, DailyUsage, database

# Rows per batch: large enough to amortise each round trip, small enough to stream.
UPSERT_BATCH_ROWS = 1000

_USAGE_FIELDS = [
    DailyUsage.codex_user_id,
    DailyUsage.day,
    DailyUsage.client_id,
    DailyUsage.threads,
    DailyUsage.turns,
    DailyUsage.credits,
    DailyUsage.input_tokens,
    DailyUsage.output_tokens,
    DailyUsage.total_tokens,
    DailyUsage.sync_run,
]
_OVERWRITTEN = _USAGE_FIELDS[3:]
_statements: dict[str, tuple[str, str]] = {}


def _upsert_statements(postgres: bool) -> tuple[str, str]:
    """The one-row upserts of Codex users and of usage, in this engine's SQL."""
    engine = type(database.obj).__name__
    if engine not in _statements:
        users = CodexUser.insert({CodexUser.user_id: None, CodexUser.email: None}).on_conflict(
            conflict_target=[CodexUser.user_id],
            # A row that withholds the email must not erase one we already know.
            update={CodexUser.email: fn.COALESCE(EXCLUDED.email, CodexUser.email)},
        )
        usage = DailyUsage.insert({field: None for field in _USAGE_FIELDS}).on_conflict(
            conflict_target=[DailyUsage.codex_user_id, DailyUsage.day, DailyUsage.client_id],
            preserve=_OVERWRITTEN,
        )
        # PostgreSQL inserts come with RETURNING of the key: nothing reads it here.
        users_sql, usage_sql = (re.sub(r" RETURNING .*$", "", q.sql()[0]) for q in (users, usage))
        if postgres:  # execute_values sends many rows a statement, in place of one "%s"
            users_sql = re.sub(r"VALUES \([%s, ]+\)", "VALUES %s", users_sql, count=1)
            usage_sql = re.sub(r"VALUES \([%s, ]+\)", "VALUES %s", usage_sql, count=1)
        _statements[engine] = (users_sql, usage_sql)
    return _statements[engine]


def upsert_usage(records: Sequence[UsageRecord], sync_run_id: int | None = None) -> int:
    """Store a page of records in one transaction; re-reading a day overwrites it."""
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
    postgres = isinstance(database.obj, PostgresqlDatabase)
    # sqlite3's implicit date adapter is deprecated: hand it the ISO text it would store.
    rows = [(r[0], r.day if postgres else r.day.isoformat(), *r[3:], sync_run_id) for r in unique]
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


def delete_unreported_usage(first_day, last_day, sync_run_id: int) -> int:
    """Drop rows in a fully re-read window that the API no longer reports (revised days)."""
    return (
        DailyUsage.delete()
        .where(
            DailyUsage.day.between(first_day, last_day),
            (DailyUsage.sync_run != sync_run_id) | DailyUsage.sync_run.is_null(),
        )
        .execute()
    )

"""Question 1, ingest: how close does the project's parse + upsert come to the raw driver?

API-shaped pages (every employee, every day, three surfaces: 10k x 30 x 3 = 900k rows)
go through the real `parse_rows` + `upsert_usage`, one transaction a page as a sync
does. The baseline upserts the same tuples into a copy of the same tables with the
driver alone (`sqlite3` executemany; psycopg2's `execute_values` on PostgreSQL), one
transaction a page too. The two alternate page by page in one process, so a noisy
neighbour slows both alike; JSON decoding is httpx's work and stays out of both timings.

    .venv/bin/python bench/ingest.py [--employees N] [--days N] [--smoke]
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import _common

from sync.codex.rows import UsageRecord, parse_rows
from sync.codex.simulator import generate_org
from sync.config import CodexSettings
from sync.ingest.writer import UPSERT_BATCH_ROWS, upsert_usage
from sync.store.models import DailyUsage, database

GOAL_RATIO = 0.6
SURFACES = _common.SURFACES[:3]
RAW_TABLES = {"codex_user": "raw_codex_user", "daily_usage": "raw_daily_usage"}
_USAGE_COLUMNS = (
    "workspace_id",
    "codex_user_id",
    "day",
    "client_id",
    "threads",
    "turns",
    "credits",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cached_input_tokens",
    "sync_run",
)
_UPDATED = _USAGE_COLUMNS[4:]
# Rows of every day are accepted: the benchmark's pages span many days.
ALL_DAYS = (dt.date.min, dt.date.max)
SYNC_RUN_ID = 1


def main() -> None:
    args = _common.parse_args(
        __doc__.splitlines()[0], employees=10_000, days=30, smoke_employees=40, smoke_days=2
    )
    url = _common.database_url()
    _common.header("ingest: parse_rows + upsert_usage vs the raw driver", url, args)
    page_size = CodexSettings().page_size
    postgres = _common.is_postgres(url)
    db = _common.fresh_database(url, extra_tables=RAW_TABLES.values())
    raw = RawPostgres(url) if postgres else RawSqlite(url)

    project_seconds = raw_seconds = 0.0
    records_total = api_rows = pages = 0
    for number, page in enumerate(api_pages(args.employees, args.days, page_size, args.seed)):
        # Alternate who goes first, so neither always meets a warm or a cold cache.
        order = ("project", "raw") if number % 2 == 0 else ("raw", "project")
        for side in order:
            if side == "project":
                started = time.perf_counter()
                records = parse_rows(page["data"], *ALL_DAYS).records
                upsert_usage(records, SYNC_RUN_ID, _common.WORKSPACE)
                project_seconds += time.perf_counter() - started
            else:
                users, rows = raw.tuples(parse_rows(page["data"], *ALL_DAYS).records)
                started = time.perf_counter()
                raw.upsert(users, rows)
                raw_seconds += time.perf_counter() - started
        records_total += len(records)
        api_rows += len(page["data"])
        pages += 1

    stored = DailyUsage.select().count()
    raw_stored = raw.count()
    raw.close()
    if stored != records_total or raw_stored != records_total:
        raise SystemExit(f"expected {records_total} rows, found {stored} and {raw_stored}")
    project_rate = records_total / project_seconds
    raw_rate = records_total / raw_seconds
    ratio = project_rate / raw_rate
    print(
        f"   {pages} pages of up to {page_size} API rows; {api_rows:,} API rows, "
        f"{records_total:,} stored rows"
    )
    for label, seconds, rate in (
        ("project parse + upsert_usage", project_seconds, project_rate),
        (f"raw {raw.name}", raw_seconds, raw_rate),
    ):
        print(f"   {label:<30}: {seconds:7.2f} s  {rate:>10,.0f} rows/s")
    _common.goal_line(
        f"ingest ({_common.engine_name(url)})",
        f"ratio {ratio:.2f} (project {project_rate:,.0f} rows/s, raw {raw_rate:,.0f} rows/s)",
        f">= {GOAL_RATIO}",
        ratio >= GOAL_RATIO,
        args.smoke,
    )
    db.close()


def api_pages(employees: int, days: int, page_size: int, seed: int) -> Iterator[dict]:
    """Pages as the API sends them: by day, then user; the last has no next page."""
    people = generate_org(employees, seed).people
    users = [(_common.user_id_for(n + 1), person.email) for n, person in enumerate(people)]
    rng = random.Random(seed)
    today = _common.utc_today()
    rows: list[dict] = []
    for offset in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=offset)
        start = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())
        for user_id, email in users:
            rows.append(api_row(rng, user_id, email, start, tokens=day != today))
            if len(rows) == page_size:
                yield {"object": "page", "data": rows, "has_more": True, "next_page": "more"}
                rows = []
    yield {"object": "page", "data": rows, "has_more": False, "next_page": None}


def api_row(rng: random.Random, user_id: str, email: str, start: int, tokens: bool) -> dict:
    """One user-day in the shape of `sync/simulator/usage.py`'s rows, with all three
    surfaces, so that the row count is exactly employees x days x 3."""
    clients = []
    for client_id in SURFACES:
        threads = 1 + int(rng.random() * 5)
        turns = threads * (1 + int(rng.random() * 7))
        uncached = turns * int(1500 + rng.random() * 9000)
        cached = uncached // 2
        output = (uncached + cached) // 30
        clients.append(
            {
                "client_id": client_id,
                "threads": threads,
                "turns": turns,
                "credits": round(uncached / 32000 + output / 4000, 2),
                "uncached_text_input_tokens": uncached if tokens else None,
                "cached_text_input_tokens": cached if tokens else None,
                "text_output_tokens": output if tokens else None,
                "text_total_tokens": uncached + cached + output if tokens else None,
            }
        )
    totals = {
        key: sum(c[key] for c in clients) if tokens or "tokens" not in key else None
        for key in clients[0]
        if key != "client_id"
    }
    return {
        "object": "workspace.codex.usage.result",
        "start_time": start,
        "end_time": start + 86400,
        "user_id": user_id,
        "actor": {"type": "ACCOUNT_USER", "user_id": user_id, "email": email},
        "totals": totals,
        "clients": clients,
        "models": [{"model": "gpt-5.3-codex", "credits": totals["credits"]}],
        "code_attribution": {"lines_added": 120, "lines_removed": 5},
    }


class RawSqlite:
    """The baseline on SQLite: `sqlite3` alone, on a file of its own with the project's
    DDL and pragmas, so both sides write the same schema the same way."""

    name = "sqlite3 executemany"

    def __init__(self, url: str) -> None:
        ddl = database.execute_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('codex_user', 'daily_usage') "
            "AND sql IS NOT NULL ORDER BY type DESC"  # tables before their indexes
        ).fetchall()
        path = url.removeprefix("sqlite:///") + ".raw"
        for suffix in ("", "-wal", "-shm"):
            _unlink(path + suffix)
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode = wal", "foreign_keys = 1", "busy_timeout = 10000"):
            self.conn.execute(f"PRAGMA {pragma}")
        for (statement,) in ddl:
            self.conn.execute(statement)
        self.users_sql = (
            "INSERT INTO codex_user (user_id, email) VALUES (?, ?) ON CONFLICT (user_id) "
            "DO UPDATE SET email = COALESCE(excluded.email, codex_user.email)"
        )
        self.usage_sql = (
            f"INSERT INTO daily_usage ({', '.join(_USAGE_COLUMNS)}) VALUES "
            f"({', '.join('?' * len(_USAGE_COLUMNS))}) "
            "ON CONFLICT (workspace_id, codex_user_id, day, client_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _UPDATED)
        )

    @staticmethod
    def tuples(records: list[UsageRecord]) -> tuple[list[tuple], list[tuple]]:
        users = {r.codex_user_id: r.email for r in records}
        rows = [
            (_common.WORKSPACE, r.codex_user_id, r.day.isoformat(), *r[3:], SYNC_RUN_ID)
            for r in records
        ]  # peewee stores dates as ISO text too
        return sorted(users.items()), rows

    def upsert(self, users: list[tuple], rows: list[tuple]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany(self.users_sql, users)
        self.conn.executemany(self.usage_sql, rows)
        self.conn.execute("COMMIT")

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM daily_usage").fetchone()[0]

    def close(self) -> None:
        self.conn.close()
        for suffix in ("", "-wal", "-shm"):
            _unlink(self.path + suffix)


class RawPostgres:
    """The baseline on PostgreSQL: psycopg2 alone, on copies of the two tables.

    psycopg2's `executemany` is a round trip per row, several times slower than the
    project's multi-row INSERT, so it would flatter the project; `execute_values` with the
    project's batch size is psycopg2's bulk form, and the fair baseline.
    """

    name = "psycopg2 execute_values"

    def __init__(self, url: str) -> None:
        import psycopg2
        from psycopg2.extras import execute_values

        self.execute_values = execute_values
        self.conn = psycopg2.connect(url)
        with self.conn.cursor() as cursor:
            for table, copy in RAW_TABLES.items():
                cursor.execute(f"DROP TABLE IF EXISTS {copy}")
                cursor.execute(f"CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)")
        self.conn.commit()
        self.users_sql = (
            "INSERT INTO raw_codex_user (user_id, email) VALUES %s ON CONFLICT (user_id) "
            "DO UPDATE SET email = COALESCE(excluded.email, raw_codex_user.email)"
        )
        self.usage_sql = (
            f"INSERT INTO raw_daily_usage ({', '.join(_USAGE_COLUMNS)}) VALUES %s "
            "ON CONFLICT (workspace_id, codex_user_id, day, client_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _UPDATED)
        )

    @staticmethod
    def tuples(records: list[UsageRecord]) -> tuple[list[tuple], list[tuple]]:
        users = {r.codex_user_id: r.email for r in records}
        rows = [(_common.WORKSPACE, r.codex_user_id, r.day, *r[3:], SYNC_RUN_ID) for r in records]
        return sorted(users.items()), rows

    def upsert(self, users: list[tuple], rows: list[tuple]) -> None:
        with self.conn.cursor() as cursor:
            self.execute_values(cursor, self.users_sql, users, page_size=UPSERT_BATCH_ROWS)
            self.execute_values(cursor, self.usage_sql, rows, page_size=UPSERT_BATCH_ROWS)
        self.conn.commit()

    def count(self) -> int:
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM raw_daily_usage")
            return cursor.fetchone()[0]

    def close(self) -> None:
        with self.conn.cursor() as cursor:
            for copy in RAW_TABLES.values():
                cursor.execute(f"DROP TABLE IF EXISTS {copy}")
        self.conn.commit()
        self.conn.close()


def _unlink(path: str) -> None:
    Path(path).unlink(missing_ok=True)


if __name__ == "__main__":
    main()

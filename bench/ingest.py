"""Question 1, ingest: what fraction of the plain driver's limit does the project reach?

API-shaped pages (every employee, every day, three surfaces: 10k x 30 x 3 = 900k rows)
are encoded to JSON bytes once each; from the same bytes, in the same process:

- the project: the client's `decode_usage_page` and `usage_page`, then the writer's
  `prepare_page` and `stage_prepared`, committing (`flush_staged_usage`, then COMMIT)
  every `[sync] transaction_rows` rows and writing each Codex user once unless their
  email changes, as a sync stores its pages (sync/ingest/job.py), in sequence;
- the limit, the fastest plain-driver pipeline found for the engine: the page decoded
  by the faster of orjson (into dicts) and msgspec (into structs of the known shape,
  with no checks), both run on every page, then the stored tuples built straight from
  it (no validation), each user once unless their email changes, then
  - SQLite: `sqlite3` `executemany` on a file of its own with the project's DDL and the
    project's pragmas (WAL, synchronous=NORMAL: the same durability), and the page cache
    a sync writes with (on both sides: sync/store/database.py's bulk_writing);
  - PostgreSQL: COPY into a temporary table, then one `INSERT ... SELECT ... ON CONFLICT
    DO UPDATE`, into copies of the project's tables;
  committing every `transaction_rows` rows, as the project does.

Two passes: fresh inserts into empty tables, then a re-sync of the same keys with other
figures, which updates every row. The sides alternate page by page (who goes first
rotates), so a noisy neighbour slows both alike. Each pass prints the project's fraction
of the limit for the whole pipeline and for storing (the project's rows built from its
records and stored, against the limit's driver call alone). On SQLite the limit is
also measured with synchronous=OFF, as information (the issue's 85k rows/s): with it a
power cut can corrupt the file (NORMAL loses at most the last commits), so it is not the
project's setting nor its limit.

    .venv/bin/python bench/ingest.py [--employees N] [--days N] [--smoke]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import io
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import _common
import msgspec
import orjson

from sync.codex.client import decode_usage_page, usage_page
from sync.codex.simulator import generate_org
from sync.config import CodexSettings, SyncSettings
from sync.ingest.writer import flush_staged_usage, prepare_page, stage_prepared
from sync.store.database import BULK_WRITE_CACHE_KIB, bulk_writing
from sync.store.models import database

GOAL_RATIO = 0.85
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
PASSES = (("fresh", 1), ("re-sync", 2))  # (name, sync run id; also the figures' seed)
STAGES = ("decode", "parse", "store")


@dataclass
class Side:
    """One pipeline's seconds by stage, over one pass; the limit's decode and parse are
    those of its faster decoder (settle)."""

    name: str
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    # The limit's decoders: name -> [decode, parse] seconds.
    decoders: dict[str, list[float]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def settle(self) -> str:
        """Take the faster decoder's decode and parse seconds; its name."""
        name, (decode, parse) = min(self.decoders.items(), key=lambda item: sum(item[1]))
        self.seconds.update(decode=decode, parse=parse)
        return name


def main() -> None:
    args = _common.parse_args(
        __doc__.splitlines()[0], employees=10_000, days=30, smoke_employees=40, smoke_days=2
    )
    url = _common.database_url()
    _common.header("ingest: the project vs the plain driver, from the same JSON bytes", url, args)
    postgres = _common.is_postgres(url)
    db = _common.fresh_database(url, extra_tables=RAW_TABLES.values())
    limits: list[RawSqlite | RawPostgres] = (
        [RawPostgres(url)] if postgres else [RawSqlite(url, "normal"), RawSqlite(url, "off")]
    )
    synchronous = database.execute_sql("PRAGMA synchronous").fetchone()[0] if not postgres else None
    if synchronous is not None:
        # 1 is NORMAL: the limit's pragmas are the project's, said rather than assumed.
        print(f"   project's SQLite: synchronous={synchronous} (1 = NORMAL) under WAL")

    transaction_rows = SyncSettings().transaction_rows
    print(f"   both commit every {transaction_rows:,} rows, as a sync does")
    if not postgres:
        print(f"   both with a page cache of {BULK_WRITE_CACHE_KIB // 1024} MiB, as a sync has")
    project_store = ProjectStore(transaction_rows)
    for raw in limits:
        raw.transaction_rows = transaction_rows
    with bulk_writing():  # as a sync, for all its pages (sync/ingest/job.py)
        ratios = [
            ratio
            for pass_name, sync_run in PASSES
            for ratio in run_pass(pass_name, sync_run, args, project_store, limits)
        ]
    for raw in limits:
        raw.close()
    _common.goal_line(
        f"ingest ({_common.engine_name(url)})",
        "fraction of the plain-driver limit "
        + ", ".join(f"{name} {ratio:.2f}" for name, ratio in ratios),
        f">= {GOAL_RATIO} each",
        all(ratio >= GOAL_RATIO for _, ratio in ratios),
        args.smoke,
    )
    db.close()


def run_pass(
    pass_name: str,
    sync_run: int,
    args: argparse.Namespace,
    project_store: ProjectStore,
    limits: list[RawSqlite | RawPostgres],
) -> list[tuple[str, float]]:
    """One pass over the pages by every side; the project's fractions of the limit, for the
    whole pipeline and for storing."""
    page_size = CodexSettings().page_size
    project = Side("project")
    raws = [Side(raw.name) for raw in limits]
    records_total = api_rows = pages = 0
    seed = args.seed + sync_run
    for number, body in enumerate(api_pages(args.employees, args.days, page_size, seed)):
        sides: list[int | None] = [None, *range(len(limits))]  # None: the project
        # Rotate who goes first, so none always meets a warm or a cold cache.
        shift = number % len(sides)
        for side in sides[shift:] + sides[:shift]:
            if side is None:
                stored, read = project_store.run(body, sync_run, project)
                records_total, api_rows = records_total + stored, api_rows + read
            else:
                limits[side].run(body, sync_run, raws[side])
        pages += 1
    project_store.finish(project)
    for raw, side in zip(limits, raws, strict=True):
        raw.finish(side)
    check_stored(records_total, limits)
    fastest = [raw.settle() for raw in raws]
    print(
        f"   {pass_name}: {pages} pages of up to {page_size} API rows "
        f"({api_rows:,} API rows, {records_total:,} stored rows)"
    )
    for side in (project, *raws):
        stages = "  ".join(f"{s} {side.seconds[s]:6.2f} s" for s in STAGES)
        print(
            f"     {side.name:<40}: {side.total:7.2f} s {records_total / side.total:>9,.0f} "
            f"rows/s  ({stages})"
        )
    decoders = "; ".join(
        f"{name} {decode:.2f} + {parse:.2f} s" for name, (decode, parse) in raws[0].decoders.items()
    )
    print(f"     the limit's decoders, decode + parse: {decoders} (the limit takes {fastest[0]})")
    limit = raws[0]
    whole = limit.total / project.total
    store = limit.seconds["store"] / project.seconds["store"]
    print(
        f"     fraction of the limit: whole pipeline {whole:.2f}, storing {store:.2f} "
        "(the project's rows built from its records and stored, against the driver's "
        "call alone)"
    )
    for other in raws[1:]:
        print(
            f"     (information) fraction of {other.name}: whole pipeline "
            f"{other.total / project.total:.2f}, storing alone "
            f"{other.seconds['store'] / project.seconds['store']:.2f}"
        )
    return [(pass_name, whole), (f"{pass_name} store", store)]


class ProjectStore:
    """The project's path for pages' bodies, as the client and a sync take them: decoded,
    parsed, prepared and staged, committed every `transaction_rows` rows."""

    def __init__(self, transaction_rows: int) -> None:
        self.transaction_rows = transaction_rows
        self.users_written: dict[str, str | None] = {}
        self.pending = 0
        self.transaction = contextlib.ExitStack()

    def run(self, body: bytes, sync_run: int, side: Side) -> tuple[int, int]:
        """One page; returns the rows stored and the API rows."""
        started = time.perf_counter()
        page = decode_usage_page(body)
        decoded = time.perf_counter()
        read = usage_page(page, *ALL_DAYS)
        del page  # as the client does before the page is stored
        records = read.records
        parsed = time.perf_counter()
        if not self.pending:
            self.transaction.enter_context(database.atomic())
        stage_prepared(prepare_page(records, sync_run, _common.WORKSPACE, self.users_written))
        self.pending += len(records)
        if self.pending >= self.transaction_rows:
            self._commit()
        stored = time.perf_counter()
        side.seconds["decode"] += decoded - started
        side.seconds["parse"] += parsed - decoded
        side.seconds["store"] += stored - parsed
        return len(records), read.rows

    def finish(self, side: Side) -> None:
        """Commit what the last pages left open, as a sync does at its end."""
        started = time.perf_counter()
        if self.pending:
            self._commit()
        self.users_written.clear()  # the next pass is another sync
        side.seconds["store"] += time.perf_counter() - started

    def _commit(self) -> None:
        flush_staged_usage()
        self.transaction.close()
        self.pending = 0


def check_stored(records: int, limits: list[RawSqlite | RawPostgres]) -> None:
    """Every side holds every row, with the same figures: the limit does the same work."""
    project = database.execute_sql(
        "SELECT count(*), sum(turns), sum(total_tokens), sum(cached_input_tokens) FROM daily_usage"
    ).fetchone()
    if project[0] != records:
        raise SystemExit(f"expected {records} rows, the project holds {project[0]}")
    for raw in limits:
        if (held := raw.figures()) != tuple(project):
            raise SystemExit(f"{raw.name} holds {held}, the project {tuple(project)}")


# ------------------------------------------------------------------------------ pages


def api_pages(employees: int, days: int, page_size: int, seed: int) -> Iterator[bytes]:
    """Pages as the API sends them, as bytes: by day, then user; the last has no next page.
    The same keys whatever the seed; the figures differ from one seed to another."""
    people = generate_org(employees, _common.SEED).people
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
                yield _encoded({"object": "page", "data": rows, "has_more": True, "next_page": "n"})
                rows = []
    yield _encoded({"object": "page", "data": rows, "has_more": False, "next_page": None})


def _encoded(page: dict) -> bytes:
    # As the simulator's server writes it (sync/codex/simulator/server.py).
    return json.dumps(page, separators=(",", ":")).encode()


def api_row(rng: random.Random, user_id: str, email: str, start: int, tokens: bool) -> dict:
    """One user-day in the shape of the simulator's rows, with all three surfaces, so that
    the row count is exactly employees x days x 3."""
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


# ------------------------------------------------------------------------------ the limit


class _Client(msgspec.Struct, gc=False):
    """The known shape, for msgspec: no defaults, no ranges, nothing checked."""

    client_id: str
    threads: int
    turns: int
    credits: float
    uncached_text_input_tokens: int | None
    cached_text_input_tokens: int | None
    text_output_tokens: int | None
    text_total_tokens: int | None


class _Actor(msgspec.Struct, gc=False):
    user_id: str
    email: str | None = None


class _Row(msgspec.Struct, gc=False):
    start_time: int
    actor: _Actor
    clients: list[_Client]


class _Page(msgspec.Struct, gc=False):
    data: list[_Row]


_struct_page = msgspec.json.Decoder(_Page)


class Raw:
    """The plain pipeline up to the driver: the page decoded by orjson and by msgspec
    (the one whose order alternates goes first), then the stored tuples straight from the
    known shape, the collector paused for both as the project does, and the decoded page
    freed before storing. The tuples stored are msgspec's; orjson's are checked equal on
    the first page."""

    name = ""
    checked = False
    pages = 0

    def run(self, body: bytes, sync_run: int, side: Side) -> None:
        decoders = [("orjson", self._orjson), ("msgspec", self._msgspec)]
        self.pages += 1
        if self.pages % 2:
            decoders.reverse()
        made = {}
        for name, decode in decoders:
            started = time.perf_counter()
            gc.disable()
            try:
                data = decode(body)
                decoded = time.perf_counter()
                made[name] = self.tuples(data, sync_run, structs=name == "msgspec")
                del data
            finally:
                gc.enable()
            parsed = time.perf_counter()
            seconds = side.decoders.setdefault(name, [0.0, 0.0])
            seconds[0] += decoded - started
            seconds[1] += parsed - decoded
        if not self.checked:
            assert made["orjson"] == made["msgspec"], "the two decoders disagree"
            self.checked = True
        del made["orjson"]
        users, rows = made.pop("msgspec")
        started = time.perf_counter()
        self.upsert(users, rows)
        side.seconds["store"] += time.perf_counter() - started

    @staticmethod
    def _orjson(body: bytes) -> list[dict]:
        return orjson.loads(body)["data"]

    @staticmethod
    def _msgspec(body: bytes) -> list[_Row]:
        return _struct_page.decode(body).data

    def tuples(self, data: list, sync_run: int, structs: bool) -> tuple[list[tuple], list[tuple]]:
        return self._from_structs(data, sync_run) if structs else self._from_dicts(data, sync_run)

    def _from_structs(self, data: list[_Row], sync_run: int) -> tuple[list[tuple], list[tuple]]:
        workspace, users, rows, days = _common.WORKSPACE, {}, [], {}
        for row in data:
            actor = row.actor
            user = actor.user_id
            users[user] = actor.email
            start = row.start_time
            day = days.get(start)
            if day is None:
                day = days[start] = self.day(start)
            for c in row.clients:
                uncached, cached = c.uncached_text_input_tokens, c.cached_text_input_tokens
                rows.append(
                    (
                        *(workspace, user, day, c.client_id, c.threads, c.turns, c.credits),
                        None if uncached is None or cached is None else uncached + cached,
                        c.text_output_tokens,
                        c.text_total_tokens,
                        cached,
                        sync_run,
                    )
                )
        return sorted(users.items()), rows

    def _from_dicts(self, data: list[dict], sync_run: int) -> tuple[list[tuple], list[tuple]]:
        workspace, users, rows, days = _common.WORKSPACE, {}, [], {}
        for row in data:
            actor = row["actor"]
            user = actor["user_id"]
            users[user] = actor["email"]
            start = row["start_time"]
            day = days.get(start)
            if day is None:
                day = days[start] = self.day(start)
            for c in row["clients"]:
                uncached, cached, output = (
                    c["uncached_text_input_tokens"],
                    c["cached_text_input_tokens"],
                    c["text_output_tokens"],
                )
                rows.append(
                    (
                        *(workspace, user, day, c["client_id"], c["threads"], c["turns"]),
                        c["credits"],
                        None if uncached is None or cached is None else uncached + cached,
                        output,
                        c["text_total_tokens"],
                        cached,
                        sync_run,
                    )
                )
        return sorted(users.items()), rows

    @staticmethod
    def day(start: int) -> object:
        return dt.datetime.fromtimestamp(start, dt.UTC).date()

    transaction_rows = 1  # set by main
    pending = 0
    written: dict[str, str | None] | None = None

    def upsert(self, users: list[tuple], rows: list[tuple]) -> None:
        """One page into the open transaction, each user once unless their email changes;
        committed once it holds `transaction_rows` rows."""
        if self.written is None:
            self.written = {}
        users = [(user, email) for user, email in users if self.written.get(user, 0) != email]
        self.written.update(users)
        self.write(users, rows)
        self.pending += len(rows)
        if self.pending >= self.transaction_rows:
            self.commit()
            self.pending = 0

    def finish(self, side: Side) -> None:
        """Commit what the last pages left open; the next pass is another sync."""
        started = time.perf_counter()
        self.commit()
        self.pending, self.written = 0, None
        side.seconds["store"] += time.perf_counter() - started

    def write(self, users: list[tuple], rows: list[tuple]) -> None:
        """One page into the open transaction (begun if none is)."""
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def figures(self) -> tuple:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class RawSqlite(Raw):
    """SQLite's limit: `sqlite3` alone, on a file of its own with the project's DDL and
    pragmas (`synchronous` as given), one transaction a page."""

    def __init__(self, url: str, synchronous: str) -> None:
        self.name = f"sqlite3 executemany, synchronous={synchronous.upper()}"
        ddl = database.execute_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('codex_user', 'daily_usage') "
            "AND sql IS NOT NULL ORDER BY type DESC"  # tables before their indexes
        ).fetchall()
        path = url.removeprefix("sqlite:///") + f".raw-{synchronous}"
        for suffix in ("", "-wal", "-shm"):
            _unlink(path + suffix)
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        (page_size,) = database.execute_sql("PRAGMA page_size").fetchone()
        pragmas = (
            f"page_size = {page_size}",  # before the first table: the project's
            "journal_mode = wal",
            f"synchronous = {synchronous}",
            "foreign_keys = 1",
            f"cache_size = -{BULK_WRITE_CACHE_KIB}",  # the project's while it syncs
        )
        for pragma in (*pragmas, "busy_timeout = 10000"):
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
    def day(start: int) -> object:
        return dt.datetime.fromtimestamp(start, dt.UTC).date().isoformat()  # stored as text

    def write(self, users: list[tuple], rows: list[tuple]) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")
        self.conn.executemany(self.users_sql, users)
        self.conn.executemany(self.usage_sql, rows)

    def commit(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def figures(self) -> tuple:
        return self.conn.execute(
            "SELECT count(*), sum(turns), sum(total_tokens), sum(cached_input_tokens) "
            "FROM daily_usage"
        ).fetchone()

    def close(self) -> None:
        self.conn.close()
        for suffix in ("", "-wal", "-shm"):
            _unlink(self.path + suffix)


class RawPostgres(Raw):
    """PostgreSQL's limit: psycopg2 alone, on copies of the two tables: each page's rows
    by COPY into a temporary table, then one INSERT ... SELECT ... ON CONFLICT DO UPDATE
    per table, one transaction a page. Text from the API is escaped for COPY, as any
    correct pipeline must."""

    name = "psycopg2 COPY + INSERT ... SELECT"
    _escapes = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

    def __init__(self, url: str) -> None:
        import psycopg2

        self.conn = psycopg2.connect(url)
        with self.conn.cursor() as cursor:
            for table, copy in RAW_TABLES.items():
                cursor.execute(f"DROP TABLE IF EXISTS {copy}")
                cursor.execute(f"CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)")
        self.conn.commit()
        columns = ", ".join(_USAGE_COLUMNS)
        self.statements = (
            "CREATE TEMPORARY TABLE users_in ON COMMIT DROP AS "
            "SELECT user_id, email FROM raw_codex_user WITH NO DATA",
            f"CREATE TEMPORARY TABLE usage_in ON COMMIT DROP AS "
            f"SELECT {columns} FROM raw_daily_usage WITH NO DATA",
        )
        self.users_sql = (
            "INSERT INTO raw_codex_user (user_id, email) SELECT user_id, email FROM users_in "
            "ON CONFLICT (user_id) "
            "DO UPDATE SET email = COALESCE(excluded.email, raw_codex_user.email)"
        )
        self.usage_sql = (
            f"INSERT INTO raw_daily_usage ({columns}) SELECT {columns} FROM usage_in "
            "ON CONFLICT (workspace_id, codex_user_id, day, client_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _UPDATED)
        )

    def write(self, users: list[tuple], rows: list[tuple]) -> None:
        escapes = self._escapes
        users_text = "".join(
            [f"{u.translate(escapes)}\t{_copy_text(e, escapes)}\n" for u, e in users]
        )
        rows_text = "".join(
            [
                f"{row[0]}\t{row[1].translate(escapes)}\t{row[2]}\t{row[3].translate(escapes)}\t"
                + "\t".join([r"\N" if v is None else str(v) for v in row[4:]])
                + "\n"
                for row in rows
            ]
        )
        with self.conn.cursor() as cursor:
            for statement in self.statements:
                cursor.execute(statement)
            cursor.copy_expert("COPY users_in FROM STDIN", io.StringIO(users_text), 1 << 20)
            cursor.execute(self.users_sql)
            cursor.copy_expert("COPY usage_in FROM STDIN", io.StringIO(rows_text), 1 << 20)
            cursor.execute(self.usage_sql)
            cursor.execute("DROP TABLE users_in, usage_in")  # the transaction may go on

    def commit(self) -> None:
        self.conn.commit()

    def figures(self) -> tuple:
        with self.conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), sum(turns), sum(total_tokens), sum(cached_input_tokens) "
                "FROM raw_daily_usage"
            )
            return cursor.fetchone()

    def close(self) -> None:
        with self.conn.cursor() as cursor:
            for copy in RAW_TABLES.values():
                cursor.execute(f"DROP TABLE IF EXISTS {copy}")
        self.conn.commit()
        self.conn.close()


def _copy_text(value: str | None, escapes: dict) -> str:
    return r"\N" if value is None else value.translate(escapes)


def _unlink(path: str) -> None:
    Path(path).unlink(missing_ok=True)


if __name__ == "__main__":
    main()

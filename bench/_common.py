"""What the benchmark scripts share: flags, a database to run on, test data, timing, output.

Each script is run on its own (`.venv/bin/python bench/NAME.py`), so this module sits next
to them and is imported as `_common`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from peewee import Database

from sync.codex.simulator import SimulatedOrg, generate_org, write_org_csv
from sync.org.importer import import_org_csv
from sync.store.database import open_database
from sync.store.models import ALL_MODELS, Employee, SyncRun, database
from sync.store.workspaces import mark_synced, note_connected, start_history

SEED = 7
# The one workspace the benchmarks' usage belongs to.
WORKSPACE = "b3c4d5e6-0000-4000-8000-000000000001"
# The surfaces stored for every person and day in the synthetic histories (4 of them for
# stats and digests, the first 3 for ingest), one from each group people read.
SURFACES = ("CODEX_CLI", "CODEX_IDE_VSCODE", "CODEX_WEB", "CODEX_GITHUB")
_SCRATCH = tempfile.TemporaryDirectory(prefix="codexbot-bench-")


# ------------------------------------------------------------------------------ arguments


def parse_args(
    description: str,
    employees: int,
    days: int,
    smoke_employees: int,
    smoke_days: int,
    configure: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """--employees/--days with the full-size defaults; --smoke picks tiny ones instead."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--employees", type=int, help=f"default {employees}")
    parser.add_argument("--days", type=int, help=f"default {days}")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes ({smoke_employees} employees, {smoke_days} days): checks it runs",
    )
    if configure:
        configure(parser)
    args = parser.parse_args()
    if args.employees is None:
        args.employees = smoke_employees if args.smoke else employees
    if args.days is None:
        args.days = smoke_days if args.smoke else days
    return args


# ------------------------------------------------------------------------------ database


def database_url() -> str:
    """DATABASE_URL, or a SQLite file in a temporary directory removed at exit.

    The benchmarks empty the database they are given, and DATABASE_URL is also what the
    bot reads: a database whose name does not say "bench" is refused, so that running
    them in the bot's environment cannot wipe its data.
    """
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{_SCRATCH.name}/bench.db"
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    if "bench" not in name:
        raise SystemExit(
            f"DATABASE_URL names {name!r}: the benchmarks drop every codexbot table in it. "
            "Give them a database of their own whose name contains 'bench', e.g. "
            "CREATE DATABASE bench, or unset DATABASE_URL for a temporary SQLite file."
        )
    return url


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def engine_name(url: str) -> str:
    return "PostgreSQL" if is_postgres(url) else "SQLite"


def fresh_database(url: str, extra_tables: Iterable[str] = ()) -> Database:
    """`url` opened through the project's own `open_database`, with every table empty.

    A SQLite file is deleted first; on PostgreSQL the tables are dropped, so point
    DATABASE_URL at a database of its own (never the test suite's).
    """
    if is_postgres(url):
        db = open_database(url)
        for table in extra_tables:
            db.execute_sql(f"DROP TABLE IF EXISTS {table}")
        db.drop_tables(ALL_MODELS, cascade=True)
        db.close()
    else:
        path = Path(url.removeprefix("sqlite:///"))
        if database.obj is not None and not database.is_closed():
            database.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return open_database(url)


@contextmanager
def counted_queries(db: Database) -> Iterator[list[int]]:
    """Counts every statement sent through `db` (peewee funnels all of them through
    `execute_sql`); the count is `counter[0]`."""
    counter = [0]
    original = db.execute_sql

    def counting(*args, **kwargs):
        counter[0] += 1
        return original(*args, **kwargs)

    db.execute_sql = counting
    try:
        yield counter
    finally:
        del db.execute_sql  # back to the class's method


# ------------------------------------------------------------------------------ test data


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def import_org(employees: int, seed: int = SEED) -> SimulatedOrg:
    """The simulator's org of `employees` people, imported by the project's CSV import."""
    org = generate_org(employees, seed)
    path = Path(_SCRATCH.name) / f"org-{employees}-{seed}.csv"
    write_org_csv(org, path)
    import_org_csv(path)
    return org


def user_id_for(employee_id: int) -> str:
    return f"user-{employee_id:016x}"


def store_history(db: Database, url: str, days: int, surfaces: int, seed: int = SEED) -> int:
    """Usage for every employee, every one of the last `days` UTC days (today included),
    on `surfaces` surfaces each, as a finished backfill would leave it; returns the rows.

    One Codex account per employee, under their directory email, so every row is
    attributed. Written with the driver's bulk path (executemany on SQLite, COPY on
    PostgreSQL): pushing 3.6M rows through peewee models would take longer than the
    benchmarks themselves, and how the rows got there does not change how they are read.
    """
    people = list(Employee.select(Employee.id, Employee.email).order_by(Employee.id).tuples())
    users = [(user_id_for(employee_id), email) for employee_id, email in people]
    today = utc_today()
    day_list = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
    rows = _history_rows([u for u, _ in users], day_list, SURFACES[:surfaces], seed)
    columns = (
        "workspace_id, codex_user_id, day, client_id, threads, turns, credits, "
        "input_tokens, output_tokens, total_tokens, cached_input_tokens, sync_run"
    )
    conn = db.connection()
    if is_postgres(url):
        with conn.cursor() as cursor:
            cursor.copy_expert("COPY codex_user (user_id, email) FROM STDIN", _tsv(users))
            for chunk in _chunks(rows, 200_000):
                cursor.copy_expert(f"COPY daily_usage ({columns}) FROM STDIN", _tsv(chunk))
        conn.commit()
        # A table just filled by COPY has no planner statistics yet; autovacuum would
        # gather them within a minute in production, so do it now rather than measure
        # plans no long-running database would use.
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE daily_usage")
            cursor.execute("VACUUM ANALYZE codex_user")
            cursor.execute("VACUUM ANALYZE employee")
        conn.autocommit = False
    else:
        with db.atomic():
            conn.executemany("INSERT INTO codex_user (user_id, email) VALUES (?, ?)", users)
            conn.executemany(
                f"INSERT INTO daily_usage ({columns}) VALUES ({', '.join('?' * 12)})",
                ((w, u, d.isoformat(), *rest) for w, u, d, *rest in rows),
            )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    note_connected(WORKSPACE, now)
    start_history(WORKSPACE, day_list[0])
    mark_synced(WORKSPACE, day_list[:-1], now)  # today is still filling in
    SyncRun.create(
        workspace_id=WORKSPACE,
        started_at=now,
        finished_at=now,
        window_start=day_list[0],
        window_end=today,
        outcome=SyncRun.OUTCOME_OK,
    )
    return len(users) * len(day_list) * surfaces


def _history_rows(
    user_ids: list[str], days: list[dt.date], surfaces: tuple[str, ...], seed: int
) -> Iterator[tuple]:
    rng = random.Random(seed)
    today = days[-1]
    for user_id in user_ids:
        # Each person has their own level, and a tenth of them stopped two weeks ago, so
        # digests have changes and idle people to flag.
        level = rng.uniform(0.2, 3.0)
        stopped = today - dt.timedelta(days=15) if rng.random() < 0.1 else None
        for day in days:
            active = stopped is None or day <= stopped
            for client_id in surfaces:
                threads = int(level * rng.random() * 6) if active else 0
                turns = threads * (1 + int(rng.random() * 8))
                input_tokens = turns * int(1500 + rng.random() * 9000)
                output_tokens = input_tokens // 25
                # The API publishes today's tokens only tomorrow.
                tokens = (
                    (None, None, None)
                    if day == today
                    else (input_tokens, output_tokens, input_tokens + output_tokens)
                )
                # 30-70% from the cache, without another draw: the seed's figures stay.
                cached = None if day == today else input_tokens * (3 + turns % 5) // 10
                credits = round(input_tokens / 40000 + output_tokens / 4000, 2)
                yield (
                    *(WORKSPACE, user_id, day, client_id, threads, turns, credits),
                    *(*tokens, cached, None),
                )


def _chunks(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _tsv(rows: Iterable[tuple]) -> io.StringIO:
    """Rows in COPY's text format; None is its \\N."""
    return io.StringIO(
        "".join("\t".join(r"\N" if v is None else str(v) for v in row) + "\n" for row in rows)
    )


# ------------------------------------------------------------------------------ figures


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: an observed value, not an interpolation."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def timed(function: Callable, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def machine() -> str:
    """Cores and memory, as `nproc` and `free` would say."""
    memory = ""
    try:
        with open("/proc/meminfo") as meminfo:
            total_kb = int(meminfo.readline().split()[1])
        memory = f", {total_kb / 1024 / 1024:.1f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{os.cpu_count()} cores{memory}, {platform.system()}, Python {platform.python_version()}"
    )


def header(title: str, url: str, args: argparse.Namespace) -> None:
    where = "a temporary SQLite file" if not os.environ.get("DATABASE_URL") else url
    print(f"== {title}")
    print(f"   {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {machine()}")
    print(f"   {engine_name(url)} ({where}); {args.employees} employees, {args.days} days")
    if args.smoke:
        print("   smoke run: tiny sizes, the goal does not apply")


def goal_line(name: str, value: str, goal: str, met: bool, smoke: bool = False) -> None:
    """The last line every script prints: `name: value (goal ...: met|MISSED)`."""
    verdict = "not judged, smoke run" if smoke else ("met" if met else "MISSED")
    print(f"{name}: {value} (goal {goal}: {verdict})")


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0

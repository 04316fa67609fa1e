"""Question 2, backfill: `codexbot sync` of 90 days for 10k employees over loopback HTTP.

At both of the simulator's densities: realistic (about 356k rows: not everyone has an
account or works every day) and full (every employee on every day on each of four
surfaces: 10k x 90 x 4 = 3.6M rows, what the stats and digest benchmarks store).

The simulator serves from this process; the sync is the real CLI in a child process, so
its wall time, CPU and peak resident memory (from `wait4`) are its own and not the
simulator's. Each window starts from an empty database holding the imported org and the
stored connection, as an operator's first sync does. 30 days against 90 shows whether
memory grows with the window (pages are meant to stream).

At full density, the longest window is also stored by the plain-driver limit
(bench/plain_backfill.py, in a child process too): the same pages from the same
simulator, stored the fastest plain way bench/ingest.py found, with no checks. It is
timed from its first request, the sync from its process's start (about a second more).

    .venv/bin/python bench/backfill.py [--employees N] [--days N] [--density D] [--smoke]
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import _common
from cryptography.fernet import Fernet

from sync.codex.connection import store_connection
from sync.codex.simulator import DENSITIES, DENSITY_FULL, Simulator
from sync.config import CodexSettings, SyncSettings
from sync.store.database import open_database
from sync.store.models import DailyUsage, SyncRun, database

GOAL_SECONDS = 60.0
# Full density (every employee, day and surface: 3.6M rows for 10k x 90 days), issue 15.
GOAL_FULL_SECONDS = {"SQLite": 45.0, "PostgreSQL": 60.0}
GOAL_RSS_MB = 300.0
# Peak memory counts as flat if the long window needs at most this much more.
FLAT_RSS_GROWTH = 1.15


@dataclass
class SyncFigures:
    days: int
    wall: float
    child_cpu: float
    simulator_cpu: float
    max_rss_mb: float
    # What the sync wrote to the disk (wait4's ru_oublock): the WAL and the database file
    # on SQLite, where it bounds the time more than the CPU does; little on PostgreSQL.
    disk_writes_gb: float
    rows: int
    pages: int
    stored: int


@dataclass
class DensityFigures:
    density: str
    accounts: int
    windows: list[SyncFigures]
    goal_seconds: float

    @property
    def growth(self) -> float:
        return self.windows[-1].max_rss_mb / self.windows[0].max_rss_mb

    @property
    def met(self) -> bool:
        full = self.windows[-1]
        return (
            full.wall < self.goal_seconds
            and full.max_rss_mb < GOAL_RSS_MB
            # Flat at full density, as issue 15 sets it. At the realistic density, SQLite's
            # peak grows from 30 to 90 days as its page cache (64 MB at most while a sync
            # writes) fills with a database that grows with the window; PostgreSQL's,
            # with no such cache in the process, stays flat. Printed, not judged.
            and (self.density != DENSITY_FULL or self.growth <= FLAT_RSS_GROWTH)
            and all(f.stored == f.rows for f in self.windows)
        )

    def summary(self) -> str:
        short, full = self.windows[0], self.windows[-1]
        return (
            f"{self.density} {full.days} days ({full.rows:,} rows) in {full.wall:.1f} s, "
            f"peak RSS {full.max_rss_mb:.0f} MB ({short.days} days: {short.max_rss_mb:.0f} MB)"
        )


def main() -> None:
    def configure(parser) -> None:
        parser.add_argument(
            "--density",
            choices=("both", *DENSITIES),
            default="both",
            help="the simulator's density (default: both, realistic then full)",
        )

    args = _common.parse_args(
        __doc__.splitlines()[0],
        employees=10_000,
        days=90,
        smoke_employees=30,
        smoke_days=3,
        configure=configure,
    )
    url = _common.database_url()
    engine = _common.engine_name(url)
    _common.header("backfill: codexbot sync from the simulator over loopback", url, args)
    windows = sorted({max(1, args.days // 3), args.days})
    secret_key = Fernet.generate_key().decode()
    densities = DENSITIES if args.density == "both" else (args.density,)
    results = []
    for density in densities:
        with Simulator(
            employees=args.employees, days=args.days, seed=args.seed, density=density
        ) as sim:
            accounts = len(sim.org.accounts)
            print(f"   {density} density, simulator at {sim.base_url}: {accounts:,} Codex accounts")
            figures = [run_window(url, sim, secret_key, days, args) for days in windows]
            # At full density only: every row has the one shape the plain pipeline knows.
            limit = plain_limit(url, sim, windows[-1]) if density == DENSITY_FULL else None
        goal = GOAL_FULL_SECONDS[engine] if density == DENSITY_FULL else GOAL_SECONDS
        results.append(DensityFigures(density, accounts, figures, goal))
        print_table(figures)
        if limit is not None:
            rows, seconds = limit
            print(
                f"   the plain-driver limit (bench/plain_backfill.py), {windows[-1]} d: "
                f"{rows:,} rows in {seconds:.1f} s; the sync took "
                f"{figures[-1].wall / seconds:.2f} times as long"
            )
        print(f"   peak RSS {figures[-1].days} d / {figures[0].days} d: {results[-1].growth:.2f}")
        print(f"   {results[-1].summary()} (goal < {goal:.0f} s)")
    goals = "; ".join(f"{r.density} < {r.goal_seconds:.0f} s" for r in results)
    _common.goal_line(
        f"backfill ({engine})",
        "; ".join(r.summary() for r in results),
        f"{goals}, < {GOAL_RSS_MB:.0f} MB, at full density RSS flat from {windows[0]} to "
        f"{windows[-1]} days, every row stored",
        all(r.met for r in results),
        args.smoke,
    )


def print_table(figures: list[SyncFigures]) -> None:
    print(
        f"   {'window':>7} {'wall':>8} {'rows/s':>9} {'sync CPU':>9} {'simulator CPU':>14} "
        f"{'peak RSS':>9} {'written':>9} {'rows':>10} {'stored':>10} {'pages':>6}"
    )
    for f in figures:
        print(
            f"   {f.days:>4} d {f.wall:>7.1f}s {f.rows / f.wall:>9,.0f} {f.child_cpu:>8.1f}s "
            f"{f.simulator_cpu:>13.1f}s {f.max_rss_mb:>6.0f} MB {f.disk_writes_gb:>6.1f} GB "
            f"{f.rows:>10,} {f.stored:>10,} "
            f"{f.pages:>6}"
        )


def run_window(url: str, sim: Simulator, secret_key: str, days: int, args) -> SyncFigures:
    _common.fresh_database(url)
    _common.import_org(args.employees, args.seed)
    store_connection(sim.workspace_id, sim.api_key, secret_key, "bench")
    database.close()  # the child is the only one touching the database from here

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CODEX_API_BASE_URL": sim.base_url,
        "CODEXBOT_SECRET_KEY": secret_key,
    }
    parent_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    child = subprocess.Popen(
        [*codexbot_command(), "sync", "--days", str(days)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The pipes are read on threads, and wait4 reports this one child's own peak RSS.
    stdout, stderr = _drain(child)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    parent_after = resource.getrusage(resource.RUSAGE_SELF)
    if child.returncode != 0:
        sys.stderr.write(stderr)
        raise SystemExit(f"codexbot sync --days {days} failed ({child.returncode})")

    open_database(url)
    run = SyncRun.select().order_by(SyncRun.id.desc()).get()
    stored = DailyUsage.select().count()
    database.close()
    return SyncFigures(
        days=days,
        wall=wall,
        child_cpu=usage.ru_utime + usage.ru_stime,
        simulator_cpu=(parent_after.ru_utime - parent_before.ru_utime)
        + (parent_after.ru_stime - parent_before.ru_stime),
        max_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        disk_writes_gb=usage.ru_oublock * 512 / 1e9,  # 512-byte blocks
        rows=run.rows,
        pages=run.pages,
        stored=stored,
    )


def plain_limit(url: str, sim: Simulator, days: int) -> tuple[int, float]:
    """The rows the plain pipeline stored for `days`, and its seconds, in a child process
    (as the sync runs: not sharing this process with the simulator)."""
    found = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("plain_backfill.py")),
            url,
            sim.base_url,
            sim.workspace_id,
            sim.api_key,
            str(days),
            str(CodexSettings().page_size),
            str(SyncSettings().transaction_rows),
        ],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        sys.stderr.write(found.stderr)
        raise SystemExit(f"bench/plain_backfill.py failed ({found.returncode})")
    rows, seconds = found.stdout.split()
    return int(rows), float(seconds)


def codexbot_command() -> list[str]:
    """The installed `codexbot` next to this interpreter, else the same entry point."""
    script = shutil.which("codexbot", path=os.path.dirname(sys.executable))
    if script:
        return [script]
    return [sys.executable, "-c", "from bot.cli import main; main()"]


def _drain(child: subprocess.Popen) -> tuple[str, str]:
    out: dict[str, str] = {}

    def read(name: str, stream) -> None:
        out[name] = stream.read()

    threads = [
        threading.Thread(target=read, args=("stdout", child.stdout)),
        threading.Thread(target=read, args=("stderr", child.stderr)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out["stdout"], out["stderr"]


if __name__ == "__main__":
    main()

"""Question 4, digests: every manager's weekly 1:1 digest over a 10k-person org.

With 10k employees and 90 days x 4 surfaces stored, each manager's digest is composed by
`compose_digest` and rendered into the Slack messages the scheduler sends, as
`bot/digests.py` does, and the statements each one sends to the database are counted.
The count must not grow with reports x days; composing the same digest over a period
four times longer shows it does not grow with days at all. The CEO's digest (the whole
org below it) is timed on its own: with `--employees 30000` it shows whether the top of
the tree costs what a team lead's digest does.

    .venv/bin/python bench/digests.py [--employees N] [--days N] [--smoke]
"""

from __future__ import annotations

import datetime as dt
import gc
import time

import _common

from bot.messages import render_messages
from sync.config import DigestSettings
from sync.org.access import digest_recipients
from sync.org.chart import load_org_chart
from sync.reports.coverage import Coverage
from sync.reports.digest import compose_digest
from sync.reports.periods import Period
from sync.reports.queries import TeamSums
from sync.store.models import Employee, database

GOAL_PER_MANAGER = 0.010
GOAL_MANAGERS = 1000
# Any one digest, the CEO's included, and all of a run's (issue 15, at 30k employees).
GOAL_ANY_DIGEST = 0.100
GOAL_QUERIES = 20
GOAL_ALL_SECONDS = 60.0


def main() -> None:
    args = _common.parse_args(
        __doc__.splitlines()[0], employees=10_000, days=90, smoke_employees=60, smoke_days=15
    )
    url = _common.database_url()
    _common.header("digests: compose_digest + Slack rendering for every manager", url, args)
    db = _common.fresh_database(url)
    seconds, _ = _common.timed(_common.import_org, args.employees, args.seed)
    print(f"   org imported in {seconds:.1f} s")
    seconds, rows = _common.timed(_common.store_history, db, url, args.days, surfaces=4)
    print(f"   {rows:,} usage rows stored in {seconds:.1f} s")

    period_days = DigestSettings().period_days
    today = _common.utc_today()
    managers = managers_with_reports(today)
    depth = depths()
    longer = min(4 * period_days, 45, args.days // 2)
    # Read once for the whole run, as a delivery run does (timed with the digests): the
    # coverage reaches back to the previous period of the longest digest composed below.
    started = time.perf_counter()
    first_day = today - dt.timedelta(days=2 * max(period_days, longer))
    coverage = Coverage.load(first_day, today)
    chart = load_org_chart()
    run = {"coverage": coverage, "chart": chart, "sums": TeamSums(coverage.workspace_id, chart)}
    # Everyone's sums, as the run's first digest reads them: every roll-up comes from them.
    run["sums"].teams_of([], Period.ending_before(today, period_days))
    run_setup = time.perf_counter() - started
    print(f"   run setup (coverage, org chart, everyone's sums): {run_setup:.2f} s")
    # Templates compiled before the clock, with and without teams, as in a running bot.
    for manager in (managers[-1], managers[0]):
        compose(manager, today, period_days, run)

    results = []  # (seconds, queries, manager, people in the digest)
    started = time.perf_counter()
    for manager in managers:
        gc.freeze()  # before each digest, as a delivery run does (bot/digests.py)
        with _common.counted_queries(database.obj) as queries:
            seconds, people = _common.timed(compose, manager, today, period_days, run)
        results.append((seconds, queries[0], manager, people))
    total = time.perf_counter() - started + run_setup
    gc.unfreeze()

    times = [r[0] for r in results]
    counts = [r[1] for r in results]
    mean = total / len(results)
    print(f"   {len(results):,} managers, digests of {period_days} days, in {total:.2f} s")
    print(
        f"   per manager: mean {_common.ms(mean)}, p50 {_common.ms(_common.percentile(times, 0.5))}"
        f", p99 {_common.ms(_common.percentile(times, 0.99))}, max {_common.ms(max(times))}"
    )
    print(f"   queries per digest: mean {_common.mean(counts):.1f}, max {max(counts)}")
    ceo_seconds, ceo_queries, ceo, ceo_people = max(results, key=lambda r: r[3])
    print(
        f"   the CEO's digest ({ceo.name}, {ceo_people:,} people): {_common.ms(ceo_seconds)}, "
        f"{ceo_queries} queries"
    )
    print("   slowest digests:")
    print(f"   {'depth':>5} {'reports':>7} {'people':>7} {'time':>11} {'queries':>7}")
    for seconds, count, manager, people in sorted(results, key=lambda r: -r[0])[:5]:
        reports = manager.direct_reports.count()
        print(
            f"   {depth[manager.id]:>5} {reports:>7} {people:>7} {_common.ms(seconds):>11} "
            f"{count:>7}"
        )

    busiest = max(results, key=lambda r: r[1])[2]
    run["sums"].teams_of([], Period.ending_before(today, longer))  # once per run and period
    by_days = {}
    for days in (period_days, longer):
        with _common.counted_queries(database.obj) as queries:
            compose(busiest, today, days, run)
        by_days[days] = queries[0]
    print(
        f"   queries for the digest with the most, over {period_days} and {longer} days: "
        + " and ".join(str(n) for n in by_days.values())
    )
    # Not more over more days (fewer is fine: the last active day of someone idle in the
    # period is read apart, and over more days fewer people are idle throughout).
    shorter_count, longer_count = by_days[period_days], by_days[longer]
    bounded = longer_count <= shorter_count
    same = "the same" if longer_count == shorter_count else "fewer"
    _common.goal_line(
        f"digests ({_common.engine_name(url)})",
        f"{len(results):,} managers in {total:.1f} s, {_common.ms(mean)} a manager "
        f"({mean * GOAL_MANAGERS:.1f} s per {GOAL_MANAGERS:,}), the slowest "
        f"{_common.ms(max(times))}, the CEO's {_common.ms(ceo_seconds)} and {ceo_queries} "
        f"queries; queries per digest max {max(counts)}, mean {_common.mean(counts):.1f}, "
        f"{same if bounded else 'MORE'} over {longer} days",
        f"< {_common.ms(GOAL_PER_MANAGER)} a manager, any digest < "
        f"{_common.ms(GOAL_ANY_DIGEST)} and < {GOAL_QUERIES} queries, all < "
        f"{GOAL_ALL_SECONDS:.0f} s, queries not per report per day",
        mean < GOAL_PER_MANAGER
        and max(times) < GOAL_ANY_DIGEST
        and max(counts) < GOAL_QUERIES
        and total < GOAL_ALL_SECONDS
        and bounded,
        args.smoke,
    )
    db.close()


def compose(manager: Employee, today, period_days: int, run: dict) -> int:
    """One digest as the scheduler makes it (freshness, org chart and everyone's sums read
    once per delivery run, as bot/digests.py does); returns how many people it covers."""
    digest = compose_digest(
        manager, today, period_days, run["coverage"], run["chart"], team_sums=run["sums"]
    )
    render_messages("digest", digest=digest)
    return len(digest.entries) + sum(e.team.people for e in digest.entries if e.team)


def managers_with_reports(today) -> list[Employee]:
    """Who gets a digest, as the scheduler asks."""
    return sorted(digest_recipients(today), key=lambda manager: manager.id)


def depths() -> dict[int, int]:
    manager_of = dict(Employee.select(Employee.id, Employee.manager).tuples())
    found: dict[int, int] = {}
    for person in manager_of:
        chain, boss = [], person
        while boss is not None and boss not in found:
            chain.append(boss)
            boss = manager_of[boss]
        depth = -1 if boss is None else found[boss]
        for member in reversed(chain):
            depth += 1
            found[member] = depth
    return found


if __name__ == "__main__":
    main()

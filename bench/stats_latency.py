"""Question 3, stats latency: one person's stats answer, as a manager asks for it in Slack.

10k employees with 90 days x 4 surfaces stored (3.6M rows). Each answer is what
`codexbot stats` and `/codex stats` do: look both people up, `ask_stats_by_email` (the access
check, the queries, the access log entry) and render `stats.txt.j2`. Viewers are drawn
evenly from every depth of the tree, each asking about someone below them (at the deepest
level, where nobody has reports, about themselves), over 7, 30 or 90 days. The access
check (`may_view`) is also timed alone, and then against its target's depth in this org
and in one a tenth its size: it should grow with depth, not with the org.

    .venv/bin/python bench/stats_latency.py [--employees N] [--days N] [--answers N] [--smoke]
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

import _common

from bot.rendering import render
from sync.org.access import may_view
from sync.reports.answers import ask_stats_by_email
from sync.reports.periods import STATS_PERIOD_DAYS
from sync.store.models import Employee

GOAL_ANSWER_P99 = 0.050
GOAL_ACCESS_P99 = 0.005
WARM_UP = 20
CHECKS_PER_DEPTH = 200
# Answers are timed as `/codex stats @person` gives them, access log entry included.


def main() -> None:
    def configure(parser):
        parser.add_argument("--answers", type=int, help="answers to time (default 1000)")

    args = _common.parse_args(
        __doc__.splitlines()[0],
        employees=10_000,
        days=90,
        smoke_employees=60,
        smoke_days=3,
        configure=configure,
    )
    args.answers = args.answers or (50 if args.smoke else 1000)
    url = _common.database_url()
    _common.header("stats latency: access check + stats_for + stats.txt.j2", url, args)
    db = _common.fresh_database(url)
    seconds, _ = _common.timed(_common.import_org, args.employees, args.seed)
    print(f"   org imported in {seconds:.1f} s")
    seconds, rows = _common.timed(_common.store_history, db, url, args.days, surfaces=4)
    print(f"   {rows:,} usage rows stored in {seconds:.1f} s")

    tree = Tree.load()
    rng = random.Random(args.seed)
    today = _common.utc_today()
    for viewer, target, days in tree.requests(rng, WARM_UP):
        answer_once(viewer.email, target.email, days, today)

    by_depth: dict[int, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for viewer, target, days in tree.requests(rng, args.answers):
        answer_seconds = answer_once(viewer.email, target.email, days, today)
        started = time.perf_counter()
        allowed = may_view(viewer, target)
        access_seconds = time.perf_counter() - started
        if not allowed:
            raise SystemExit(f"{viewer.email} was refused {target.email}, who is below them")
        answers, checks = by_depth[tree.depth[viewer.id]]
        answers.append(answer_seconds)
        checks.append(access_seconds)

    print(f"   {args.answers} answers; viewers by depth (0 = the CEO), times p50 / p99:")
    print(f"   {'depth':>5} {'answers':>7} {'whole answer':>21} {'access check':>21}")
    all_answers, all_checks = [], []
    for depth in sorted(by_depth):
        answers, checks = by_depth[depth]
        all_answers += answers
        all_checks += checks
        _depth_row(depth, answers, checks)
    _depth_row("all", all_answers, all_checks)

    print("   access check against the target's depth (viewer: the target's manager), p50:")
    costs = {args.employees: access_by_target_depth(tree, rng)}
    small = max(2, args.employees // 10)
    replace_org(small, args.seed)
    costs[small] = access_by_target_depth(Tree.load(), rng)
    depths = sorted(set().union(*costs.values()))
    print("   " + f"{'depth':>5}" + "".join(f" {f'{n:,} people':>14}" for n in costs))
    for depth in depths:
        cells = "".join(
            f" {_common.ms(costs[n][depth]) if depth in costs[n] else '-':>14}" for n in costs
        )
        print(f"   {depth:>5}{cells}")
    for size, medians in costs.items():
        fixed, per_level = _line(medians)
        print(
            f"   {size:,} people: {_common.ms(fixed)} + {per_level * 1e6:.1f} µs a level "
            f"(least squares over depths {min(medians)}-{max(medians)})"
        )

    answer_p99 = _common.percentile(all_answers, 0.99)
    access_p99 = _common.percentile(all_checks, 0.99)
    _common.goal_line(
        f"stats latency ({_common.engine_name(url)})",
        f"answer p99 {_common.ms(answer_p99)}, access check p99 {_common.ms(access_p99)}",
        f"p99 < {_common.ms(GOAL_ANSWER_P99)} answer, < {_common.ms(GOAL_ACCESS_P99)} access",
        answer_p99 < GOAL_ANSWER_P99 and access_p99 < GOAL_ACCESS_P99,
        args.smoke,
    )
    db.close()


def answer_once(viewer_email: str, target_email: str, days: int, today) -> float:
    """The whole answer, as `codexbot stats TARGET --as VIEWER` composes it."""
    started = time.perf_counter()
    answer = ask_stats_by_email(viewer_email, target_email, days, today)
    if answer is None:
        raise SystemExit(f"{viewer_email} was refused {target_email}, who is below them")
    render("stats.txt.j2", answer=answer)
    return time.perf_counter() - started


class Tree:
    """The reporting lines, read once, to pick viewers and whom they may ask about."""

    def __init__(self, people: list[Employee]) -> None:
        self.by_id = {e.id: e for e in people}
        self.reports: dict[int, list[int]] = defaultdict(list)
        for e in people:
            if e.manager_id is not None:
                self.reports[e.manager_id].append(e.id)
        self.depth: dict[int, int] = {}
        self.below: dict[int, list[int]] = {}
        for root in (e.id for e in people if e.manager_id is None):
            self._walk(root)
        # Admins see everyone without a walk up the tree; archived people see nothing.
        # Managers ask about someone below them, the check's real work; a level with no
        # managers (the deepest) asks about themselves.
        everyone_at: dict[int, list[Employee]] = defaultdict(list)
        managers_at: dict[int, list[Employee]] = defaultdict(list)
        for e in people:
            if e.archived_on is None and not e.is_admin:
                everyone_at[self.depth[e.id]].append(e)
                if len(self.below[e.id]) > 1:
                    managers_at[self.depth[e.id]].append(e)
        self.viewers_at = {d: managers_at.get(d) or people for d, people in everyone_at.items()}

    @classmethod
    def load(cls) -> Tree:
        return cls(list(Employee.select()))

    def _walk(self, root: int) -> None:
        """Depths and everyone below each person, iteratively: no recursion limit."""
        order, stack = [], [(root, 0)]
        while stack:
            person, depth = stack.pop()
            self.depth[person] = depth
            order.append(person)
            stack.extend((report, depth + 1) for report in self.reports[person])
        for person in reversed(order):  # reports are finished before their managers
            below = [person]
            for report in self.reports[person]:
                below += self.below[report]
            self.below[person] = below

    def requests(self, rng: random.Random, count: int):
        """(viewer, target, days): viewers spread evenly over the depths."""
        depths = sorted(self.viewers_at)
        for n in range(count):
            viewer = rng.choice(self.viewers_at[depths[n % len(depths)]])
            below = self.below[viewer.id]
            target = self.by_id[rng.choice(below[1:] or below)]  # below[0] is the viewer
            yield viewer, target, rng.choice(STATS_PERIOD_DAYS)


def access_by_target_depth(tree: Tree, rng: random.Random) -> dict[int, float]:
    """Median `may_view` time for targets at each depth, asked by their own manager."""
    targets_at: dict[int, list[Employee]] = defaultdict(list)
    for person in tree.by_id.values():
        manager = tree.by_id.get(person.manager_id)
        if manager is not None and manager.archived_on is None and not manager.is_admin:
            targets_at[tree.depth[person.id]].append(person)
    medians = {}
    for depth, targets in sorted(targets_at.items()):
        times = []
        for _ in range(CHECKS_PER_DEPTH):
            target = rng.choice(targets)
            manager = tree.by_id[target.manager_id]
            started = time.perf_counter()
            may_view(manager, target)
            times.append(time.perf_counter() - started)
        medians[depth] = _common.percentile(times, 0.5)
    return medians


def replace_org(employees: int, seed: int) -> None:
    """Swap the directory for a smaller org; only the employee table matters to the check."""
    Employee.update(manager=None).execute()
    Employee.delete().execute()
    _common.import_org(employees, seed)


def _line(points: dict[int, float]) -> tuple[float, float]:
    """Intercept and slope of the least-squares line through (depth, time)."""
    if len(points) < 2:
        return next(iter(points.values()), 0.0), 0.0
    xs, ys = list(points), list(points.values())
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return mean_y - slope * mean_x, slope


def _depth_row(depth, answers: list[float], checks: list[float]) -> None:
    print(f"   {depth:>5} {len(answers):>7} {_p50_p99(answers):>21} {_p50_p99(checks):>21}")


def _p50_p99(values: list[float]) -> str:
    p50, p99 = _common.percentile(values, 0.5), _common.percentile(values, 0.99)
    return f"{_common.ms(p50)} / {_common.ms(p99)}"


if __name__ == "__main__":
    main()

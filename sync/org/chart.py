"""The reporting tree: who reports to whom, walked down to a team or up to the managers
above someone. Every walk of the tree is here; who may see what is decided in access.py."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

from peewee import SQL, chunked

from sync.store.models import Employee

# Real org charts are a handful of levels deep; the bound only stops a corrupted chain
# (a loop written straight to the database) from being walked forever.
MAX_CHAIN_DEPTH = 64

# {manager id: [direct report ids]}: the whole tree, read once by runs that walk many teams.
OrgChart = dict[int, list[int]]


Person = TypeVar("Person", bound=Hashable)


def manager_loops(
    manager_of: Mapping[Person, Person | None], starts: Iterable[Person]
) -> list[list[Person]]:
    """Every loop reachable by walking up `manager_of` (person -> their manager) from
    `starts`, each reported once: every change to who manages whom (an import, SCIM) is
    checked with it before it is made."""
    done: set[Person] = set()
    loops = []
    for start in starts:
        path: list[Person] = []
        position: dict[Person, int] = {}
        node: Person | None = start
        while node is not None and node not in done and node not in position:
            position[node] = len(path)
            path.append(node)
            node = manager_of.get(node)
        if node is not None and node in position:
            loops.append(path[position[node] :])
        done.update(path)
    return loops


def load_org_chart() -> OrgChart:
    """Every manager's direct reports by id, in one query."""
    chart: OrgChart = {}
    for employee_id, manager_id in Employee.select(Employee.id, Employee.manager).tuples():
        if manager_id is not None:
            chart.setdefault(manager_id, []).append(employee_id)
    return chart


def direct_reports(manager: Employee) -> list[Employee]:
    """One level below `manager`, archived people included, ordered by name."""
    return list(
        Employee.select()
        .where((Employee.manager == manager.id) & (Employee.id != manager.id))
        .order_by(Employee.name, Employee.email)
    )


def reporting_chain(manager: Employee) -> list[Employee]:
    """Everyone below `manager`, all levels, archived people included, ordered by name:
    one recursive query, ordered by the database like every other list of people."""
    below = (
        Employee.select(Employee.id, SQL("1"))
        .where(Employee.manager == manager.id)
        .cte("below", recursive=True, columns=("id", "depth"))
    )
    report = Employee.alias("report")
    below = below.union_all(
        report.select(report.id, below.c.depth + 1)
        .join(below, on=(report.manager == below.c.id))
        .where(below.c.depth < MAX_CHAIN_DEPTH)
    )
    return list(
        Employee.select()
        .where(Employee.id.in_(below.select_from(below.c.id)) & (Employee.id != manager.id))
        .order_by(Employee.name, Employee.email)
    )


def members_below(roots: Iterable[Employee], chart: OrgChart | None = None) -> dict[int, int]:
    """Everyone below each root, as {member id: root id}. From `chart` when given, else
    walked one level per query: an indexed `manager IN (...)` per level, however deep,
    never a scan of the org."""
    root_of: dict[int, int] = {}
    level = {root.id: root.id for root in roots}
    seen = set(level)  # a loop in the data must not walk back up to a root
    for _ in range(MAX_CHAIN_DEPTH):
        if not level:
            break
        below: dict[int, int] = {}
        for member_id, manager_id in _next_level(list(level), chart):
            if member_id not in seen:
                below[member_id] = level[manager_id]
        seen.update(below)
        root_of.update(below)
        level = below
    return root_of


def _next_level(manager_ids: list[int], chart: OrgChart | None) -> list[tuple[int, int]]:
    if chart is not None:
        return [(report, manager) for manager in manager_ids for report in chart.get(manager, ())]
    pairs: list[tuple[int, int]] = []
    for batch in chunked(manager_ids, 5000):
        query = Employee.select(Employee.id, Employee.manager).where(Employee.manager.in_(batch))
        pairs.extend(query.tuples())
    return pairs


def manager_ids_above(employee: Employee) -> set[int]:
    """The ids up `employee`'s manager chain, in one recursive query: the access check runs
    on every answer, so its cost grows with depth only."""
    if employee.manager_id is None:
        return set()
    above = (
        Employee.select(Employee.id, Employee.manager, SQL("1"))
        .where(Employee.id == employee.manager_id)
        .cte("above", recursive=True, columns=("id", "manager_id", "depth"))
    )
    boss = Employee.alias("boss")
    above = above.union_all(
        boss.select(boss.id, boss.manager, above.c.depth + 1)
        .join(above, on=(boss.id == above.c.manager_id))
        .where(above.c.depth < MAX_CHAIN_DEPTH)
    )
    return {employee_id for (employee_id,) in above.select_from(above.c.id).tuples()}

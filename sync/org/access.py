"""Who may see whose Codex usage: the one access policy every surface asks.

A person sees their own usage and that of everyone below them in the manager chain;
admins see everyone; archived people see nothing. Peers, one's own manager and people
in other branches are private.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from peewee import SQL, chunked

from sync.clock import utc_today
from sync.store.models import Employee

# Real org charts are a handful of levels deep; the bound only stops a corrupted chain
# (a loop written straight to the database) from recursing forever.
MAX_CHAIN_DEPTH = 64


def is_archived(employee: Employee, today: dt.date | None = None) -> bool:
    """Archived from `archived_on` (a UTC day) onwards; a future date is not archived yet."""
    return employee.archived_on is not None and employee.archived_on <= (today or utc_today())


def is_admin(
    employee: Employee | None, email: str | None = None, admin_emails: Collection[str] = ()
) -> bool:
    """Admins are employees with role admin, plus the emails the config lists.

    A config admin need not be in the directory yet: someone has to connect Codex and
    import the org first. An archived employee is never an admin.
    """
    if employee is not None and is_archived(employee):
        return False
    emails = {e.strip().lower() for e in admin_emails}
    if employee is not None and (employee.is_admin or employee.email in emails):
        return True
    return bool(email) and email.strip().lower() in emails


def may_view(viewer: Employee | None, target: Employee, admin_emails: Collection[str] = ()) -> bool:
    if viewer is None or is_archived(viewer):
        return False
    if viewer.id == target.id or is_admin(viewer, admin_emails=admin_emails):
        return True
    return viewer.id in _manager_ids_above(target)


def direct_reports(manager: Employee) -> list[Employee]:
    return list(
        Employee.select()
        .where((Employee.manager == manager.id) & (Employee.id != manager.id))
        .order_by(Employee.name, Employee.email)
    )


def reporting_chain(manager: Employee) -> list[Employee]:
    """Everyone below `manager`, all levels, archived people included, ordered by name."""
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


def org_chart() -> dict[int, list[int]]:
    """Every manager's direct reports by id, in one query: for runs that walk many teams."""
    chart: dict[int, list[int]] = {}
    for employee_id, manager_id in Employee.select(Employee.id, Employee.manager).tuples():
        if manager_id is not None:
            chart.setdefault(manager_id, []).append(employee_id)
    return chart


def reporting_chains(
    roots: list[Employee], chart: dict[int, list[int]] | None = None
) -> dict[int, int]:
    """Everyone below each root, as {member id: root id}. From `chart` when given (see
    org_chart), else walked one level per query: an indexed `manager IN (...)` per
    level, however deep, never a scan of the org."""
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


def _next_level(manager_ids: list[int], chart: dict[int, list[int]] | None):
    if chart is not None:
        return [(report, manager) for manager in manager_ids for report in chart.get(manager, ())]
    pairs = []
    for batch in chunked(manager_ids, 5000):
        query = Employee.select(Employee.id, Employee.manager).where(Employee.manager.in_(batch))
        pairs.extend(query.tuples())
    return pairs


def _manager_ids_above(employee: Employee) -> set[int]:
    """The ids up `employee`'s manager chain, in one query: cost grows with depth only."""
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

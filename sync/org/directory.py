"""The org directory: lookups, aliases, and which Codex accounts are whose.

Attribution rule, decided here and nowhere else: a Codex account belongs to the employee
whose directory email equals the account's email; failing that, to the employee holding an
alias for that email. A directory email beats an alias, so an account never counts twice.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from peewee import JOIN, chunked, fn

from sync.store.models import CodexUser, DailyUsage, EmailAlias, Employee, database
from sync.store.workspaces import current_workspace

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class DirectoryError(Exception):
    """A directory change that can't be made; the message is meant for the operator."""


@dataclass(frozen=True)
class UnmatchedUser:
    user_id: str
    email: str | None
    label: str
    last_seen: dt.date | None
    credits: float


def normalize_email(email: str | None) -> str:
    return (email or "").strip().lower()


def is_valid_email(email: str) -> bool:
    return bool(_EMAIL.fullmatch(email))


def find_employee(email: str) -> Employee | None:
    """The employee whose directory email this is, ignoring case; aliases don't count."""
    return Employee.get_or_none(Employee.email == normalize_email(email))


# --- Aliases and attribution -------------------------------------------------------------


def add_alias(codex_email: str, employee_email: str) -> EmailAlias:
    """Attribute the Codex account `codex_email` to an employee; re-aliasing moves it."""
    codex_email = normalize_email(codex_email)
    if not is_valid_email(codex_email):
        raise DirectoryError(f"{codex_email!r} is not a valid email address")
    employee = find_employee(employee_email)
    if employee is None:
        raise DirectoryError(f"{normalize_email(employee_email)} is not in the directory")
    with database.atomic():
        owner = find_employee(codex_email)
        if owner is not None and owner.id != employee.id:
            raise DirectoryError(
                f"{codex_email} is the directory email of {owner.display_name}; "
                f"it can't also be an alias of {employee.display_name}"
            )
        alias = EmailAlias.get_or_none(EmailAlias.codex_email == codex_email)
        if alias is None:
            return EmailAlias.create(codex_email=codex_email, employee=employee)
        if alias.employee_id != employee.id:
            alias.employee = employee
            alias.save()
        return alias


def codex_user_ids_for(employee: Employee) -> list[str]:
    """The Codex accounts attributed to `employee` (see the module docstring)."""
    return codex_user_ids_by_employee([employee])[employee.id]


def _with_owners(query):
    """Left-joins the directory email and the alias that could claim each Codex user."""
    return query.join(Employee, JOIN.LEFT_OUTER, on=(Employee.email == CodexUser.email)).join_from(
        CodexUser, EmailAlias, JOIN.LEFT_OUTER, on=(EmailAlias.codex_email == CodexUser.email)
    )


def codex_user_ids_by_employee(employees) -> dict[int, list[str]]:
    """The Codex accounts of each employee: by directory email, then by alias where the
    alias is not someone's directory email. Both lookups use indexed columns."""
    employees = list(employees)
    found: dict[int, list[str]] = {employee.id: [] for employee in employees}
    by_email = {employee.email: employee.id for employee in employees}
    for batch in chunked(list(by_email), 5000):
        query = CodexUser.select(CodexUser.user_id, CodexUser.email).where(
            CodexUser.email.in_(batch)
        )
        for user_id, email in query.tuples():
            found[by_email[email]].append(user_id)
    for batch in chunked(list(found), 5000):
        query = (
            CodexUser.select(CodexUser.user_id, EmailAlias.employee)
            .join(EmailAlias, on=(EmailAlias.codex_email == CodexUser.email))
            .where(
                EmailAlias.employee.in_(batch),
                EmailAlias.codex_email.not_in(Employee.select(Employee.email)),
            )
        )
        for user_id, employee_id in query.tuples():
            found[employee_id].append(user_id)
    return {employee_id: sorted(ids) for employee_id, ids in found.items()}


def matched_employee_ids_by_codex_user() -> dict[str, int]:
    """Every attributed Codex user id -> its employee id, in one query."""
    owner_id = fn.COALESCE(Employee.id, EmailAlias.employee)
    query = _with_owners(CodexUser.select(CodexUser.user_id, owner_id)).where(
        owner_id.is_null(False)
    )
    return dict(query.tuples())


def _unmatched(query):
    return _with_owners(query).where(Employee.id.is_null() & EmailAlias.codex_email.is_null())


def count_unmatched_codex_users() -> int:
    return _unmatched(CodexUser.select()).count()


def unmatched_codex_users() -> list[UnmatchedUser]:
    """Codex users nobody in the directory owns, biggest spenders first (in the current
    workspace), in one query."""
    usage = (
        DailyUsage.select(
            DailyUsage.codex_user_id,
            fn.MAX(DailyUsage.day).alias("last_seen"),
            fn.SUM(DailyUsage.credits).alias("credits"),
        )
        .where(DailyUsage.workspace_id == current_workspace())
        .group_by(DailyUsage.codex_user_id)
        .alias("usage")
    )
    credits = fn.COALESCE(usage.c.credits, 0)
    query = (
        _unmatched(CodexUser.select(CodexUser.user_id, CodexUser.email, usage.c.last_seen, credits))
        .join_from(
            CodexUser, usage, JOIN.LEFT_OUTER, on=(usage.c.codex_user_id == CodexUser.user_id)
        )
        .order_by(credits.desc(), CodexUser.user_id)
    )
    users = []
    for user_id, email, last_seen, total in query.tuples():
        if isinstance(last_seen, str):  # SQLite hands back MAX() of a date as text
            last_seen = dt.date.fromisoformat(last_seen)
        label = email or f"id {user_id}"
        users.append(UnmatchedUser(user_id, email or None, label, last_seen, float(total)))
    return users

"""The org directory: lookups, aliases, and which Codex accounts are whose.

Attribution rule, decided here and nowhere else: a Codex account belongs to the employee
whose directory email equals the account's email; failing that, to the employee holding an
alias for that email. A directory email beats an alias, so an account never counts twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from peewee import JOIN, PostgresqlDatabase, fn

from sync.notices import Notice
from sync.org.history import ACTOR_CLI, ALIAS_ADDED, record_change
from sync.store.models import CodexUser, DailyUsage, EmailAlias, Employee, database
from sync.store.prepared import Prepared
from sync.store.workspaces import current_workspace

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


# The key of the PostgreSQL advisory lock every change of who manages whom takes (imports,
# SCIM), so two at once cannot each pass the manager-loop check and together make a loop.
# SQLite writes are serialized already: they begin IMMEDIATE.
DIRECTORY_LOCK_KEY = 0x636F646578646972  # "codexdir"


@contextlib.contextmanager
def directory_write() -> Iterator[None]:
    """One transaction that changes the reporting lines, one such at a time."""
    with database.atomic():
        if isinstance(database.obj, PostgresqlDatabase):
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (DIRECTORY_LOCK_KEY,))
        yield


class DirectoryError(Exception):
    """A directory change that can't be made: the message is meant for the operator at
    the CLI, the notice (templates/_notices.j2) for an admin in Slack."""

    def __init__(self, message: str, notice: Notice | None = None) -> None:
        super().__init__(message)
        self.notice = notice or Notice("text", {"text": message})


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


def add_alias(codex_email: str, employee_email: str, *, actor: str = ACTOR_CLI) -> EmailAlias:
    """Attribute the Codex account `codex_email` to an employee; re-aliasing moves it.
    The change is recorded in the directory's history as made by `actor`."""
    codex_email = normalize_email(codex_email)
    if not is_valid_email(codex_email):
        raise DirectoryError(
            f"{codex_email!r} is not a valid email address",
            Notice("not_an_email", {"word": codex_email}),
        )
    employee = find_employee(employee_email)
    if employee is None:
        raise DirectoryError(
            f"{normalize_email(employee_email)} is not in the directory", Notice("unknown_person")
        )
    with database.atomic():
        owner = find_employee(codex_email)
        if owner is not None and owner.id == employee.id:
            raise DirectoryError(
                f"{codex_email} is {employee.display_name}'s directory email already: "
                "its usage counts for them without an alias",
                Notice(
                    "alias_is_own_email",
                    {"codex_email": codex_email, "person": employee.display_name},
                ),
            )
        if owner is not None:
            raise DirectoryError(
                f"{codex_email} is the directory email of {owner.display_name}; "
                f"it can't also be an alias of {employee.display_name}",
                Notice(
                    "alias_is_directory_email",
                    {
                        "codex_email": codex_email,
                        "owner": owner.display_name,
                        "person": employee.display_name,
                    },
                ),
            )
        alias = EmailAlias.get_or_none(EmailAlias.codex_email == codex_email)
        if alias is not None and alias.employee_id == employee.id:
            return alias
        detail: dict[str, object] = {"codex_email": codex_email}
        if alias is None:
            alias = EmailAlias.create(codex_email=codex_email, employee=employee)
        else:
            detail["from"] = alias.employee.email
            alias.employee = employee
            alias.save()
        record_change(actor, ALIAS_ADDED, employee.email, detail)
        return alias


def alias_owner(codex_email: str) -> Employee | None:
    """Whom an alias attributes `codex_email` to, if one does."""
    alias = EmailAlias.get_or_none(EmailAlias.codex_email == normalize_email(codex_email))
    return None if alias is None else alias.employee


@dataclass(frozen=True)
class AccountUsage:
    """The usage of the Codex accounts reporting one email, in the current workspace."""

    accounts: int
    credits: float
    last_seen: dt.date | None


def codex_usage_of_email(codex_email: str) -> AccountUsage:
    """What attributing `codex_email` to someone moves: its accounts' credits, all days."""
    accounts = CodexUser.select(CodexUser.user_id).where(
        CodexUser.email == normalize_email(codex_email)
    )
    credits, last_seen = (
        DailyUsage.select(fn.COALESCE(fn.SUM(DailyUsage.credits), 0), fn.MAX(DailyUsage.day))
        .where(
            DailyUsage.workspace_id == current_workspace(),
            DailyUsage.codex_user_id.in_(accounts),
        )
        .tuples()
        .get()
    )
    return AccountUsage(accounts.count(), float(credits), _as_date(last_seen))


def codex_user_ids_for(employee: Employee) -> list[str]:
    """The Codex accounts attributed to `employee` (see the module docstring)."""
    return codex_user_ids_by_employee([employee])[employee.id]


def _with_owners(query):
    """Left-joins the directory email and the alias that could claim each Codex user."""
    return query.join(Employee, JOIN.LEFT_OUTER, on=(Employee.email == CodexUser.email)).join_from(
        CodexUser, EmailAlias, JOIN.LEFT_OUTER, on=(EmailAlias.codex_email == CodexUser.email)
    )


# Asked for every stats answer, most often for one person: built once (sync/store/prepared.py).
_ACCOUNTS_BY_EMAIL = Prepared(
    lambda emails: CodexUser.select(CodexUser.user_id, CodexUser.email).where(
        CodexUser.email.in_(emails)
    )
)
_ACCOUNTS_BY_ALIAS = Prepared(
    lambda employee_ids: (
        CodexUser.select(CodexUser.user_id, EmailAlias.employee)
        .join(EmailAlias, on=(EmailAlias.codex_email == CodexUser.email))
        .where(
            EmailAlias.employee.in_(employee_ids),
            EmailAlias.codex_email.not_in(Employee.select(Employee.email)),
        )
    )
)


def codex_user_ids_by_employee(employees) -> dict[int, list[str]]:
    """The Codex accounts of each employee: by directory email, then by alias where the
    alias is not someone's directory email. Both lookups use indexed columns."""
    employees = list(employees)
    found: dict[int, list[str]] = {employee.id: [] for employee in employees}
    by_email = {employee.email: employee.id for employee in employees}
    for batch in _batches(list(by_email), 5000):
        for user_id, email in _ACCOUNTS_BY_EMAIL.execute(batch):
            found[by_email[email]].append(user_id)
    for batch in _batches(list(found), 5000):
        for user_id, employee_id in _ACCOUNTS_BY_ALIAS.execute(batch):
            found[employee_id].append(user_id)
    return {employee_id: sorted(ids) for employee_id, ids in found.items()}


def _batches(items: list, size: int) -> Iterator[list]:
    # Slices, not peewee's chunked(): that pads every batch to `size` first, a third of
    # a millisecond per call even for the single employee of a DM's answer.
    return (items[start : start + size] for start in range(0, len(items), size))


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


def unmatched_codex_users(limit: int | None = None) -> list[UnmatchedUser]:
    """Codex users nobody in the directory owns, biggest spenders first (in the current
    workspace), in one query; the first `limit` of them if given."""
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
    if limit is not None:
        query = query.limit(limit)
    users = []
    for user_id, email, last_seen, total in query.tuples():
        label = email or f"id {user_id}"
        users.append(
            UnmatchedUser(user_id, email or None, label, _as_date(last_seen), float(total))
        )
    return users


def _as_date(value: dt.date | str | None) -> dt.date | None:
    if isinstance(value, str):  # SQLite hands back MAX() of a date as text
        return dt.date.fromisoformat(value)
    return value

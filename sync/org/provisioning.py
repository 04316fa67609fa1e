"""Keeping the directory in step with an identity provider: create, change, archive,
restore and remove a person, each checked first and made in one transaction with its
history, so a refused change changes nothing. Protocol-independent: sync/org/scim/ speaks
SCIM on top of it.

What a provider may set is `Provided`: the email (the person's key, lower-cased), name,
time zone, department, its own id for them, their manager and whether they are active.
The directory's role (admin), the Slack link and people's preferences are not its to
change.

- Inactive means archived from today (sync/org/access.py): access goes at once, history
  stays. Active again clears the archive date; a leaving date still in the future is left
  alone while the provider says "active".
- Removed (the provider deleted the person): archived too, and no longer known to the
  provider: `find_person` does not find them and `removed_where` leaves them out. The
  mark is the history's own record of the removal, undone by a later restore; creating
  the same email again brings the person back, history and all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from peewee import SQL, Expression, fn

from sync.clock import utc_today
from sync.notices import Problem
from sync.org.access import is_archived
from sync.org.chart import manager_loops
from sync.org.directory import directory_write, is_valid_email, normalize_email
from sync.org.history import (
    ARCHIVED,
    CREATED,
    MANAGER_CHANGED,
    RESTORED,
    UPDATED,
    record_change,
)
from sync.org.time_zones import known_time_zones
from sync.store.models import DirectoryChange, Employee

# The directory's text columns are VARCHAR(255) on PostgreSQL.
MAX_TEXT = 255
# How a removal is told apart from an archive in the history's detail.
REMOVED_DETAIL = "removed"


class PersonNotFound(Problem):
    kind = "person_not_found"  # id


class PersonEmailInvalid(Problem):
    kind = "person_email_invalid"  # email


class PersonEmailTaken(Problem):
    kind = "person_email_taken"  # email


class PersonExternalIdTaken(Problem):
    kind = "person_external_id_taken"  # external_id


class PersonTimeZoneUnknown(Problem):
    kind = "person_time_zone_unknown"  # timezone


class PersonManagerUnknown(Problem):
    kind = "person_manager_unknown"  # manager_id


class PersonManagerLoop(Problem):
    kind = "person_manager_loop"  # chain: the emails around the loop, from the person


class PersonValueTooLong(Problem):
    kind = "person_value_too_long"  # field, limit


@dataclass(frozen=True)
class Provided:
    """What an identity provider says of a person."""

    email: str
    name: str = ""
    timezone: str | None = None
    department: str | None = None
    external_id: str | None = None
    manager_id: int | None = None
    active: bool = True


PROVIDED_FIELDS = tuple(f.name for f in fields(Provided))
_TEXT_FIELDS = ("email", "name", "timezone", "department", "external_id")


def provided_of(person: Employee, day: dt.date | None = None) -> Provided:
    """What the directory holds of `person`, as a provider would say it."""
    return Provided(
        email=person.email,
        name=person.name or "",
        timezone=person.timezone,
        department=person.department,
        external_id=person.external_id,
        manager_id=person.manager_id,
        active=not is_archived(person, day),
    )


def removed_where(people=Employee) -> Expression:
    """People the provider removed and nobody brought back: archived, and the latest
    archive-or-restore in their history is a removal."""
    removal = DirectoryChange.alias("removal")
    later = DirectoryChange.alias("later")
    undone = later.select(SQL("1")).where(
        (later.subject == removal.subject)
        & (later.id > removal.id)
        & later.action.in_([CREATED, RESTORED, ARCHIVED])
    )
    removals = removal.select(SQL("1")).where(
        (removal.subject == people.email)
        & (removal.action == ARCHIVED)
        & removal.detail.contains(f'"{REMOVED_DETAIL}": true')
        & ~fn.EXISTS(undone)
    )
    return people.archived_on.is_null(False) & fn.EXISTS(removals)


def find_person(person_id: int) -> Employee | None:
    """The person with this id, unless the provider removed them."""
    return Employee.get_or_none((Employee.id == person_id) & ~removed_where())


def create_person(wanted: Provided, actor: str, today: dt.date | None = None) -> Employee:
    """A new person, or, for the email of someone the provider removed, that person
    back with what `wanted` says."""
    today = today or utc_today()
    with directory_write():
        wanted = _normalized(wanted)
        existing = Employee.get_or_none(Employee.email == wanted.email)
        if existing is not None:
            if find_person(existing.id) is not None:
                raise PersonEmailTaken(email=wanted.email)
            existing.archived_on = None
            existing.save(only=[Employee.archived_on])
            record_change(actor, RESTORED, existing.email, {"archived_on": None})
            return _change(existing, wanted, actor, today)
        _check(wanted, None)
        person = Employee.create(
            email=wanted.email,
            name=wanted.name,
            timezone=wanted.timezone,
            department=wanted.department,
            external_id=wanted.external_id,
            manager=wanted.manager_id,
            archived_on=None if wanted.active else today,
        )
        detail: dict[str, object] = {
            field: value
            for field, value in asdict(wanted).items()
            if field in ("name", "timezone", "department", "external_id") and value
        }
        if wanted.manager_id is not None:
            detail["manager"] = _email_of(wanted.manager_id)
        if person.archived_on is not None:
            detail["archived_on"] = person.archived_on
        record_change(actor, CREATED, person.email, detail)
        return person


def update_person(
    person_id: int, changes: Mapping[str, Any], actor: str, today: dt.date | None = None
) -> Employee:
    """Change what `changes` names ({field of Provided: new value}), all or nothing."""
    unknown = set(changes) - set(PROVIDED_FIELDS)
    if unknown:
        raise ValueError(f"not a provided field: {', '.join(sorted(unknown))}")
    today = today or utc_today()
    with directory_write():
        person = _existing(person_id)
        wanted = _normalized(replace(provided_of(person, today), **changes))
        return _change(person, wanted, actor, today)


def remove_person(person_id: int, actor: str, today: dt.date | None = None) -> None:
    """The provider deleted the person: archived from today (an earlier date stays), and
    gone for the provider."""
    today = today or utc_today()
    with directory_write():
        person = _existing(person_id)
        if not is_archived(person, today):
            person.archived_on = today
            person.save(only=[Employee.archived_on])
        detail = {"archived_on": person.archived_on, REMOVED_DETAIL: True}
        record_change(actor, ARCHIVED, person.email, detail)


def _existing(person_id: int) -> Employee:
    person = find_person(person_id)
    if person is None:
        raise PersonNotFound(id=person_id)
    return person


def _normalized(wanted: Provided) -> Provided:
    def text(value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None

    return replace(
        wanted,
        email=normalize_email(wanted.email),
        name=(wanted.name or "").strip(),
        timezone=text(wanted.timezone),
        department=text(wanted.department),
        external_id=text(wanted.external_id),
    )


def _check(wanted: Provided, person: Employee | None) -> None:
    """Every refusal `wanted` deserves, for `person` (None: someone new); the first found
    is raised."""
    for field in _TEXT_FIELDS:
        value = getattr(wanted, field)
        if value is not None and len(value) > MAX_TEXT:
            raise PersonValueTooLong(field=field, limit=MAX_TEXT)
    if not is_valid_email(wanted.email):
        raise PersonEmailInvalid(email=wanted.email)
    others = Employee.select(Employee.id)
    if person is not None:
        others = others.where(Employee.id != person.id)
    if others.where(Employee.email == wanted.email).exists():
        raise PersonEmailTaken(email=wanted.email)
    if (
        wanted.external_id is not None
        and others.where(Employee.external_id == wanted.external_id).exists()
    ):
        raise PersonExternalIdTaken(external_id=wanted.external_id)
    if wanted.timezone is not None and wanted.timezone not in known_time_zones():
        raise PersonTimeZoneUnknown(timezone=wanted.timezone)
    # A manager is checked when it changes: one the provider removed since stays as it is.
    if wanted.manager_id is None or (person is not None and wanted.manager_id == person.manager_id):
        return
    if find_person(wanted.manager_id) is None:
        raise PersonManagerUnknown(manager_id=wanted.manager_id)
    if person is not None:
        _check_no_loop(person, wanted.manager_id)


def _check_no_loop(person: Employee, manager_id: int) -> None:
    manager_of: dict[int, int | None] = dict(
        Employee.select(Employee.id, Employee.manager).tuples()
    )
    manager_of[person.id] = manager_id
    # A loop elsewhere that this change does not close (data written by hand) is not
    # this change's doing.
    for loop in manager_loops(manager_of, [person.id]):
        if person.id in loop:
            emails = dict(
                Employee.select(Employee.id, Employee.email).where(Employee.id.in_(loop)).tuples()
            )
            raise PersonManagerLoop(chain=[emails[member] for member in loop])


def _change(person: Employee, wanted: Provided, actor: str, today: dt.date) -> Employee:
    """Bring `person` to `wanted`, recording each kind of change once."""
    _check(wanted, person)
    current = provided_of(person, today)
    previous_email = person.email
    plain = {
        field: getattr(wanted, field)
        for field in _TEXT_FIELDS
        if getattr(wanted, field) != getattr(current, field)
    }
    if plain:
        for field, value in plain.items():
            setattr(person, field, value)
        person.save(only=[getattr(Employee, field) for field in plain])
        detail = dict(plain)
        if "email" in plain:
            detail["previous_email"] = previous_email
        record_change(actor, UPDATED, person.email, detail)
    if wanted.manager_id != current.manager_id:
        person.manager = wanted.manager_id
        person.save(only=[Employee.manager])
        manager = None if wanted.manager_id is None else _email_of(wanted.manager_id)
        record_change(actor, MANAGER_CHANGED, person.email, {"manager": manager})
    if current.active and not wanted.active:
        person.archived_on = today
        person.save(only=[Employee.archived_on])
        record_change(actor, ARCHIVED, person.email, {"archived_on": today})
    elif wanted.active and not current.active:
        person.archived_on = None
        person.save(only=[Employee.archived_on])
        record_change(actor, RESTORED, person.email, {"archived_on": None})
    return person


def _email_of(person_id: int) -> str:
    return Employee.select(Employee.email).where(Employee.id == person_id).scalar()

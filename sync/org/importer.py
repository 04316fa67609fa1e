"""Importing the org directory from a CSV: one plan, applied all or nothing.

`plan_import` decides what a file changes: who is added, which fields of whom change,
whose manager moves, who is archived or restored. `codexbot org import --dry-run` prints
the plan; `codexbot org import` and the `[org] source` file read at each sync
(sync/org/source.py) apply it, recording every change in the directory's history in the
same transaction.

A column the file has is authoritative for the people it lists, so an empty cell clears
the value (no manager, not archived, ...); a column it lacks is left as is. People absent
from the file are left alone, unless `[org] archive_missing` applies (ArchiveMissing).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import IO

from peewee import chunked

from sync.clock import utc_timestamp, utc_today
from sync.org.chart import manager_loops
from sync.org.directory import directory_write
from sync.org.history import (
    ACTOR_CLI,
    ACTOR_SCIM,
    ARCHIVED,
    CREATED,
    IMPORTED,
    MANAGER_CHANGED,
    RESTORED,
    UPDATED,
    record_changes,
)
from sync.org.org_csv import (
    COLUMNS,
    OrgImportError,
    OrgRows,
    Problems,
    Row,
    fingerprint,
    parse_org_csv,
    read_org_file,
)
from sync.store.models import DirectoryChange, Employee

__all__ = [
    "COLUMNS",
    "ArchiveMissing",
    "ImportCounts",
    "ImportPlan",
    "OrgImportError",
    "import_org_csv",
    "import_org_data",
    "plan_import",
]

# A file may always archive this many people missing from it, whatever their share: in
# a small directory, a few leavers are a large share.
ARCHIVE_MISSING_ALWAYS = 10
# Why someone missing from the file is not archived by it.
KEPT_CONFIG_ADMIN = "config admin"
KEPT_SCIM = "scim"


@dataclass(frozen=True)
class ArchiveMissing:
    """`[org] archive_missing` for an import of the source file. The file is then the list
    of everyone the directory holds: a person not archived and missing from it is
    archived today, except
    - config admins (`slack.admin_emails`): archiving one would lock out the people who
      run codexbot; they are kept, and the plan lists them;
    - people the identity provider provisions over SCIM (they have an external id, or
      the history shows SCIM created them): SCIM archives them when they leave.
    Someone whose `archived_on` is already set, even in the future, keeps their date.

    A file that would archive this way more than `max_share` of the people not archived,
    and more than ARCHIVE_MISSING_ALWAYS of them, is refused (`[org]
    archive_missing_max_share`): an export cut short or filtered by mistake looks like
    a mass leaving, and would lock all those people out of their own figures."""

    admin_emails: Collection[str] = ()
    max_share: float = 1.0


@dataclass(frozen=True)
class ImportCounts:
    added: int = 0
    updated: int = 0
    manager_changed: int = 0
    archived: int = 0
    restored: int = 0
    unchanged: int = 0  # listed, and nothing about them changes

    @property
    def changes(self) -> int:
        return self.added + self.updated + self.manager_changed + self.archived + self.restored


@dataclass(frozen=True)
class Update:
    email: str
    fields: tuple[str, ...]  # in COLUMNS order; manager and archiving are told apart


@dataclass(frozen=True)
class ManagerMove:
    email: str
    old: str | None  # None: nobody
    new: str | None


@dataclass(frozen=True)
class Archival:
    email: str
    on: dt.date
    missing: bool  # archived because the file no longer lists them, not by its cell
    admin: bool  # a directory admin, who loses admin access with it


@dataclass(frozen=True)
class Kept:
    """Someone missing from a file that archives missing people, and not archived."""

    email: str
    reason: str  # KEPT_CONFIG_ADMIN or KEPT_SCIM


@dataclass(frozen=True)
class ImportPlan:
    """What importing a file changes, person by person; applying it changes exactly this."""

    file: str
    fingerprint: str  # SHA-256 of the file's bytes
    headers: dict[str, str]  # each column the file has -> its header there
    ignored_columns: tuple[str, ...]
    added: tuple[str, ...] = ()
    updated: tuple[Update, ...] = ()
    manager_moves: tuple[ManagerMove, ...] = ()
    archived: tuple[Archival, ...] = ()
    restored: tuple[str, ...] = ()
    kept: tuple[Kept, ...] = ()
    # People not archived and not in the file, left alone since archive_missing is off.
    left_alone: int = 0
    unchanged: int = 0
    # What applying writes: new people's fields, the changed fields of people already in
    # the directory, and the manager (by email) of everyone whose manager is set or moves.
    creates: dict[str, dict[str, object]] = field(default_factory=dict, repr=False)
    writes: dict[str, dict[str, object]] = field(default_factory=dict, repr=False)
    managers: dict[str, str | None] = field(default_factory=dict, repr=False)

    @property
    def counts(self) -> ImportCounts:
        return ImportCounts(
            added=len(self.added),
            updated=len(self.updated),
            manager_changed=len(self.manager_moves),
            archived=len(self.archived),
            restored=len(self.restored),
            unchanged=self.unchanged,
        )


def import_org_csv(
    source: str | os.PathLike | IO,
    *,
    columns: Mapping[str, str] | None = None,
    archive_missing: ArchiveMissing | None = None,
    actor: str = ACTOR_CLI,
    dry_run: bool = False,
) -> ImportPlan:
    """Read `source` and import it (see import_org_data)."""
    data = read_org_file(source)
    label = str(source) if isinstance(source, str | os.PathLike) else "the file"
    return import_org_data(
        data, label, columns=columns, archive_missing=archive_missing, actor=actor, dry_run=dry_run
    )


def import_org_data(
    data: bytes | str,
    label: str,
    *,
    columns: Mapping[str, str] | None = None,
    archive_missing: ArchiveMissing | None = None,
    actor: str = ACTOR_CLI,
    dry_run: bool = False,
) -> ImportPlan:
    """Plan the import of an org file's content and, unless `dry_run`, apply it as `actor`,
    all or nothing: any problem raises OrgImportError listing every one, and changes
    nothing. `columns` maps codexbot's columns to the file's headers ([org.columns])."""
    problems = Problems()
    rows = parse_org_csv(data, columns or {}, problems)
    with directory_write():
        existing = {e.email: e for e in Employee.select()}
        if rows is None:
            raise problems.refusal()
        plan = plan_import(
            rows, label, fingerprint(data), existing, problems, archive_missing, utc_today()
        )
        if not dry_run:
            _apply(plan, existing, actor)
    return plan


def plan_import(
    rows: OrgRows,
    label: str,
    file_fingerprint: str,
    existing: Mapping[str, Employee],
    problems: Problems,
    archive_missing: ArchiveMissing | None,
    today: dt.date,
) -> ImportPlan:
    """What importing `rows` into the directory `existing` (by email) changes; raises
    OrgImportError with every problem, those already in `problems` included."""
    _check_against_directory(rows.columns, rows.rows, existing, problems)
    if archive_missing is not None and not rows.rows:
        problems.add(0, "the file lists nobody: with archive_missing it would archive everyone")
    if problems:
        raise problems.refusal()
    email_of = {person.id: person.email for person in existing.values()}
    creates: dict[str, dict[str, object]] = {}
    writes: dict[str, dict[str, object]] = {}
    managers: dict[str, str | None] = {}
    updated, moves, archived, restored = [], [], [], []
    unchanged = 0
    for row in rows.rows:
        person = existing.get(row.email)
        if person is None:
            creates[row.email] = dict(row.fields)
            if row.manager_email:
                managers[row.email] = row.manager_email
            continue
        changed = {
            name: value for name, value in row.fields.items() if getattr(person, name) != value
        }
        if changed:
            writes[row.email] = changed
        fields = [name for name in COLUMNS if name in changed]
        archived_on = changed.get("archived_on")
        if isinstance(archived_on, dt.date) and person.archived_on is None:
            fields.remove("archived_on")
            archived.append(Archival(row.email, archived_on, False, person.is_admin))
        elif "archived_on" in changed and archived_on is None:
            fields.remove("archived_on")
            restored.append(row.email)
        if fields:
            updated.append(Update(row.email, tuple(fields)))
        if "manager_email" in rows.headers:
            manager = email_of.get(person.manager_id) if person.manager_id else None
            if manager != row.manager_email:
                managers[row.email] = row.manager_email
                moves.append(ManagerMove(row.email, manager, row.manager_email))
        if not changed and row.email not in managers:
            unchanged += 1
    listed = {row.email for row in rows.rows}
    missing = sorted(
        (p for email, p in existing.items() if email not in listed and p.archived_on is None),
        key=lambda p: p.email,
    )
    kept: list[Kept] = []
    if archive_missing is not None:
        leavers, kept = _leavers(missing, archive_missing)
        _check_leavers(len(leavers), existing, archive_missing.max_share, problems)
        for person in leavers:
            writes[person.email] = {"archived_on": today}
            archived.append(Archival(person.email, today, True, person.is_admin))
    return ImportPlan(
        file=label,
        fingerprint=file_fingerprint,
        headers=dict(rows.headers),
        ignored_columns=rows.ignored,
        added=tuple(creates),
        updated=tuple(updated),
        manager_moves=tuple(moves),
        archived=tuple(archived),
        restored=tuple(restored),
        kept=tuple(kept),
        left_alone=0 if archive_missing is not None else len(missing),
        unchanged=unchanged,
        creates=creates,
        writes=writes,
        managers=managers,
    )


def _check_leavers(
    leavers: int, existing: Mapping[str, Employee], max_share: float, problems: Problems
) -> None:
    """Refuse a file that archives too many of the people not archived (ArchiveMissing)."""
    active = sum(1 for person in existing.values() if person.archived_on is None)
    if leavers > ARCHIVE_MISSING_ALWAYS and leavers > max_share * active:
        problems.add(
            0,
            f"the file would archive {leavers:,} of the {active:,} people not archived, "
            f"more than [org] archive_missing_max_share ({max_share:.0%}) allows; "
            "if they all left, raise it for this import",
        )
        raise problems.refusal()


def _leavers(
    missing: list[Employee], archive_missing: ArchiveMissing
) -> tuple[list[Employee], list[Kept]]:
    """Of the people not archived and missing from the file, those it archives, and those
    it keeps (see ArchiveMissing)."""
    admins = {email.strip().lower() for email in archive_missing.admin_emails}
    scim = _provisioned_over_scim(missing)
    leavers: list[Employee] = []
    kept: list[Kept] = []
    for person in missing:
        if person.email in admins:
            kept.append(Kept(person.email, KEPT_CONFIG_ADMIN))
        elif person.email in scim:
            kept.append(Kept(person.email, KEPT_SCIM))
        else:
            leavers.append(person)
    return leavers, kept


def _provisioned_over_scim(people: list[Employee]) -> set[str]:
    """The emails of `people` the identity provider manages: an external id, or created
    over SCIM."""
    emails = {person.email for person in people if person.external_id}
    for batch in chunked([person.email for person in people], 500):
        created = DirectoryChange.select(DirectoryChange.subject).where(
            DirectoryChange.actor == ACTOR_SCIM,
            DirectoryChange.action == CREATED,
            DirectoryChange.subject.in_(batch),
        )
        emails.update(subject for (subject,) in created.tuples())
    return emails


def _check_against_directory(
    columns: tuple[str, ...], rows: list[Row], existing: Mapping[str, Employee], problems: Problems
) -> None:
    in_file = {row.email: row for row in rows}
    email_by_id = {employee.id: employee.email for employee in existing.values()}
    manager_of = {email: email_by_id.get(e.manager_id) for email, e in existing.items()}
    slack_owner = {e.slack_user_id: e.email for e in existing.values() if e.slack_user_id}
    for row in rows:
        if "manager_email" in columns:
            manager_of[row.email] = row.manager_email
        manager = row.manager_email
        if manager and manager not in in_file and manager not in existing:
            problems.add(row.line, f"manager {manager} is not in the directory or in this file")
        # Someone listed in the file gets their Slack id from the file, so only people
        # absent from it can clash.
        slack_id = row.slack_user_id
        owner = slack_owner.get(slack_id) if slack_id else None
        if owner and owner != row.email and owner not in in_file:
            problems.add(row.line, f"Slack user {slack_id} already belongs to {owner}")
    for cycle in manager_loops(manager_of, in_file):
        lines = [in_file[email].line for email in cycle if email in in_file]
        if not lines:  # an old loop among people absent from the file is not this file's doing
            continue
        line = min(lines)
        if len(cycle) == 1:
            problems.add(line, f"{cycle[0]} is listed as their own manager")
        else:
            problems.add(line, "the manager chain loops: " + " -> ".join([*cycle, cycle[0]]))


def _apply(plan: ImportPlan, existing: Mapping[str, Employee], actor: str) -> None:
    # Slack ids may move between people in one file; freeing the old ones first keeps the
    # unique index from tripping over a swap halfway through.
    moving = [
        existing[email].id
        for email, fields in plan.writes.items()
        if "slack_user_id" in fields and existing[email].slack_user_id is not None
    ]
    for batch in chunked(moving, 500):
        Employee.update(slack_user_id=None).where(Employee.id.in_(batch)).execute()
    ids = {email: person.id for email, person in existing.items()}
    for email, fields in plan.creates.items():
        ids[email] = Employee.create(email=email, **fields).id
    for email, fields in plan.writes.items():
        Employee.update(**fields).where(Employee.id == ids[email]).execute()
    for email, manager in plan.managers.items():
        manager_id = ids[manager] if manager else None
        Employee.update(manager=manager_id).where(Employee.id == ids[email]).execute()

    # As sync/org/provisioning.py words its changes: the fields' new values.
    changes: list[tuple[str, str | None, Mapping[str, object] | None]] = []
    for email in plan.added:
        given = {name: value for name, value in plan.creates[email].items() if value}
        manager = plan.managers.get(email)
        changes.append((CREATED, email, {**given, "manager": manager} if manager else given))
    for update in plan.updated:
        changes.append(
            (UPDATED, update.email, {f: plan.writes[update.email][f] for f in update.fields})
        )
    for move in plan.manager_moves:
        detail = {"manager": move.new, "previous_manager": move.old}
        changes.append((MANAGER_CHANGED, move.email, detail))
    for archival in plan.archived:
        archived: dict[str, object] = {"archived_on": archival.on}
        if archival.missing:
            archived["reason"] = "missing from the file"
        changes.append((ARCHIVED, archival.email, archived))
    for email in plan.restored:
        changes.append((RESTORED, email, {"archived_on": None}))
    summary = {"file": plan.file, "fingerprint": plan.fingerprint, **asdict(plan.counts)}
    changes.append((IMPORTED, None, summary))
    record_changes(actor, changes, at=utc_timestamp())

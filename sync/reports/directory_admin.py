"""The directory as admins see and mend it from Slack: where it comes from, its size, its
last change and the Codex accounts that count for nobody (`/codex org`); those accounts
(`/codex org unmatched`); attributing one to someone (`/codex org alias`); and what
changed, by whom (`/codex org history`).

Only admins get an answer; anyone else gets the refusal other admin commands give, before
anything is looked up. Every change made here is recorded in the directory's history as
made by the admin (sync/org/history.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass

from sync.clock import utc_today
from sync.config import Settings
from sync.notices import Notice
from sync.org.access import Viewer, access_where, archived_where
from sync.org.directory import (
    DirectoryError,
    UnmatchedUser,
    add_alias,
    alias_owner,
    codex_usage_of_email,
    count_unmatched_codex_users,
    normalize_email,
    unmatched_codex_users,
)
from sync.org.history import (
    ACTOR_CLI,
    ACTOR_SCIM,
    IMPORTED,
    Change,
    admin_actor,
    last_change,
    last_change_by,
    last_change_of,
    recent_changes,
)
from sync.org.source import SourceState, source_state
from sync.store.models import Employee, database

# The biggest unmatched accounts the overview names; the rest are counted.
UNMATCHED_IN_OVERVIEW = 5
# What one Slack answer lists; `codexbot org unmatched` lists them all.
UNMATCHED_LISTED = 50
HISTORY_LISTED = 20

ADMINS_ONLY = Notice("admins_only", {"action": "org"})


@dataclass(frozen=True)
class UnmatchedUsage:
    """Codex accounts nobody in the directory owns, the biggest spenders first."""

    users: list[UnmatchedUser]
    total: int

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.users))


@dataclass(frozen=True)
class DirectorySources:
    """What keeps the directory current. With neither an HRIS file nor SCIM, it is
    `codexbot org import` by hand."""

    hris_file: SourceState | None  # the [org] source file, when one is set
    scim: bool  # a SCIM token is configured, or SCIM has changed the directory
    last_scim_change: dt.datetime | None
    last_csv_import: Change | None  # the latest `codexbot org import`


@dataclass(frozen=True)
class DirectoryOverview:
    sources: DirectorySources
    people: int
    active: int
    archived: int
    deactivated: int  # their Slack account deactivated, not archived (yet)
    last_change: Change | None
    unmatched: UnmatchedUsage


@dataclass(frozen=True)
class DirectoryHistory:
    changes: list[Change]  # newest first
    limit: int


# Whatever a deciding function here may return; bot/messages.py renders each.
DirectoryAnswer = DirectoryOverview | UnmatchedUsage | DirectoryHistory | Notice


def ask_directory(viewer: Viewer, settings: Settings) -> DirectoryOverview | Notice:
    """`/codex org`."""
    if not viewer.is_admin(settings.slack.admin_emails):
        return ADMINS_ONLY
    today = utc_today()
    people = Employee.select().count()
    archived = Employee.select().where(archived_where(today)).count()
    active = Employee.select().where(access_where(today)).count()
    return DirectoryOverview(
        sources=directory_sources(settings),
        people=people,
        active=active,
        archived=archived,
        deactivated=people - active - archived,
        last_change=last_change(),
        unmatched=unmatched_usage(UNMATCHED_IN_OVERVIEW),
    )


def ask_unmatched(viewer: Viewer, admin_emails: Collection[str]) -> UnmatchedUsage | Notice:
    """`/codex org unmatched`."""
    if not viewer.is_admin(admin_emails):
        return ADMINS_ONLY
    return unmatched_usage(UNMATCHED_LISTED)


def ask_directory_history(
    viewer: Viewer, admin_emails: Collection[str]
) -> DirectoryHistory | Notice:
    """`/codex org history`."""
    if not viewer.is_admin(admin_emails):
        return ADMINS_ONLY
    return DirectoryHistory(recent_changes(HISTORY_LISTED), HISTORY_LISTED)


def ask_alias(
    viewer: Viewer,
    codex_email: str,
    find_person: Callable[[], Employee | None],
    admin_emails: Collection[str],
) -> Notice:
    """`/codex org alias CODEX_EMAIL @person`: the Codex account's usage counts as the
    person's from now on, recorded as the admin's change. `find_person` is only called for
    an admin."""
    if not viewer.is_admin(admin_emails):
        return ADMINS_ONLY
    person = find_person()
    if person is None:
        return Notice("unknown_person")
    codex_email = normalize_email(codex_email)
    actor_email = viewer.email or (viewer.employee.email if viewer.employee else "")
    with database.atomic():
        before = alias_owner(codex_email)
        try:
            add_alias(codex_email, person.email, actor=admin_actor(normalize_email(actor_email)))
        except DirectoryError as exc:
            return exc.notice
    if before is not None and before.id == person.id:
        return Notice(
            "alias_unchanged", {"codex_email": codex_email, "person": person.display_name}
        )
    usage = codex_usage_of_email(codex_email)
    return Notice(
        "alias_added",
        {
            "codex_email": codex_email,
            "person": person.display_name,
            "person_email": person.email,
            "previous": before.display_name if before is not None else None,
            "credits": usage.credits,
            "last_seen": usage.last_seen,
        },
    )


def unmatched_usage(limit: int) -> UnmatchedUsage:
    return UnmatchedUsage(unmatched_codex_users(limit), count_unmatched_codex_users())


def directory_sources(settings: Settings) -> DirectorySources:
    path = settings.org.source
    scim_change = last_change_of(ACTOR_SCIM)
    return DirectorySources(
        hris_file=source_state(path) if path else None,
        scim=settings.scim.bearer_token is not None or scim_change is not None,
        last_scim_change=scim_change.changed_at if scim_change else None,
        last_csv_import=last_change_by(ACTOR_CLI, [IMPORTED]),
    )

"""The directory's history: every change, who made it and when, for `/codex org history`.

Every writer of the directory (the CSV and HRIS imports, SCIM, Slack's account events,
admins' aliases) records its changes here, in the transaction that makes them, so the
history holds exactly what happened. Details name fields and their new values; nothing
secret is ever in the directory, so nothing secret reaches the history.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from peewee import chunked

from sync.clock import utc_timestamp
from sync.store.models import DirectoryChange

# Who changed the directory: the source, and for people the email they are known by.
ACTOR_SCIM = "scim"
ACTOR_SLACK = "slack"
ACTOR_CLI = "cli"


def hris_actor(path: str) -> str:
    return f"file {path}"


def admin_actor(email: str) -> str:
    return f"admin {email}"


# What happened to whom.
CREATED = "created"
UPDATED = "updated"
ARCHIVED = "archived"
RESTORED = "restored"  # archived no more
MANAGER_CHANGED = "manager changed"
ALIAS_ADDED = "alias added"
SLACK_DEACTIVATED = "slack account deactivated"
SLACK_REACTIVATED = "slack account reactivated"
RELINKED = "slack account relinked"
IMPORTED = "file imported"  # one row per import, besides a row per person changed
REFUSED = "file refused"  # an [org] source file that changed nothing: its problems, counted


def record_change(
    actor: str,
    action: str,
    subject: str | None = None,
    detail: Mapping[str, object] | None = None,
    *,
    at: dt.datetime | None = None,
) -> None:
    """Record one change; call it inside the transaction that makes the change."""
    DirectoryChange.create(
        changed_at=at or utc_timestamp(),
        actor=actor,
        action=action,
        subject=subject,
        detail=_stored(detail),
    )


def record_changes(
    actor: str,
    changes: Iterable[tuple[str, str | None, Mapping[str, object] | None]],
    *,
    at: dt.datetime | None = None,
) -> None:
    """Record many (action, subject, detail) changes at once, as record_change does each:
    an import of thousands of people writes its history in a few statements."""
    at = at or utc_timestamp()
    rows = [
        {
            "changed_at": at,
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": _stored(detail),
        }
        for action, subject, detail in changes
    ]
    for batch in chunked(rows, 500):
        DirectoryChange.insert_many(batch).execute()


def _stored(detail: Mapping[str, object] | None) -> str | None:
    return json.dumps(dict(detail), sort_keys=True, default=str) if detail else None


@dataclass(frozen=True)
class Change:
    changed_at: dt.datetime
    actor: str
    action: str
    subject: str | None
    detail: dict[str, object]


def recent_changes(limit: int = 20) -> list[Change]:
    """The latest `limit` changes, newest first."""
    rows = DirectoryChange.select().order_by(
        DirectoryChange.changed_at.desc(), DirectoryChange.id.desc()
    )
    return [
        Change(row.changed_at, row.actor, row.action, row.subject, _detail(row.detail))
        for row in rows.limit(limit)
    ]


def last_change() -> Change | None:
    changes = recent_changes(1)
    return changes[0] if changes else None


def last_change_by(actor: str, actions: Iterable[str]) -> Change | None:
    """`actor`'s latest change among `actions`."""
    row = (
        DirectoryChange.select()
        .where(DirectoryChange.actor == actor, DirectoryChange.action.in_(list(actions)))
        .order_by(DirectoryChange.id.desc())
        .first()
    )
    if row is None:
        return None
    return Change(row.changed_at, row.actor, row.action, row.subject, _detail(row.detail))


def last_change_of(actor: str) -> Change | None:
    """`actor`'s latest change of any kind."""
    row = (
        DirectoryChange.select()
        .where(DirectoryChange.actor == actor)
        .order_by(DirectoryChange.id.desc())
        .first()
    )
    if row is None:
        return None
    return Change(row.changed_at, row.actor, row.action, row.subject, _detail(row.detail))


def _detail(text: str | None) -> dict[str, object]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

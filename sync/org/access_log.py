"""The access log: every view of someone's stats by someone else, kept for the person
it is about (\"who viewed my stats\") and for admins (`/codex audit`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sync.clock import utc_timestamp
from sync.store.models import AccessLog, Employee

DEFAULT_LOOKBACK_DAYS = 90


@dataclass(frozen=True)
class View:
    viewer_name: str
    viewer_email: str
    surface: str
    viewed_at: dt.datetime


def record_views(viewer: Employee, targets: Iterable[Employee], surface: str) -> int:
    """Log that `viewer` saw each target's stats; looking at one's own is not logged."""
    if surface not in AccessLog.SURFACES:
        raise ValueError(f"unknown surface {surface!r}")
    now = utc_timestamp()
    rows = [(viewer.id, t.id, surface, now) for t in targets if t.id != viewer.id]
    if rows:
        AccessLog.insert_many(
            rows,
            fields=[AccessLog.viewer, AccessLog.target, AccessLog.surface, AccessLog.viewed_at],
        ).execute()
    return len(rows)


def views_of(target: Employee, days: int = DEFAULT_LOOKBACK_DAYS) -> list[View]:
    """Who viewed `target`'s stats in the last `days` days, newest first."""
    since = utc_timestamp() - dt.timedelta(days=days)
    query = (
        AccessLog.select(Employee.name, Employee.email, AccessLog.surface, AccessLog.viewed_at)
        .join(Employee, on=(AccessLog.viewer == Employee.id))
        .where(AccessLog.target == target.id, AccessLog.viewed_at >= since)
        .order_by(AccessLog.viewed_at.desc(), AccessLog.id.desc())
        .tuples()
    )
    return [View(name or email, email, surface, at) for name, email, surface, at in query]

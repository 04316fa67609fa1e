"""Each workspace's history: which workspace answers read, and the coverage ledger of the
UTC days a sync has read completely for it.

Answers read the connected workspace, or, while none is connected, the one connected
last: disconnecting keeps the history on show. Connecting another workspace starts a
history of its own; the old one stays stored, out of sight, until it is forgotten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from peewee import Expression, Select, chunked, fn

from sync.store.models import Connection, DailyUsage, SyncedDay, SyncRun, Workspace, database
from sync.store.rollups import note_usage_changed


def current_workspace() -> Expression:
    """The workspace answers read, as a SQL value, so a query can filter on it in place:
    the connected one, else the one connected last."""
    connected = Connection.select(Connection.workspace_id).where(Connection.id == 1)
    latest = (
        Workspace.select(Workspace.workspace_id)
        .order_by(Workspace.last_connected_at.desc())
        .limit(1)
    )
    return fn.COALESCE(connected, latest)


def current_workspace_id() -> str | None:
    return Select(columns=[current_workspace()]).bind(database).scalar()


def note_connected(workspace_id: str, now: dt.datetime) -> None:
    """Remember that `workspace_id` is connected (again) from `now`."""
    updated = (
        Workspace.update(last_connected_at=now)
        .where(Workspace.workspace_id == workspace_id)
        .execute()
    )
    if not updated:
        Workspace.create(workspace_id=workspace_id, connected_at=now, last_connected_at=now)


def workspace_connected_at(workspace_id: str) -> dt.datetime | None:
    """When `workspace_id` was first connected."""
    return (
        Workspace.select(Workspace.connected_at)
        .where(Workspace.workspace_id == workspace_id)
        .scalar()
    )


def previous_workspace_id(workspace_id: str) -> str | None:
    """The workspace connected before `workspace_id` first was, if any."""
    current = Workspace.get_or_none(Workspace.workspace_id == workspace_id)
    if current is None:
        return None
    return (
        Workspace.select(Workspace.workspace_id)
        .where(
            Workspace.workspace_id != workspace_id,
            Workspace.last_connected_at <= current.connected_at,
        )
        .order_by(Workspace.last_connected_at.desc())
        .scalar()
    )


def history_from(workspace_id: str) -> dt.date | None:
    return (
        Workspace.select(Workspace.history_from)
        .where(Workspace.workspace_id == workspace_id)
        .scalar()
    )


def start_history(workspace_id: str, first_day: dt.date) -> None:
    """The first sync of a workspace sets the first day its history is expected to have."""
    Workspace.update(history_from=first_day).where(
        Workspace.workspace_id == workspace_id, Workspace.history_from.is_null()
    ).execute()


def mark_synced(workspace_id: str, days: Iterable[dt.date], now: dt.datetime) -> None:
    rows = [(workspace_id, day, now) for day in days]
    with database.atomic():
        for batch in chunked(rows, 500):
            SyncedDay.insert_many(
                batch, fields=[SyncedDay.workspace_id, SyncedDay.day, SyncedDay.synced_at]
            ).on_conflict(
                conflict_target=[SyncedDay.workspace_id, SyncedDay.day],
                preserve=[SyncedDay.synced_at],
            ).execute()


def synced_days(workspace_id: str | None, first_day: dt.date, last_day: dt.date) -> set[dt.date]:
    if workspace_id is None:
        return set()
    query = SyncedDay.select(SyncedDay.day).where(
        SyncedDay.workspace_id == workspace_id, SyncedDay.day.between(first_day, last_day)
    )
    return {_as_date(day) for (day,) in query.tuples()}


def usage_held(workspace_id: str) -> tuple[int, int]:
    """How many usage rows, over how many days, a workspace holds."""
    rows, days = (
        DailyUsage.select(fn.COUNT(DailyUsage.day), fn.COUNT(DailyUsage.day.distinct()))
        .where(DailyUsage.workspace_id == workspace_id)
        .tuples()
        .get()
    )
    return rows, days


def forget_workspace(workspace_id: str) -> int:
    """Delete a workspace's usage, ledger and runs; returns the usage rows deleted."""
    with database.atomic():
        note_usage_changed()  # roll-ups of its usage are stale (sync/store/rollups.py)
        deleted = DailyUsage.delete().where(DailyUsage.workspace_id == workspace_id).execute()
        SyncedDay.delete().where(SyncedDay.workspace_id == workspace_id).execute()
        SyncRun.delete().where(SyncRun.workspace_id == workspace_id).execute()
        Workspace.delete().where(Workspace.workspace_id == workspace_id).execute()
    return deleted


def _as_date(value) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value

"""The hourly sync as the scheduler runs it: on one replica, when due, paused when the API
rejects the key (and only then).

Whether a sync is due is read from the shared database (when the last one started), so
the interval holds however many replicas tick; the lease makes sure only one runs at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sync.clock import utc_timestamp
from sync.codex.client import InvalidApiKeyError, PlanAccessError, WorkspaceNotFoundError
from sync.codex.connection import CodexConnectionError, load_api_key
from sync.config import Settings
from sync.ingest.job import SYNC_LEASE, SYNC_LEASE_SECONDS, SyncFailedError, run_sync
from sync.notices import Notice
from sync.org.source import refused_since
from sync.store.claims import held_claim
from sync.store.models import Connection, SyncRun

log = logging.getLogger(__name__)

# Errors a retry cannot fix: someone has to reconnect (or fix the secret) first.
NEEDS_ATTENTION = (InvalidApiKeyError, PlanAccessError, WorkspaceNotFoundError)


@dataclasses.dataclass(frozen=True)
class ScheduledSyncOutcome:
    ran: bool
    run: SyncRun | None = None
    # Set on the one run that paused syncing: the caller tells the admins, once.
    paused_because: Notice | None = None
    # Set when this replica cannot read the stored key (no CODEXBOT_SECRET_KEY, or
    # another one): it leaves the sync to replicas that can, and pauses nothing.
    skipped_because: Notice | None = None
    # Set on the one run that found the [org] source file refused or unreadable (its
    # content is read again only when it changes): the caller tells the admins, once.
    org_refused: Notice | None = None


def next_sync_at(interval_minutes: int) -> dt.datetime | None:
    """When the scheduler will next sync (naive UTC); None while not connected or paused."""
    connection = Connection.get_or_none(Connection.id == 1)
    if connection is None or connection.sync_paused_reason:
        return None
    last_start = SyncRun.select(SyncRun.started_at).order_by(SyncRun.started_at.desc()).scalar()
    if last_start is None:
        return utc_timestamp()
    return max(utc_timestamp(), last_start + dt.timedelta(minutes=interval_minutes))


def sync_is_due(interval_minutes: int, now: dt.datetime) -> bool:
    last_start = SyncRun.select(SyncRun.started_at).order_by(SyncRun.started_at.desc()).scalar()
    return last_start is None or now >= last_start + dt.timedelta(minutes=interval_minutes)


def run_scheduled_sync(settings: Settings, holder: str) -> ScheduledSyncOutcome:
    connection = Connection.get_or_none(Connection.id == 1)
    if connection is None or connection.sync_paused_reason:
        return ScheduledSyncOutcome(ran=False)
    try:
        load_api_key(settings.security.secret_key)
    except CodexConnectionError as exc:  # this replica's secret, not the key, is wrong
        return ScheduledSyncOutcome(ran=False, skipped_because=exc.notice)
    # Held across the "is it due?" check and the sync, so two replicas can't both decide yes.
    with held_claim(SYNC_LEASE, holder, SYNC_LEASE_SECONDS) as held:
        now = utc_timestamp()
        if not held or not sync_is_due(settings.sync.interval_minutes, now):
            return ScheduledSyncOutcome(ran=False)
        try:
            outcome = ScheduledSyncOutcome(ran=True, run=run_sync(settings, holder=holder))
        except SyncFailedError as exc:
            if isinstance(exc.error, NEEDS_ATTENTION):
                outcome = _pause(connection, exc.notice, exc.run)
            else:
                log.info("sync failed, will retry at the next interval: %s", exc)
                outcome = ScheduledSyncOutcome(ran=True, run=exc.run)
        except CodexConnectionError as exc:  # the connection changed under this sync
            return ScheduledSyncOutcome(ran=False, skipped_because=exc.notice)
    # The file is read at the start of every sync run, failed ones too (sync/ingest/job.py).
    if settings.org.source and outcome.run is not None:
        refused = refused_since(settings.org.source, outcome.run.started_at)
        outcome = dataclasses.replace(outcome, org_refused=refused)
    return outcome


def _pause(connection: Connection, reason: Notice, run: SyncRun | None) -> ScheduledSyncOutcome:
    # Only the replica whose update lands reports it, and only for this very connection:
    # a reconnect in between replaces the row and clears the pause.
    paused = (
        Connection.update(sync_paused_reason=reason.stored())
        .where(
            Connection.id == 1,
            Connection.connected_at == connection.connected_at,
            Connection.sync_paused_reason.is_null(),
        )
        .execute()
    )
    log.warning("scheduled syncs paused until Codex is reconnected: %s", reason)
    return ScheduledSyncOutcome(ran=True, run=run, paused_because=reason if paused else None)

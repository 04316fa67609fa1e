"""One sync: read a window of usage from the Codex API into the store, page by page.

The first sync backfills (90 days by default, the API's maximum); later ones re-read a
trailing window, because published days are revised as late usage arrives. Each page is
committed on its own, so a failure midway keeps every page already stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from sync.clock import utc_now, utc_timestamp
from sync.codex.client import CodexAnalyticsClient, CodexApiError
from sync.codex.connection import load_api_key
from sync.config import API_HISTORY_DAYS, Settings
from sync.ingest.writer import delete_unreported_usage, upsert_usage
from sync.notices import Notice, Problem
from sync.org.directory import count_unmatched_codex_users
from sync.store.claims import held_claim, unique_holder
from sync.store.models import SyncRun
from sync.store.retention import apply_retention

log = logging.getLogger(__name__)

# Called after each stored page with the run so far and the latest day that page reached.
ProgressCallback = Callable[[SyncRun, dt.date | None], None]


SYNC_LEASE = "sync"
SYNC_LEASE_SECONDS = 300.0


class SyncAlreadyRunningError(Problem):
    kind = "sync_running"


class SyncFailedError(Problem):
    """A sync that stopped early; what was stored before the failure stays. It reads as
    its cause, `error`."""

    def __init__(self, run: SyncRun, error: CodexApiError) -> None:
        self.kind = error.kind
        super().__init__(**error.params)
        self.run = run
        self.error = error


@dataclass(frozen=True)
class SyncWindow:
    first_day: dt.date
    last_day: dt.date
    start: dt.datetime
    end: dt.datetime

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def last_successful_sync() -> SyncRun | None:
    return (
        SyncRun.select()
        .where(SyncRun.outcome == SyncRun.OUTCOME_OK)
        .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
        .first()
    )


def sync_window(days: int, now: dt.datetime) -> SyncWindow:
    """The last `days` UTC days, today included; the end is now, as the API's is exclusive."""
    last_day = now.date()
    first_day = last_day - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first_day, dt.time(), tzinfo=dt.UTC)
    return SyncWindow(first_day, last_day, start, now)


def run_sync(
    settings: Settings,
    *,
    days: int | None = None,
    progress: ProgressCallback | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    holder: str | None = None,
) -> SyncRun:
    """Run one sync now and return its record; raise SyncFailedError if it stopped early.

    Only one sync runs at a time across every process sharing the database: two would
    each drop the rows the other wrote.
    """
    with held_claim(SYNC_LEASE, holder or unique_holder(), SYNC_LEASE_SECONDS) as held:
        if not held:
            raise SyncAlreadyRunningError()
        return _run_sync_holding_lease(settings, days, progress, transport, sleep)


def _run_sync_holding_lease(settings, days, progress, transport, sleep) -> SyncRun:
    workspace_id, api_key = load_api_key(settings.security.secret_key)
    if days is None:
        first_sync = last_successful_sync() is None
        days = settings.sync.backfill_days if first_sync else settings.sync.trailing_days
    if not 1 <= days <= API_HISTORY_DAYS:
        raise ValueError(f"a sync reads 1 to {API_HISTORY_DAYS} days (the API keeps no more)")
    _mark_abandoned_runs()
    started = time.monotonic()
    window = sync_window(days, utc_now())
    run = SyncRun.create(
        started_at=utc_timestamp(),
        window_start=window.first_day,
        window_end=window.last_day,
    )
    log.info("sync %s: reading %s to %s", run.id, window.first_day, window.last_day)
    codex = settings.codex
    client = CodexAnalyticsClient(
        codex.api_base_url,
        api_key,
        workspace_id,
        timeout_seconds=codex.timeout_seconds,
        max_attempts=codex.max_attempts,
        max_retry_seconds=codex.max_retry_seconds,
        transport=transport,
        sleep=sleep,
    )
    try:
        with client:
            for page in client.iter_usage_pages(window.start, window.end, codex.page_size):
                upsert_usage(page.records, run.id)
                run.pages += 1
                run.rows += len(page.records)
                SyncRun.update(pages=run.pages, rows=run.rows).where(SyncRun.id == run.id).execute()
                if progress:
                    latest = max((r.day for r in page.records), default=None)
                    progress(run, latest)
        delete_unreported_usage(window.first_day, window.last_day, run.id)
    except CodexApiError as exc:
        _finish(run, started, SyncRun.OUTCOME_FAILED, exc.notice)
        log.warning("sync %s failed after %s pages: %s", run.id, run.pages, exc)
        raise SyncFailedError(run, exc) from None
    except BaseException as exc:
        # Interrupted (Ctrl-C) or a bug: record it, and let it propagate as it is.
        stopped = Notice("sync_stopped_early", {"error": type(exc).__name__})
        _finish(run, started, SyncRun.OUTCOME_FAILED, stopped)
        raise
    apply_retention(settings.retention)
    _finish(run, started, SyncRun.OUTCOME_OK, None)
    log.info(
        "sync %s: %s rows in %s pages, %.1fs", run.id, run.rows, run.pages, run.duration_seconds
    )
    return run


def _finish(run: SyncRun, started: float, outcome: str, error: Notice | None) -> None:
    run.outcome = outcome
    run.error = error.stored() if error else None
    run.finished_at = utc_timestamp()
    run.duration_seconds = round(time.monotonic() - started, 3)
    run.unmatched_users = count_unmatched_codex_users()
    run.save()


def _mark_abandoned_runs() -> None:
    """Runs still "running" while we hold the lease belong to a process that died."""
    SyncRun.update(
        outcome=SyncRun.OUTCOME_INTERRUPTED,
        error=Notice("sync_interrupted").stored(),
    ).where(SyncRun.outcome == SyncRun.OUTCOME_RUNNING).execute()

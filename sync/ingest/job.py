"""One sync: read a window of usage from the Codex API into the store, page by page.

The first sync backfills (90 days by default, the API's maximum); later ones re-read a
trailing window, because published days are revised as late usage arrives. Each page is
committed on its own, so a failure midway keeps every page already stored; the next page
is fetched meanwhile (one ahead). The coverage ledger marks days only once every page is
committed. Each sync first imports the `[org] source` file when it changed
(sync/org/source.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

from sync.clock import utc_now, utc_timestamp
from sync.codex.client import CodexAnalyticsClient, CodexApiError, UsagePage
from sync.codex.connection import load_api_key
from sync.config import API_HISTORY_DAYS, Settings
from sync.ingest.writer import delete_unreported_usage, upsert_usage
from sync.notices import Notice, Problem
from sync.org.directory import count_unmatched_codex_users
from sync.org.source import import_org_source
from sync.store.claims import held_claim, unique_holder
from sync.store.models import SyncRun
from sync.store.retention import apply_retention
from sync.store.workspaces import (
    current_workspace_id,
    history_from,
    mark_synced,
    start_history,
    synced_days,
)

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


def last_successful_sync(workspace_id: str | None = None) -> SyncRun | None:
    """The latest sync that finished well, of `workspace_id` (default: the current one)."""
    workspace_id = workspace_id or current_workspace_id()
    return (
        SyncRun.select()
        .where(SyncRun.outcome == SyncRun.OUTCOME_OK, SyncRun.workspace_id == workspace_id)
        .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
        .first()
    )


def sync_window(first_day: dt.date, now: dt.datetime) -> SyncWindow:
    """From `first_day` to now, today included (the API's end is exclusive)."""
    start = dt.datetime.combine(first_day, dt.time(), tzinfo=dt.UTC)
    return SyncWindow(first_day, now.date(), start, now)


def first_day_to_read(
    workspace_id: str, settings: Settings, today: dt.date, days: int | None = None
) -> dt.date:
    """Where a sync starts: `days` back when asked; the backfill for a workspace's first
    sync; else the earliest day missing from its ledger or the trailing window's first
    day, whichever is earlier. Never further back than the API serves."""
    horizon = today - dt.timedelta(days=API_HISTORY_DAYS - 1)
    history_start = history_from(workspace_id)
    if days is not None:
        first = today - dt.timedelta(days=days - 1)
    elif history_start is None:
        first = today - dt.timedelta(days=settings.sync.backfill_days - 1)
    else:
        first = today - dt.timedelta(days=settings.sync.trailing_days - 1)
        expected_from = max(history_start, horizon)
        synced = synced_days(workspace_id, expected_from, today)
        day = expected_from
        while day < first:
            if day not in synced:
                first = day
                break
            day += dt.timedelta(days=1)
    return max(first, horizon)


def run_sync(
    settings: Settings,
    *,
    days: int | None = None,
    progress: ProgressCallback | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    holder: str | None = None,
) -> SyncRun:
    """Run one sync now and return its record; raise SyncFailedError if it stopped early.

    Only one sync runs at a time across every process sharing the database: two would
    each drop the rows the other wrote.
    """
    if days is not None and not 1 <= days <= API_HISTORY_DAYS:
        raise ValueError(f"a sync reads 1 to {API_HISTORY_DAYS} days (the API keeps no more)")
    with held_claim(SYNC_LEASE, holder or unique_holder(), SYNC_LEASE_SECONDS) as held:
        if not held:
            raise SyncAlreadyRunningError()
        return _run_sync_holding_lease(settings, days, progress, transport, sleep, monotonic)


def _run_sync_holding_lease(settings, days, progress, transport, sleep, monotonic) -> SyncRun:
    workspace_id, api_key = load_api_key(settings.security.secret_key)
    _mark_abandoned_runs()
    started = monotonic()
    deadline = started + settings.sync.deadline_minutes * 60
    now = utc_now()
    window = sync_window(first_day_to_read(workspace_id, settings, now.date(), days), now)
    run = SyncRun.create(
        workspace_id=workspace_id,
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
        monotonic=monotonic,
    )
    rejected: Counter[str] = Counter()
    timed_out = False
    try:
        _read_org_source(settings)
        with client:
            pages = client.iter_usage_pages(window.start, window.end, codex.page_size)
            for page in _one_page_ahead(pages):
                upsert_usage(page.records, run.id, workspace_id)
                rejected.update(page.rejected)
                run.pages += 1
                run.rows += len(page.records)
                run.rejected = json.dumps(dict(sorted(rejected.items()))) if rejected else None
                run.warning = Notice(page.warning).stored() if page.warning else None
                run.save(only=[SyncRun.pages, SyncRun.rows, SyncRun.rejected, SyncRun.warning])
                if progress:
                    latest = max((r.day for r in page.records), default=None)
                    progress(run, latest)
                if monotonic() > deadline:
                    timed_out = True
                    break
            else:
                # Every page read: the window's complete days are synced, and rows the API
                # no longer reports in it are gone.
                delete_unreported_usage(workspace_id, window.first_day, window.last_day, run.id)
                start_history(workspace_id, window.first_day)
                complete_days = (window.last_day - window.first_day).days
                mark_synced(
                    workspace_id,
                    (window.first_day + dt.timedelta(days=n) for n in range(complete_days)),
                    utc_timestamp(),
                )
    except CodexApiError as exc:
        _finish(run, started, monotonic, SyncRun.OUTCOME_FAILED, exc.notice)
        log.warning("sync %s failed after %s pages: %s", run.id, run.pages, exc)
        raise SyncFailedError(run, exc) from None
    except BaseException as exc:
        # Interrupted (Ctrl-C) or a bug: record it, and let it propagate as it is.
        stopped = Notice("sync_stopped_early", {"error": type(exc).__name__})
        _finish(run, started, monotonic, SyncRun.OUTCOME_FAILED, stopped)
        raise
    if timed_out:
        minutes = settings.sync.deadline_minutes
        _finish(
            run,
            started,
            monotonic,
            SyncRun.OUTCOME_TIMED_OUT,
            Notice("sync_deadline", {"minutes": minutes}),
        )
        log.warning(
            "sync %s stopped at its %s-minute deadline after %s pages", run.id, minutes, run.pages
        )
        return run
    apply_retention(settings.retention)
    _finish(run, started, monotonic, SyncRun.OUTCOME_OK, None)
    log.info(
        "sync %s: %s rows in %s pages, %.1fs", run.id, run.rows, run.pages, run.duration_seconds
    )
    return run


def _one_page_ahead(pages: Iterator[UsagePage]) -> Iterator[UsagePage]:
    """`pages`, each next one fetched (and decoded and parsed) in a thread of its own while
    the caller stores the one before: the API's time and the database's overlap. One page
    ahead at most, so memory stays bounded; the fetching thread never touches the
    database. A failure to fetch is raised here, at the page it would have been.

    A caller that stops early (the deadline) leaves the fetch in flight to end on its own:
    waiting for it could take the API's whole retry budget past the deadline, and it ends
    soon after the client it reads through is closed."""

    def fetch(into: list) -> None:
        try:
            into.append(next(pages, None))
        except BaseException as exc:  # handed over to the caller's thread, raised there
            into.append(exc)

    def start() -> tuple[threading.Thread, list]:
        into: list = []
        thread = threading.Thread(target=fetch, args=(into,), name="codex-page", daemon=True)
        thread.start()
        return thread, into

    thread, fetched = start()
    while True:
        thread.join()
        (page,) = fetched
        if isinstance(page, BaseException):
            raise page
        if page is None:
            return
        thread, fetched = start()
        yield page


def _read_org_source(settings: Settings) -> None:
    """The HRIS file first, so this sync's matched and unmatched users count its people.
    Whatever the file does, the usage sync goes on."""
    try:
        import_org_source(settings)
    except Exception:
        log.exception("reading the org file %s failed; the sync goes on", settings.org.source)


def _finish(
    run: SyncRun, started: float, monotonic: Callable[[], float], outcome: str, error: Notice | None
) -> None:
    run.outcome = outcome
    run.error = error.stored() if error else None
    run.finished_at = utc_timestamp()
    run.duration_seconds = round(monotonic() - started, 3)
    run.unmatched_users = count_unmatched_codex_users()
    run.save()


def _mark_abandoned_runs() -> None:
    """Runs still "running" while we hold the lease belong to a process that died."""
    SyncRun.update(
        outcome=SyncRun.OUTCOME_INTERRUPTED,
        error=Notice("sync_interrupted").stored(),
    ).where(SyncRun.outcome == SyncRun.OUTCOME_RUNNING).execute()

"""One sync: read a window of usage from the Codex API into the store, page by page.

The first sync backfills (90 days by default, the API's maximum); later ones re-read a
trailing window, because published days are revised as late usage arrives. Pages are
committed a few at a time (up to `[sync] transaction_rows`, see _StoredPages), and a
failure midway commits every page already stored; the next pages are fetched and
prepared for the store meanwhile (up to PAGES_AHEAD). The coverage ledger marks days only
once every page is committed. Each sync first imports the `[org] source` file when it
changed (sync/org/source.py).
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import functools
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
from sync.codex.rows import UsageRecord
from sync.config import API_HISTORY_DAYS, Settings
from sync.ingest.writer import (
    PreparedPage,
    delete_unreported_usage,
    flush_staged_usage,
    prepare_page,
    stage_prepared,
    usage_in_window,
)
from sync.notices import Notice, Problem
from sync.org.directory import count_unmatched_codex_users
from sync.org.source import import_org_source
from sync.store.claims import held_claim, unique_holder
from sync.store.database import bulk_writing
from sync.store.models import SyncRun, database
from sync.store.retention import apply_retention
from sync.store.workspaces import (
    current_workspace_id,
    history_from,
    mark_synced,
    start_history,
    synced_days,
)

log = logging.getLogger(__name__)

# Called after each commit with the run so far and the latest day its pages reached.
ProgressCallback = Callable[[SyncRun, dt.date | None], None]
# Waits up to that many seconds for the next page; true once it is there to store.
NextPageReady = Callable[[float], bool]


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
        stored = _StoredPages(run, settings.sync.transaction_rows, progress)
        # Only rows stored before this run can be rows the API no longer reports: in a
        # window that held none (a first backfill), the scan for them is skipped, a second
        # per million rows it would read.
        window_held_usage = usage_in_window(workspace_id, window.first_day, window.last_day)
        prepare = functools.partial(
            prepare_page, sync_run_id=run.id, workspace_id=workspace_id, users_written={}
        )
        pages = client.iter_usage_pages(window.start, window.end, codex.page_size)
        with (
            client,
            bulk_writing(),
            stored,
            contextlib.closing(_PagesAhead(pages, PAGES_AHEAD, prepare)) as ahead,
        ):
            for page, prepared in ahead:
                stored.store(prepared)
                rejected.update(page.rejected)
                run.rejected = json.dumps(dict(sorted(rejected.items()))) if rejected else None
                run.warning = Notice(page.warning).stored() if page.warning else None
                if monotonic() > deadline:
                    timed_out = True
                    break
                if not stored.worth_holding(ahead.ready):
                    stored.commit()
            else:
                stored.commit()
                # Every page read: the window's complete days are synced, and rows the API
                # no longer reports in it are gone.
                if window_held_usage:
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


# A transaction holding pages waits this long in all for the next page before it commits:
# the write lock is not held while the API is slow (SQLite has one writer at a time).
HOLD_FOR_NEXT_PAGE_SECONDS = 1.0
# Pages fetched ahead of the one being stored. SQLite moves a transaction's rows into the
# table without the interpreter's lock (sync/ingest/writer.py), for about as long as
# fetching and parsing a few pages takes: with one page ahead, the fetching thread was
# idle for most of it. Full-density backfill (bench/backfill.py): 47.1 s with one,
# 41.8 s with two; three gave no more and kept more pages in memory.
PAGES_AHEAD = 2


class _StoredPages:
    """The pages of a sync, stored in transactions of `transaction_rows` rows or more.

    On SQLite, a commit writes every page of the table and its indexes that it changed to
    the WAL, and later back to the file: a page of the API holds one day of thousands of
    people, whose rows sit each in a leaf of its own in the key's index (person, then
    day), so a commit per page wrote (and synced) about as many leaves as there were
    people on it, again for every day. A transaction of several days writes each leaf once
    for all of them: storing 10k people x 90 days x 4 surfaces as the API pages them
    wrote 17 GB to the disk with a commit a page, 9 GB with 100k rows a transaction and
    6 GB with 200k (with the cache of sync/store/database.py's bulk_writing).

    Durability stays at the granularity of a commit: a crash loses the pages of the open
    transaction only, which the next sync reads again (the coverage ledger marks days once
    every page is committed). Whatever stops a sync (the API failing, Ctrl-C, the
    deadline), the pages stored so far are committed. The run's counts are saved in the
    transaction that commits their pages, and `progress` is told after each commit, so
    "stored" means committed.
    """

    def __init__(
        self,
        run: SyncRun,
        transaction_rows: int,
        progress: ProgressCallback | None,
    ) -> None:
        self.run = run
        self.transaction_rows = transaction_rows
        self.progress = progress
        self._transaction = contextlib.ExitStack()
        self._open = False
        self._pages = self._rows = 0
        self._latest: dt.date | None = None
        self._waited = 0.0

    def __enter__(self) -> _StoredPages:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is None:
            self.commit()
            return
        try:
            self.commit()
        except Exception:  # the failure that stopped the sync is the one to raise
            log.exception("sync %s: committing the pages stored before it stopped", self.run.id)

    def store(self, page: PreparedPage) -> None:
        if not self._open:
            self._transaction.enter_context(database.atomic())
            self._open = True
        stage_prepared(page)
        self._pages += 1
        self._rows += page.records
        latest = page.latest_day
        if latest is not None and (self._latest is None or latest > self._latest):
            self._latest = latest

    def worth_holding(self, next_page_ready: NextPageReady) -> bool:
        """Whether the open transaction should take the next page too: it holds fewer
        than `transaction_rows` rows and the next page comes within what is left of
        HOLD_FOR_NEXT_PAGE_SECONDS."""
        if self._rows >= self.transaction_rows:
            return False
        started = time.monotonic()
        ready = next_page_ready(max(0.0, HOLD_FOR_NEXT_PAGE_SECONDS - self._waited))
        self._waited += time.monotonic() - started
        return ready

    def commit(self) -> None:
        if not self._open:
            return
        run = self.run
        counts = run.pages, run.rows
        run.pages += self._pages
        run.rows += self._rows
        try:
            flush_staged_usage()
            run.save(only=[SyncRun.pages, SyncRun.rows, SyncRun.rejected, SyncRun.warning])
            self._transaction.close()  # commits, or rolls back and raises
        except BaseException:
            run.pages, run.rows = counts
            self._open, self._pages = False, 0
            raise
        latest, committed = self._latest, self._pages
        self._open = False
        self._pages = self._rows = 0
        self._latest, self._waited = None, 0.0
        if self.progress and committed:
            self.progress(run, latest)


_Fetched = tuple[UsagePage, PreparedPage]


class _PagesAhead:
    """`pages`, each with what `prepare` makes of its records, fetched (and decoded,
    parsed and prepared) by a thread of its own up to `depth` pages ahead of the caller,
    who stores them meanwhile: the API's time and the database's overlap, and so do
    parsing and the database's work, which runs without the interpreter's lock
    (sync/ingest/writer.py). At most `depth` pages wait, so memory stays bounded; the
    fetching thread never touches the database. A failure to fetch is raised here, at
    the page it would have been. `ready(seconds)` waits up to that long for the next
    page and says whether it has arrived (or the fetch has ended).

    A caller that stops early (the deadline) closes it and leaves the fetch in flight to
    end on its own: waiting for it could take the API's whole retry budget past the
    deadline, and it ends soon after the client it reads through is closed."""

    def __init__(
        self,
        pages: Iterator[UsagePage],
        depth: int,
        prepare: Callable[[list[UsageRecord]], PreparedPage],
    ) -> None:
        self._pages = pages
        self._prepare = prepare
        self._slots = threading.Semaphore(depth)
        self._arrived = threading.Condition()
        self._fetched: collections.deque[_Fetched | BaseException | None] = collections.deque()
        self._closed = False
        self._thread = threading.Thread(target=self._fetch, name="codex-page", daemon=True)
        self._thread.start()

    def _fetch(self) -> None:
        while True:
            self._slots.acquire()
            if self._closed:
                return
            item: _Fetched | BaseException | None
            try:
                page = next(self._pages, None)
                item = None if page is None else (page, self._prepare(page.records))
            except BaseException as exc:  # handed over to the caller's thread, raised there
                item = exc
            with self._arrived:
                self._fetched.append(item)
                self._arrived.notify_all()
            if not isinstance(item, tuple):
                return

    def __iter__(self) -> Iterator[_Fetched]:
        while True:
            with self._arrived:
                self._arrived.wait_for(lambda: self._fetched)
                item = self._fetched.popleft()
            self._slots.release()
            if isinstance(item, BaseException):
                raise item
            if item is None:
                return
            yield item

    def ready(self, timeout: float) -> bool:
        with self._arrived:
            return bool(self._arrived.wait_for(lambda: self._fetched, timeout))

    def close(self) -> None:
        self._closed = True
        self._slots.release()  # wakes a fetch waiting for a slot, to see it is closed


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

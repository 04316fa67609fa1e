"""`codexbot run`'s background jobs: the hourly sync and the digests (weekly ones and each
1:1's prep, bot/digests.py). After a sync it ran, a replica builds the organisation's
adoption roll-ups of the common windows (sync/reports/adoption_rollups.py), so the first
answer after the sync does not pay for them.

Both tick every minute with `schedule`; whether there is work is read from the shared
database, and a lease picks the one replica that does it, so several replicas and
restarts neither skip nor double a sync or a digest.
"""

from __future__ import annotations

import functools
import logging
import threading

import schedule
from slack_sdk import WebClient

from bot.admins import tell_admins
from bot.digests import DigestDeliverer
from bot.guard import schema_gate
from sync.config import Settings
from sync.ingest.scheduled import run_scheduled_sync
from sync.notices import Notice
from sync.reports.adoption_rollups import warm
from sync.store.claims import unique_holder
from sync.store.models import database

log = logging.getLogger(__name__)

TICK_MINUTES = 1


class Scheduler:
    def __init__(self, settings: Settings, client: WebClient, holder: str | None = None):
        self.settings = settings
        self.client = client
        self.holder = holder or unique_holder()
        self.digests = DigestDeliverer(settings, client, self.holder)
        self.jobs = schedule.Scheduler()
        self.jobs.every(TICK_MINUTES).minutes.do(self._guarded(self.sync_tick))
        self.jobs.every(TICK_MINUTES).minutes.do(self._guarded(self.digest_tick))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Why this replica skips syncs, for /healthz; None while it can sync.
        self.sync_skipped_because: Notice | None = None

    def sync_tick(self) -> None:
        outcome = run_scheduled_sync(self.settings, self.holder)
        if outcome.skipped_because != self.sync_skipped_because:
            if outcome.skipped_because is not None:
                log.warning(
                    "this replica cannot sync (%s); it leaves syncing to the others",
                    outcome.skipped_because.kind,
                )
            self.sync_skipped_because = outcome.skipped_because
        if outcome.paused_because:
            paused = Notice("sync_paused", {"error": outcome.paused_because})
            tell_admins(self.client, self.settings, paused)
        if outcome.org_refused:
            tell_admins(self.client, self.settings, outcome.org_refused)
        if outcome.ran:
            # Outside any transaction: answers meanwhile read the rows, as without a roll-up.
            warm(self.settings.adoption, extra_days=(self.settings.digest.period_days,))

    def digest_tick(self) -> None:
        self.digests.deliver_due()

    def run_pending(self) -> None:
        self.jobs.run_pending()

    def start(self) -> threading.Thread:
        """Run every job once now (a sync at start-up when one is due), then on schedule."""

        def loop():
            self.jobs.run_all()
            while not self._stop.wait(1):
                self.jobs.run_pending()

        self._thread = threading.Thread(target=loop, name="codexbot-scheduler", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @staticmethod
    def _guarded(job):
        """A failing job is logged and retried at the next tick; it never stops the others."""

        @functools.wraps(job)
        def run():
            try:
                with database.connection_context():
                    if schema_gate.problem() is not None:
                        return  # not this code's schema: nothing runs until it is
                job()
            except Exception:
                log.exception("scheduled job %s failed", job.__name__)
            finally:
                database.close()

        return run

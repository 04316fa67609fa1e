"""What operators see on a terminal: the sync progress bar and the sync summary."""

from __future__ import annotations

import json
import logging
import sys

import click

from bot.rendering import render
from sync.config import Settings
from sync.ingest.job import run_sync
from sync.notices import Notice
from sync.org.source import SourceState
from sync.store.models import CodexUser, SyncRun

log = logging.getLogger("codexbot")


def run_sync_with_progress(settings: Settings, days: int | None) -> SyncRun:
    """A progress bar on a terminal, plain log lines otherwise."""
    if not sys.stderr.isatty():

        def log_page(run, latest_day):
            log.info("page %s: %s rows stored, up to %s", run.pages, run.rows, latest_day)

        return run_sync(settings, days=days, progress=log_page)
    bar = None
    shown = 0

    def advance(run, latest_day):
        nonlocal bar, shown
        if bar is None:
            length = (run.window_end - run.window_start).days + 1
            bar = click.progressbar(length=length, label="Syncing days", file=sys.stderr)
            bar.__enter__()
        if latest_day is not None:
            reached = (latest_day - run.window_start).days + 1
            if reached > shown:
                bar.update(reached - shown)
                shown = reached

    try:
        return run_sync(settings, days=days, progress=advance)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def sync_summary(run: SyncRun, org_source: SourceState | None = None) -> str:
    """The summary of `run`; with `org_source`, what that sync did with the org file."""
    codex_users = CodexUser.select().count()
    rate = run.rows / run.duration_seconds if run.duration_seconds else None
    return render(
        "sync_summary.txt.j2",
        run=run,
        org_source=org_source,
        rate=rate,
        codex_users=codex_users,
        matched=codex_users - (run.unmatched_users or 0),
        error=Notice.from_stored(run.error),
        warning=Notice.from_stored(run.warning),
        rejected=Notice("rows_rejected", {"counts": json.loads(run.rejected)})
        if run.rejected
        else None,
    )

"""Small builders for store tests: people and usage written through the real code paths."""

from __future__ import annotations

import datetime as dt

from sync.clock import utc_timestamp, utc_today
from sync.codex.rows import UsageRecord
from sync.ingest.writer import upsert_usage
from sync.store.models import DailyUsage, Employee, SyncRun
from sync.store.workspaces import mark_synced, note_connected, start_history

# The workspace usage belongs to in tests that store it directly.
WORKSPACE = "0f8fad5b-d9cb-469f-a165-70867728950e"


# The token counts of a client or totals object of a usage row, as the API names them.
TOKEN_FIELDS = (
    "uncached_text_input_tokens",
    "cached_text_input_tokens",
    "text_output_tokens",
    "text_total_tokens",
)


def utc_midnight(day: dt.date) -> int:
    """Unix seconds at the start of `day` in UTC: a usage bucket's start_time."""
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


def person(email, name=None, manager=None, role="employee", archived_on=None) -> Employee:
    return Employee.create(
        email=email.lower(),
        name=name or email.split("@")[0].title(),
        manager=manager,
        role=role,
        archived_on=archived_on,
    )


def usage(
    user_id,
    day: dt.date,
    client_id="CODEX_CLI",
    *,
    email=None,
    threads=1,
    turns=2,
    credits=1.0,
    input_tokens=100,
    output_tokens=50,
    total_tokens=None,
    cached_input_tokens=None,
) -> UsageRecord:
    if total_tokens is None and input_tokens is not None and output_tokens is not None:
        total_tokens = input_tokens + output_tokens
    return UsageRecord(
        user_id,
        email,
        day,
        client_id,
        threads,
        turns,
        credits,
        input_tokens,
        output_tokens,
        total_tokens,
        cached_input_tokens,
    )


def usage_dump() -> list[tuple]:
    """Every stored usage row's key and counts, in a stable order: tables compare equal
    exactly when they hold the same usage (which sync wrote them, and for which workspace,
    does not count: tests that care about the workspace ask for it)."""
    unlisted = {DailyUsage.sync_run.name, DailyUsage.workspace_id.name}
    fields = [f for f in DailyUsage._meta.sorted_fields if f.name not in unlisted]
    return list(
        DailyUsage.select(*fields)
        .order_by(DailyUsage.codex_user_id, DailyUsage.day, DailyUsage.client_id)
        .tuples()
    )


def store_usage(records, workspace: str = WORKSPACE, *, completed_sync: bool = True) -> None:
    """Store usage as a completed sync leaves it: the workspace known and current, the
    rows written, every day from well before the earliest record to yesterday in the
    ledger, and a successful run finished now (so answers have data "as of" now), unless
    `completed_sync` is False."""
    run = record_sync(workspace, ok=completed_sync)
    upsert_usage(records, run.id, workspace)
    first = min((r.day for r in records), default=utc_today()) - dt.timedelta(days=200)
    mark_history(workspace, first, max((r.day for r in records), default=first))


def record_sync(workspace: str = WORKSPACE, *, ok: bool = True) -> SyncRun:
    """A sync of `workspace` that finished now, having read every day of the last 200."""
    note_connected(workspace, utc_timestamp())
    run = SyncRun.create(
        workspace_id=workspace,
        started_at=utc_timestamp(),
        finished_at=utc_timestamp(),
        window_start=utc_today(),
        window_end=utc_today(),
        outcome=SyncRun.OUTCOME_OK if ok else SyncRun.OUTCOME_FAILED,
    )
    mark_history(workspace, utc_today() - dt.timedelta(days=200), utc_today())
    return run


def mark_history(workspace: str, first: dt.date, last: dt.date) -> None:
    """The ledger holds every day from `first` to `last` or yesterday, whichever is later."""
    last = max(last, utc_today() - dt.timedelta(days=1))
    start_history(workspace, first)
    days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    mark_synced(workspace, days, utc_timestamp())

"""Small builders for store tests: people and usage written through the real code paths."""

from __future__ import annotations

import datetime as dt

from sync.codex.client import UsageRecord
from sync.store.models import DailyUsage, Employee


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
    )


def usage_dump() -> list[tuple]:
    """Every stored usage row's key and counts, in a stable order: tables compare equal
    exactly when they hold the same usage (which sync wrote them does not count)."""
    fields = [f for f in DailyUsage._meta.sorted_fields if f is not DailyUsage.sync_run]
    return list(
        DailyUsage.select(*fields)
        .order_by(DailyUsage.codex_user_id, DailyUsage.day, DailyUsage.client_id)
        .tuples()
    )

"""codexbot's clock. Usage days are UTC days, and the database stores naive UTC times."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    """Now, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def utc_timestamp() -> dt.datetime:
    """Now as the database stores it: naive UTC."""
    return utc_now().replace(tzinfo=None)


def utc_today() -> dt.date:
    return utc_now().date()

"""Reading the API's usage rows, validated at the edge: each row becomes its per-surface
records, or is rejected whole with a reason (counted, never stored, its content never
kept), so one bad row never blocks the good ones.

A row is one user's usage for one UTC day: counts per client surface in `clients`, and
the person's own figures in `totals`. Where `totals` says more than the clients add up
to, the remainder is stored under UNATTRIBUTED_CLIENT, so a person's totals equal the
API's.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# Stored for what a row's totals hold beyond its clients, and for rows with totals only.
UNATTRIBUTED_CLIENT = "UNATTRIBUTED"
DAY_SECONDS = 86400

# Far beyond anything one person does with Codex in a day: a bigger figure is a broken
# row, and storing it would swamp every sum it joins.
CEILINGS = {
    "threads": 10**7,
    "turns": 10**7,
    "credits": 10.0**9,
    "tokens": 10**13,
}


class UsageRecord(NamedTuple):
    """One Codex user's counts for one UTC day on one client surface."""

    codex_user_id: str
    email: str | None
    day: dt.date
    client_id: str
    threads: int
    turns: int
    credits: float
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    # The part of input_tokens the model read from its prompt cache.
    cached_input_tokens: int | None


@dataclass
class ParsedRows:
    records: list[UsageRecord] = field(default_factory=list)
    # Why rows were rejected, reason -> how many; see RowRejected.
    rejected: Counter[str] = field(default_factory=Counter)


class RowRejected(Exception):
    """A row that is not stored. `reason` is one of: not_an_object, no_user, bad_time,
    not_one_day, outside_window, bad_clients, no_counts, not_a_number, not_finite,
    fractional_count, negative_count, too_large."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_rows(rows: list[Any], first_day: dt.date, last_day: dt.date) -> ParsedRows:
    """The records of the rows whose day lies in [first_day, last_day]; the rest counted."""
    parsed = ParsedRows()
    for row in rows:
        try:
            parsed.records.extend(parse_row(row, first_day, last_day))
        except RowRejected as rejected:
            parsed.rejected[rejected.reason] += 1
    return parsed


def parse_row(row: Any, first_day: dt.date, last_day: dt.date) -> list[UsageRecord]:
    if not isinstance(row, dict):
        raise RowRejected("not_an_object")
    actor = row.get("actor")
    actor = actor if isinstance(actor, dict) else {}
    user_id = actor.get("user_id") or row.get("user_id")
    if not user_id or isinstance(user_id, bool) or not isinstance(user_id, str | int):
        raise RowRejected("no_user")
    email = _email(actor.get("email")) or _email(row.get("email"))
    day = _day_of_bucket(row.get("start_time"), row.get("end_time"))
    if not first_day <= day <= last_day:
        raise RowRejected("outside_window")
    clients = row.get("clients") or []
    totals = row.get("totals")
    if not isinstance(clients, list) or not all(isinstance(c, dict) for c in clients):
        raise RowRejected("bad_clients")
    if totals is not None and not isinstance(totals, dict):
        raise RowRejected("bad_clients")
    if not clients and not totals:
        raise RowRejected("no_counts")
    user = str(user_id)
    records = [
        UsageRecord(user, email, day, str(c.get("client_id") or UNATTRIBUTED_CLIENT), *_counts(c))
        for c in clients
    ]
    if totals and not records:
        return [UsageRecord(user, email, day, UNATTRIBUTED_CLIENT, *_counts(totals))]
    if totals:
        remainder = _remainder(_counts(totals), [r[4:] for r in records])
        if remainder is not None:
            records.append(UsageRecord(user, email, day, UNATTRIBUTED_CLIENT, *remainder))
    return records


def _email(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _day_of_bucket(start: Any, end: Any) -> dt.date:
    """The UTC day a bucket covers; the client asks for days, so a bucket that is not
    exactly one UTC day (a week, a shifted day) is not a day's usage."""
    start_seconds = _timestamp(start)
    if start_seconds % DAY_SECONDS:
        raise RowRejected("not_one_day")
    if end is not None and _timestamp(end) - start_seconds != DAY_SECONDS:
        raise RowRejected("not_one_day")
    try:
        return dt.datetime.fromtimestamp(start_seconds, dt.UTC).date()
    except (OverflowError, OSError, ValueError):
        raise RowRejected("bad_time") from None


def _timestamp(value: Any) -> int:
    """Unix seconds, given as a number, digits, or ISO 8601 text."""
    if isinstance(value, bool):
        raise RowRejected("bad_time")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        # ASCII digits only ("²".isdigit() is true too), and no more than a timestamp has.
        if text.isascii() and text.isdigit() and len(text) <= _TIMESTAMP_DIGITS:
            return int(text)
        if len(text) > _ISO_TEXT_LENGTH:
            raise RowRejected("bad_time")
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RowRejected("bad_time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return int(moment.timestamp())
    raise RowRejected("bad_time")


_TIMESTAMP_DIGITS = 12
_ISO_TEXT_LENGTH = 40  # "2026-11-02T00:00:00.000000+00:00" and then some

# threads, turns, credits, input, output, total and cached input tokens
_Counts = tuple[int, int, float, int | None, int | None, int | None, int | None]
_INPUT, _CACHED = 3, 6


def _counts(counts: dict) -> _Counts:
    """The seven stored counts of a client or totals object. Missing activity counts are
    zero; a missing token count is unknown (the API publishes tokens a day late)."""
    uncached = _whole(counts.get("uncached_text_input_tokens"), "tokens")
    cached = _whole(counts.get("cached_text_input_tokens"), "tokens")
    output = _whole(counts.get("text_output_tokens"), "tokens")
    total = _whole(counts.get("text_total_tokens"), "tokens")
    # A sum with an unknown part stays unknown.
    input_tokens = None if uncached is None or cached is None else uncached + cached
    if total is None and input_tokens is not None and output is not None:
        total = input_tokens + output
    return (
        _whole(counts.get("threads"), "threads") or 0,
        _whole(counts.get("turns"), "turns") or 0,
        _number(counts.get("credits"), "credits") or 0.0,
        input_tokens,
        output,
        total,
        cached,
    )


def _number(value: Any, kind: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise RowRejected("not_a_number")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise RowRejected("not_a_number") from None
    if not isinstance(value, int | float):
        raise RowRejected("not_a_number")
    if isinstance(value, float) and not math.isfinite(value):
        raise RowRejected("not_finite")
    if value < 0:
        raise RowRejected("negative_count")
    if value > CEILINGS[kind]:
        raise RowRejected("too_large")
    return float(value)


def _whole(value: Any, kind: str) -> int | None:
    if type(value) is int and 0 <= value <= CEILINGS[kind]:  # the usual case, checked fast
        return value
    number = _number(value, kind)
    if number is None:
        return None
    if not number.is_integer():
        raise RowRejected("fractional_count")
    return int(number)


# Credits are fractional: a difference below this is rounding, not usage.
_CREDITS_EPSILON = 1e-6


def _remainder(totals: _Counts, clients: list[tuple]) -> _Counts | None:
    """What `totals` holds beyond the clients, count by count; None when nothing is left.
    A count the clients already reach leaves nothing; one the totals do not give leaves
    nothing either, unless no client gives it (a day whose tokens are not published yet):
    then it stays unknown. Cached tokens are part of input tokens in every stored row, so
    the cached remainder is at most the input remainder (they differ only when the API's
    clients disagree with its totals)."""
    left: list[float | None] = []
    for index, total in enumerate(totals):
        known = [client[index] for client in clients if client[index] is not None]
        if total is None:
            left.append(None if not known else 0)
            continue
        remainder = total - sum(known)
        left.append(remainder if remainder > _CREDITS_EPSILON else 0)
    cached, input_left = left[_CACHED], left[_INPUT]
    if cached is not None and input_left is not None:
        left[_CACHED] = min(cached, input_left)
    if not any(left):
        return None
    threads, turns, credits, input_tokens, output_tokens, total_tokens, cached_tokens = left
    return (
        int(threads or 0),
        int(turns or 0),
        round(float(credits or 0), 6),
        _whole_or_unknown(input_tokens),
        _whole_or_unknown(output_tokens),
        _whole_or_unknown(total_tokens),
        _whole_or_unknown(cached_tokens),
    )


def _whole_or_unknown(value: float | None) -> int | None:
    return None if value is None else int(value)

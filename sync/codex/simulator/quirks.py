"""Hostile behaviours the simulator serves on request (`Simulator(quirks=...)`).

- `hostile_rows`: the first page of a window (the one asked for without a token) also
  carries a fixed set of rows a client must reject, one kind per rejection reason of
  sync/codex/rows.py, and valid but unusual rows it must store. `hostile_expectation`
  says exactly what a client should make of them.
- `endless_pages`: `has_more` with a new token on every page, for ever: after the last
  real page the window is served again from its start, under tokens never seen before.
- `more_without_token`: the last page says `has_more: true` but gives no token.
- `trickle`: the body comes a few bytes at a time with a pause between writes, so each
  read is quick but a whole page takes longer than a client's time-out. Only 200s
  trickle; the headers go out at once.
- With both endless_pages and more_without_token, paging is endless: no page is last.

The hostile rows are written out by hand here, and so are the records a correct client
makes of them: they are the specification a client is tested against, not its output.
"""

from __future__ import annotations

import base64
import datetime
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sync.codex.rows import UNATTRIBUTED_CLIENT, UsageRecord

HOSTILE_ROWS = "hostile_rows"
ENDLESS_PAGES = "endless_pages"
MORE_WITHOUT_TOKEN = "more_without_token"
TRICKLE = "trickle"
QUIRKS = (HOSTILE_ROWS, ENDLESS_PAGES, MORE_WITHOUT_TOKEN, TRICKLE)

_DAY = 86400
_EPOCH = datetime.date(1970, 1, 1)
_YEAR_2100 = 4102444800  # 2100-01-01T00:00:00Z

# What a client rejects of the hostile rows, by reason (sync/codex/rows.py's names).
HOSTILE_REJECTIONS: dict[str, int] = {
    "not_an_object": 1,
    "no_user": 1,
    "bad_time": 3,
    "not_one_day": 2,
    "outside_window": 2,
    "bad_clients": 2,
    "not_a_number": 2,
    "not_finite": 2,
    "fractional_count": 1,
    "negative_count": 1,
    "too_large": 2,
}
# How many valid rows come with them: they make the records of `valid_records`.
HOSTILE_VALID_ROWS = 4


@dataclass
class HostileExpectation:
    """What a client asking one window should make of the hostile rows served with it."""

    # Rows served besides the normal ones.
    rows: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    # The records to store, dated the window's last served day. The page mixes the rows
    # in a seeded order, so compare these as a collection (sorted), not in sequence.
    records: list[UsageRecord] = field(default_factory=list)


def check_quirks(quirks: Iterable[str]) -> frozenset[str]:
    """The quirks chosen, refusing any name not in QUIRKS."""
    chosen = frozenset((quirks,) if isinstance(quirks, str) else quirks)
    unknown = sorted(chosen - set(QUIRKS))
    if unknown:
        raise ValueError(f"unknown quirks {unknown}; known: {', '.join(QUIRKS)}")
    return chosen


def _midnight(day: datetime.date) -> int:
    return (day - _EPOCH).days * _DAY


def _counts(threads: Any, turns: Any, credits: Any, **extra: Any) -> dict[str, Any]:
    return {"threads": threads, "turns": turns, "credits": credits, **extra}


def _row(name: str, day: datetime.date, **overrides: Any) -> dict[str, Any]:
    """A valid row of user `user-hostile-{name}` on `day`, with `overrides` applied."""
    user_id = f"user-hostile-{name}"
    start = _midnight(day)
    row: dict[str, Any] = {
        "object": "workspace.codex.usage.result",
        "start_time": start,
        "end_time": start + _DAY,
        "user_id": user_id,
        "actor": {"type": "ACCOUNT_USER", "user_id": user_id, "email": f"{name}@hostile.example"},
        "totals": _counts(1, 2, 1.5),
        "clients": [{"client_id": "CODEX_CLI", **_counts(1, 2, 1.5)}],
    }
    row.update(overrides)
    return row


def _client(**counts: Any) -> list[dict[str, Any]]:
    return [{"client_id": "CODEX_CLI", **_counts(1, 2, 1.5), **counts}]


def bad_rows(day: datetime.date) -> list[Any]:
    """Rows to reject, as HOSTILE_REJECTIONS counts them; `day` is inside the window."""
    start = _midnight(day)
    no_start = _row("no-start", day)
    del no_start["start_time"], no_start["end_time"]
    far = 86400 * 10**13  # a whole UTC day, but beyond the year 9999
    return [
        None,  # not_an_object
        # no_user: a workspace aggregate
        _row("aggregate", day, user_id=None, actor=None),
        # bad_time
        _row("text-time", day, start_time="yesterday"),
        no_start,
        _row("year-273790", day, start_time=far, end_time=far + _DAY),
        # not_one_day
        _row("week", day, end_time=start + 7 * _DAY),
        _row("noon", day, start_time=start + _DAY // 2, end_time=start + _DAY + _DAY // 2),
        # outside_window
        _row("1970", day, start_time=0, end_time=_DAY),
        _row("2100", day, start_time=_YEAR_2100, end_time=_YEAR_2100 + _DAY),
        # bad_clients
        _row("clients-text", day, clients="CODEX_CLI"),
        _row("totals-list", day, totals=[1, 2, 3]),
        # not_a_number
        _row("many-threads", day, clients=_client(threads="many")),
        _row("true-credits", day, totals=_counts(1, 2, True)),
        # not_finite
        _row("infinity", day, clients=_client(credits=float("inf"))),
        _row("nan", day, totals=_counts(1, 2, float("nan"))),
        # fractional_count
        _row("half-thread", day, clients=_client(threads=1.5)),
        # negative_count
        _row("negative", day, clients=_client(credits=-1000)),
        # too_large
        _row("huge-turns", day, clients=_client(turns=2**63 + 1)),
        _row("huge-tokens", day, totals=_counts(1, 2, 1.5, text_total_tokens=10**14)),
    ]


_NULL_TOKENS = {
    "uncached_text_input_tokens": None,
    "cached_text_input_tokens": None,
    "text_output_tokens": None,
    "text_total_tokens": None,
}


def _tokens(uncached: int, cached: int, output: int, total: int) -> dict[str, int]:
    return {
        "uncached_text_input_tokens": uncached,
        "cached_text_input_tokens": cached,
        "text_output_tokens": output,
        "text_total_tokens": total,
    }


def valid_rows(day: datetime.date) -> list[dict[str, Any]]:
    """Unusual rows a client must store: they make `valid_records(day)`."""
    iso_start = f"{day.isoformat()}T00:00:00Z"
    iso_end = f"{(day + datetime.timedelta(days=1)).isoformat()}T00:00:00+00:00"
    iso_counts = _counts(2, 6, 3.25, **_NULL_TOKENS)
    top_counts = _counts(1, 4, 2.5, **_tokens(300, 100, 50, 450))
    top_level = _row(
        "top-level",
        day,
        object="user.codex.usage.result",
        email="Top.Level@Hostile.Example",
        totals=top_counts,
        clients=[{"client_id": "CODEX_WEB", **top_counts}],
    )
    del top_level["actor"]
    return [
        # ISO 8601 bucket bounds, tokens not published yet.
        _row(
            "iso",
            day,
            start_time=iso_start,
            end_time=iso_end,
            totals=iso_counts,
            clients=[{"client_id": "CODEX_IDE_VSCODE", **iso_counts}],
        ),
        # The user only at the top level, no actor.
        top_level,
        # Totals beyond the sum of the clients: the rest is UNATTRIBUTED.
        _row(
            "unattributed",
            day,
            totals=_counts(3, 7, 10.25, **_tokens(400, 100, 60, 560)),
            clients=[{"client_id": "CODEX_CLI", **_counts(1, 2, 3.5, **_tokens(100, 50, 20, 170))}],
        ),
        # Totals only, every count a numeric string, and no email at all.
        _row(
            "strings",
            day,
            actor={"type": "ACCOUNT_USER", "user_id": "user-hostile-strings", "email": None},
            totals=_counts("2", "5", "4.75"),
            clients=[],
        ),
    ]


def valid_records(day: datetime.date) -> list[UsageRecord]:
    """The records a correct client makes of `valid_rows(day)`, in their order."""
    top = "top.level@hostile.example"
    split = "unattributed@hostile.example"
    return [
        UsageRecord(
            "user-hostile-iso",
            "iso@hostile.example",
            day,
            "CODEX_IDE_VSCODE",
            2,
            6,
            3.25,
            None,
            None,
            None,
            None,
        ),
        UsageRecord("user-hostile-top-level", top, day, "CODEX_WEB", 1, 4, 2.5, 400, 50, 450, 100),
        UsageRecord(
            "user-hostile-unattributed", split, day, "CODEX_CLI", 1, 2, 3.5, 150, 20, 170, 50
        ),
        UsageRecord(
            "user-hostile-unattributed",
            split,
            day,
            UNATTRIBUTED_CLIENT,
            2,
            5,
            6.75,
            350,
            40,
            390,
            50,
        ),
        UsageRecord(
            "user-hostile-strings",
            None,
            day,
            UNATTRIBUTED_CLIENT,
            2,
            5,
            4.75,
            None,
            None,
            None,
            None,
        ),
    ]


def hostile_expectation(first_day: datetime.date, last_day: datetime.date) -> HostileExpectation:
    """What the hostile rows served for the days [first_day, last_day] should become."""
    if first_day > last_day:  # nothing is served: no day to date them in
        return HostileExpectation()
    return HostileExpectation(
        rows=sum(HOSTILE_REJECTIONS.values()) + HOSTILE_VALID_ROWS,
        rejected=Counter(HOSTILE_REJECTIONS),
        records=valid_records(last_day),
    )


def with_hostile_rows(
    data: list[Any], seed: int, first_day: datetime.date, last_day: datetime.date
) -> list[Any]:
    """`data` with the hostile rows dated `last_day` mixed in, in an order and at places
    that depend only on the seed and the page."""
    if first_day > last_day:
        return data
    extra = bad_rows(last_day) + valid_rows(last_day)
    rng = random.Random(f"hostile:{seed}:{last_day.toordinal()}:{len(data)}")
    rng.shuffle(extra)
    mixed = list(data)
    for row in extra:
        mixed.insert(rng.randrange(len(mixed) + 1), row)
    return mixed


# ----------------------------------------------------------------------- endless pages


def encode_loop_token(lap: int, inner: str) -> str:
    """A token of lap `lap` (1 and up) over the window, resuming at the ordinary `inner`
    token, or at the window's start when `inner` is empty."""
    raw = f"l1:{lap}:{inner}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_loop_token(token: str) -> tuple[int, str] | None:
    """(lap, inner token), or None when `token` is not a loop token."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        tag, lap, inner = raw.split(":", 2)
        if tag != "l1" or int(lap) < 1:
            return None
        return int(lap), inner
    except ValueError:  # binascii and Unicode errors are ValueErrors
        return None


def page_token(query: str) -> str | None:
    """The page token a query carries, as parse_usage_query reads it."""
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return params.get("page", params.get("cursor", [None]))[0]


def with_page_token(query: str, token: str) -> str:
    """`query` with its page token replaced by `token` (none when empty)."""
    pairs = [
        (k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in ("page", "cursor")
    ]
    if token:
        pairs.append(("page", token))
    return urlencode(pairs)


def endless(page: dict, lap: int) -> dict:
    """`page` of lap `lap` made endless: its next token is always a new one."""
    if page["next_page"] is None:
        next_page = encode_loop_token(lap + 1, "")
    elif lap:
        next_page = encode_loop_token(lap, page["next_page"])
    else:
        next_page = page["next_page"]
    return {**page, "has_more": True, "next_page": next_page}

"""Per-user, per-day usage rows in the API's shape, and pages of them, computed on demand.

A row depends only on (org seed, user id, day, today), never on which page or request
asks for it, so any page can be computed without its predecessors and re-reads agree.
Whether a user is active on a day comes from a cheap integer hash of (seed, user, day);
an active day's counts come from one BLAKE2 digest of that hash, split into 16-bit draws.
Both are stable across processes (unlike `hash()`) and several times cheaper than seeding
a `random.Random` per row, which matters for a 10,000 x 90 backfill.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import struct
from collections.abc import Iterator, Sequence
from functools import lru_cache
from urllib.parse import parse_qs

from sync.codex.simulator.org import CodexAccount

DEFAULT_LIMIT = 1000
MAX_LIMIT = 30000
DEFAULT_WINDOW_DAYS = 30
MAX_DAYS_BACK = 90
_SECONDS = 86400
_MASK = (1 << 64) - 1
_UNIT = 1 / 65536
_draws = struct.Struct("<32H").unpack
_blake2b = hashlib.blake2b
_TWO64 = float(1 << 64)
_GOLDEN = 0x9E3779B97F4A7C15
_EPOCH = datetime.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
# Weekends: far fewer people work, and those who do work less.
_WEEKEND_ACTIVITY = 0.12
_WEEKEND_SCALE = 0.4
_MODELS = ("gpt-5.3-codex", "gpt-5.2-codex", "gpt-5.1-codex-mini")
_TOKEN_FIELDS = (
    "uncached_text_input_tokens",
    "cached_text_input_tokens",
    "text_output_tokens",
    "text_total_tokens",
)


@lru_cache(maxsize=1 << 17)
def _account_key(org_seed: int, user_id: str) -> int:
    digest = hashlib.blake2b(f"{org_seed}:{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _day_key(account_key: int, ordinal: int) -> int:
    # splitmix64's finaliser: well spread, stable across processes, unlike hash().
    x = (account_key + ordinal * _GOLDEN) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class _Day:
    __slots__ = ("day", "ordinal", "start_time", "end_time", "weekend", "is_today")

    def __init__(self, day: datetime.date, today: datetime.date) -> None:
        self.day = day
        self.ordinal = day.toordinal()
        self.start_time = (self.ordinal - _EPOCH_ORDINAL) * _SECONDS
        self.end_time = self.start_time + _SECONDS
        self.weekend = day.weekday() >= 5
        # The API publishes tokens for the current UTC day only the next day.
        self.is_today = day == today


def usage_row(
    org_seed: int, account: CodexAccount, day: datetime.date, today: datetime.date
) -> dict | None:
    """The API row for `account` on the UTC `day`, or None when it has no usage then."""
    if day > today:
        return None
    return _row(org_seed, account, _Day(day, today))


def iter_rows(
    org_seed: int,
    accounts: Sequence[CodexAccount],
    first_day: datetime.date,
    last_day: datetime.date,
    today: datetime.date,
    start_index: int = 0,
) -> Iterator[tuple[datetime.date, int, dict]]:
    """(day, account index, row) for each active user-day, by day then account order.

    `start_index` skips the first accounts of `first_day` only: it resumes a page.
    """
    last_day = min(last_day, today)
    ordinal = first_day.toordinal()
    while ordinal <= last_day.toordinal():
        d = _Day(datetime.date.fromordinal(ordinal), today)
        for index in range(start_index, len(accounts)):
            row = _row(org_seed, accounts[index], d)
            if row is not None:
                yield d.day, index, row
        start_index = 0
        ordinal += 1


class QueryError(ValueError):
    """Query parameters the API refuses with 422; `details` is its `detail` list."""

    def __init__(self, *details: dict) -> None:
        super().__init__(details)
        self.details = list(details)


def _detail(name: str, msg: str, type_: str) -> dict:
    return {"loc": ["query", name], "msg": msg, "type": type_}


def parse_usage_query(
    query: str, today: datetime.date, history_days: int, accounts: int
) -> tuple[datetime.date, datetime.date, int, int]:
    """(first day, last day, account index to start the first day at, limit).

    Only days within the `history_days` ending today that intersect
    [start_time, end_time) are served. Raises QueryError for what the API answers 422.
    """
    params = parse_qs(query, keep_blank_values=True)
    errors: list[dict] = []

    def integer(name: str, default: int | None) -> int | None:
        if name not in params:
            return default
        try:
            return int(params[name][0])
        except ValueError:
            msg = "Input should be a valid integer, unable to parse string as an integer"
            errors.append(_detail(name, msg, "int_parsing"))
            return None

    today_start = (today - _EPOCH).days * _SECONDS
    end = integer("end_time", today_start + _SECONDS)
    start = integer("start_time", None if end is None else end - DEFAULT_WINDOW_DAYS * _SECONDS)
    limit = integer("limit", DEFAULT_LIMIT)
    if limit is not None and limit < 1:
        errors.append(
            _detail("limit", "Input should be greater than or equal to 1", "greater_than_equal")
        )
    elif limit is not None and limit > MAX_LIMIT:
        msg = f"Input should be less than or equal to {MAX_LIMIT}"
        errors.append(_detail("limit", msg, "less_than_equal"))
    if params.get("group_by", ["day"])[0] not in ("day", "week"):
        errors.append(_detail("group_by", "Input should be 'day' or 'week'", "literal_error"))
    if params.get("group", [""])[0]:
        # Workspace-wide rows are not simulated: say so rather than return user rows.
        msg = "Only per-user rows are available from the simulator"
        errors.append(_detail("group", msg, "literal_error"))
    if start is not None and end is not None:
        if start >= end:
            msg = "end_time must be greater than start_time"
            errors.append(_detail("end_time", msg, "value_error"))
        # Whole UTC days, so a client asking "90 days back" is not refused for seconds.
        elif start < today_start - MAX_DAYS_BACK * _SECONDS:
            msg = f"start_time must be within the last {MAX_DAYS_BACK} days"
            errors.append(_detail("start_time", msg, "value_error"))
    if errors or start is None or end is None or limit is None:
        raise QueryError(*errors)

    # In whole days since the epoch, clamped to the history before any date is built.
    today_days = today_start // _SECONDS
    first = min(max(today_days - history_days + 1, start // _SECONDS), today_days + 1)
    last = min(today_days, (end - 1) // _SECONDS)
    first_day = _EPOCH + datetime.timedelta(days=first)
    last_day = _EPOCH + datetime.timedelta(days=last)
    token = params.get("page", params.get("cursor", [None]))[0]
    if token is None:
        return first_day, last_day, 0, limit
    try:
        day, index = decode_page_token(token)
    except ValueError:
        day, index = None, -1
    if day is None or not (first_day <= day <= last_day) or not (0 <= index < accounts):
        raise QueryError(_detail("page", "Invalid page token", "value_error"))
    return day, last_day, index, limit


def encode_page_token(day: datetime.date, index: int) -> str:
    """Opaque to clients, but only a position: any page is computed without its predecessors."""
    return base64.urlsafe_b64encode(f"p1:{day.toordinal()}:{index}".encode()).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[datetime.date, int]:
    """(day, account index); ValueError for anything `encode_page_token` did not make."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        tag, ordinal, index = raw.split(":")
        if tag != "p1":
            raise ValueError(tag)
        return datetime.date.fromordinal(int(ordinal)), int(index)
    except (ValueError, OverflowError) as exc:  # binascii and Unicode errors are ValueErrors
        raise ValueError("invalid page token") from exc


def usage_page(
    org_seed: int,
    accounts: Sequence[CodexAccount],
    first_day: datetime.date,
    last_day: datetime.date,
    today: datetime.date,
    limit: int,
    start_index: int = 0,
) -> dict:
    """The API page of at most `limit` rows from (`first_day`, `start_index`) to `last_day`."""
    data: list[dict] = []
    next_page = None
    # One row past the page: it proves there is more and says where to resume.
    for day, index, row in iter_rows(org_seed, accounts, first_day, last_day, today, start_index):
        if len(data) == limit:
            next_page = encode_page_token(day, index)
            break
        data.append(row)
    return {
        "object": "page",
        "data": data,
        "has_more": next_page is not None,
        "next_page": next_page,
    }


def _client_counts(scale: float, v: tuple[int, ...], i: int) -> tuple[int, int, int, int, int, int]:
    """(threads, turns, uncached, cached and output tokens, credits in cents) of one surface
    on one day, from the draws v[i] to v[i + 4] and the day's `scale`."""
    threads = 1 + int(scale * v[i] * (4 * _UNIT))
    turns = threads + int(threads * v[i + 1] * (7 * _UNIT))
    uncached = int(turns * (1500 + v[i + 2] * (9000 * _UNIT)))
    cached = int(uncached * (0.5 + v[i + 3] * (2.5 * _UNIT)))
    output = int((uncached + cached) * (0.02 + v[i + 4] * (0.06 * _UNIT)))
    # Credits in whole cents, so totals are exact sums and print with 2 decimals.
    cents = (uncached * 250 + cached * 25 + output * 2000 + 40000) // 80000
    return threads, turns, uncached, cached, output, cents


def _row(org_seed: int, account: CodexAccount, d: _Day) -> dict | None:
    if account.active_until is not None and d.day > account.active_until:
        return None
    account_key = _account_key(org_seed, account.user_id)
    key = _day_key(account_key, d.ordinal)
    chance = account.activity * (_WEEKEND_ACTIVITY if d.weekend else 1.0)
    if key >= chance * _TWO64:
        return None

    # 32 uniform 16-bit draws from one hash: a fifth of the cost of seeding a Random.
    v = _draws(_blake2b(key.to_bytes(8, "little"), digest_size=64).digest())
    surfaces = account.surfaces
    if len(surfaces) > 1:
        wanted = 1 if v[0] < 36045 else 2 if v[0] < 57672 else 3  # 55%, 33%, 12%
        first = 0 if v[1] < 52429 else v[2] % len(surfaces)  # mostly the main surface
        surfaces = (surfaces + surfaces)[first : first + min(wanted, len(surfaces))]
    scale = account.intensity * (0.5 + v[3] * _UNIT) * (_WEEKEND_SCALE if d.weekend else 1.0)

    clients: list[dict[str, object]] = []
    t_threads = t_turns = t_uncached = t_cached = t_output = t_cents = 0
    i = 4
    for client_id in surfaces:
        threads, turns, uncached, cached, output, cents = _client_counts(scale, v, i)
        i += 5
        clients.append(
            {
                "client_id": client_id,
                "threads": threads,
                "turns": turns,
                "credits": cents / 100,
                "uncached_text_input_tokens": uncached,
                "cached_text_input_tokens": cached,
                "text_output_tokens": output,
                "text_total_tokens": uncached + cached + output,
            }
        )
        t_threads += threads
        t_turns += turns
        t_uncached += uncached
        t_cached += cached
        t_output += output
        t_cents += cents
    credits = t_cents / 100
    totals: dict[str, object] = {
        "threads": t_threads,
        "turns": t_turns,
        "credits": credits,
        "uncached_text_input_tokens": t_uncached,
        "cached_text_input_tokens": t_cached,
        "text_output_tokens": t_output,
        "text_total_tokens": t_uncached + t_cached + t_output,
    }
    if v[19] < 3277:
        # Some sources add a cost next to the counts (5% of rows); the bot must ignore it.
        totals["cost_usd"] = t_cents * 4 / 10000
    if d.is_today:
        for counts in (totals, *clients):
            for field in _TOKEN_FIELDS:
                counts[field] = None

    if v[20] < 45875:  # 70% of days on one model
        models = [{"model": _MODELS[0], "credits": credits}]
    else:
        main = t_cents * (50 + v[21] * 40 // 65536) // 100
        models = [
            {"model": _MODELS[0], "credits": main / 100},
            {"model": _MODELS[1 + (key & 1)], "credits": (t_cents - main) / 100},
        ]
    added = int(t_turns * scale * 12 * v[22] * _UNIT)

    actor = {"type": "ACCOUNT_USER", "user_id": account.user_id, "email": account.email}
    if account.email is None and account_key & 1:
        # A withheld email arrives either as null or as no key at all.
        del actor["email"]
    return {
        "object": "workspace.codex.usage.result",
        "start_time": d.start_time,
        "end_time": d.end_time,
        "user_id": account.user_id,
        "actor": actor,
        "totals": totals,
        "clients": clients,
        "models": models,
        "code_attribution": {
            "lines_added": added,
            "lines_removed": int(added * 0.4 * v[23] * _UNIT),
        },
    }


class FullDensityPages:
    """Pages at full density: every account on every day on each of its surfaces (the
    accounts of org.py's `every_day_accounts`), encoded straight to JSON bytes.

    A 10,000-person, 90-day backfill at this density is 900,000 API rows (3.6M stored):
    computing and encoding each row as the realistic pages do cost the simulator more than
    the sync it serves. Here a row's counts (totals, clients, models, lines) are one of a
    pool of tails computed once, with the realistic rows' formulas, for each level of
    intensity, weekday or weekend and whether tokens are published yet; the account and
    day pick one by the same hash of (seed, account, day) as always. A row is then three
    strings joined, a page is computed from its position alone (every account has a row
    every day), and memory stays one page and the pool (a few MB) whatever the window.
    """

    # Four surfaces use draws 4..23; the other figures of a day come after them.
    MAX_SURFACES = 4
    LEVELS = 16  # of intensity, from the lowest to the highest a profile gives
    VARIANTS = 64  # tails per level: a power of two, picked by the day's hash

    def __init__(self, org_seed: int, accounts: Sequence[CodexAccount]) -> None:
        surfaces = {a.surfaces for a in accounts}
        if len(surfaces) > 1 or any(len(s) > self.MAX_SURFACES for s in surfaces):
            raise ValueError(f"full density serves one set of at most {self.MAX_SURFACES} surfaces")
        self.accounts = accounts
        self._keys = [_account_key(org_seed, a.user_id) for a in accounts]
        self._heads = [_account_head(a, k) for a, k in zip(accounts, self._keys, strict=True)]
        self._levels = [self._level(a.intensity) * self.VARIANTS for a in accounts]
        clients = _client_templates(next(iter(surfaces), ()))
        # (weekend, today) -> tails, level by level.
        self._tails = {
            (weekend, today): [
                _tail(org_seed, level, variant, weekend, clients[today], today)
                for level in range(self.LEVELS)
                for variant in range(self.VARIANTS)
            ]
            for weekend in (False, True)
            for today in (0, 1)
        }

    def _level(self, intensity: float) -> int:
        low, high = 0.2, 4.0  # org.py's _profile
        return min(self.LEVELS - 1, max(0, int((intensity - low) / (high - low) * self.LEVELS)))

    def page(
        self,
        first_day: datetime.date,
        last_day: datetime.date,
        today: datetime.date,
        limit: int,
        start_index: int = 0,
    ) -> bytes:
        """The API page of at most `limit` rows from (`first_day`, `start_index`) to
        `last_day`, shaped as `usage_page` shapes it, encoded."""
        rows: list[str] = []
        count = len(self.accounts)
        ordinal, index = first_day.toordinal(), start_index
        last = min(last_day, today).toordinal()
        while ordinal <= last and len(rows) < limit:
            d = _Day(datetime.date.fromordinal(ordinal), today)
            end = min(count, index + limit - len(rows))
            self._encode_day(d, index, end, rows)
            index = end
            if index == count:
                ordinal, index = ordinal + 1, 0
        next_page = "null"
        if ordinal <= last:
            next_page = f'"{encode_page_token(datetime.date.fromordinal(ordinal), index)}"'
        more = "false" if next_page == "null" else "true"
        data = ",".join(rows)
        tail = f'"has_more":{more},"next_page":{next_page}}}'
        return f'{{"object":"page","data":[{data}],{tail}'.encode()

    def _encode_day(self, d: _Day, start: int, end: int, rows: list[str]) -> None:
        day_head = (
            '{"object":"workspace.codex.usage.result",'
            f'"start_time":{d.start_time},"end_time":{d.end_time},'
        )
        tails = self._tails[d.weekend, int(d.is_today)]
        keys, heads, levels, ordinal = self._keys, self._heads, self._levels, d.ordinal
        pick = self.VARIANTS - 1
        for n in range(start, end):
            rows.append(
                day_head + heads[n] + tails[levels[n] + (_day_key(keys[n], ordinal) & pick)]
            )


def _tail(
    org_seed: int,
    level: int,
    variant: int,
    weekend: bool,
    client_templates: tuple[str, ...],
    today: int,
) -> str:
    """The counts of a row, from `"totals"` to its end, as `_row` computes them, for an
    account of intensity `level` (of FullDensityPages.LEVELS) on a weekday or weekend day,
    today's (tokens not published yet) or not."""
    key = _day_key(_account_key(org_seed, f"full:{level}:{variant}"), int(weekend))
    v = _draws(_blake2b(key.to_bytes(8, "little"), digest_size=64).digest())
    intensity = 0.2 + (level + 0.5) * 3.8 / FullDensityPages.LEVELS
    scale = intensity * (0.5 + v[3] * _UNIT) * (_WEEKEND_SCALE if weekend else 1.0)
    clients = []
    t_threads = t_turns = t_uncached = t_cached = t_output = t_cents = 0
    for n, template in enumerate(client_templates):
        threads, turns, uncached, cached, output, cents = _client_counts(scale, v, 4 + 5 * n)
        total = uncached + cached + output
        tokens = () if today else (uncached, cached, output, total)
        clients.append(template % (threads, turns, cents / 100, *tokens))
        t_threads += threads
        t_turns += turns
        t_uncached += uncached
        t_cached += cached
        t_output += output
        t_cents += cents
    credits = t_cents / 100
    # Some sources add a cost next to the counts (5% of rows); the bot must ignore it.
    cost = f',"cost_usd":{t_cents * 4 / 10000!r}' if v[24] < 3277 else ""
    t_total = t_uncached + t_cached + t_output
    tokens = () if today else (t_uncached, t_cached, t_output, t_total)
    totals = _TOTALS_TEMPLATES[today] % (t_threads, t_turns, credits, *tokens, cost)
    if v[25] < 45875:  # 70% of days on one model
        models = f'[{{"model":"{_MODELS[0]}","credits":{credits!r}}}]'
    else:
        main = t_cents * (50 + v[26] * 40 // 65536) // 100
        second = _MODELS[1 + (key & 1)]
        models = (
            f'[{{"model":"{_MODELS[0]}","credits":{main / 100!r}}},'
            f'{{"model":"{second}","credits":{(t_cents - main) / 100!r}}}]'
        )
    added = int(t_turns * scale * 12 * v[27] * _UNIT)
    removed = int(added * 0.4 * v[28] * _UNIT)
    return (
        f'"totals":{totals},"clients":[{",".join(clients)}],"models":{models},'
        f'"code_attribution":{{"lines_added":{added},"lines_removed":{removed}}}}}'
    )


_COUNTS = '"threads":%d,"turns":%d,"credits":%r'
_TOKENS = (
    '"uncached_text_input_tokens":%d,"cached_text_input_tokens":%d,'
    '"text_output_tokens":%d,"text_total_tokens":%d'
)
# Today's tokens are published only tomorrow.
_NO_TOKENS = ",".join(f'"{name}":null' for name in _TOKEN_FIELDS)
# (with tokens, today's); the last field is the optional cost.
_TOTALS_TEMPLATES = (
    "{" + _COUNTS + "," + _TOKENS + "%s}",
    "{" + _COUNTS + "," + _NO_TOKENS + "%s}",
)


def _account_head(account: CodexAccount, account_key: int) -> str:
    """The constant part of an account's rows: its user id and actor, as `_row` has them."""
    actor: dict[str, str | None] = {"type": "ACCOUNT_USER", "user_id": account.user_id}
    if account.email is not None or not account_key & 1:
        # A withheld email arrives either as null or as no key at all.
        actor["email"] = account.email
    encoded = json.dumps(actor, separators=(",", ":"))
    return f'"user_id":{json.dumps(account.user_id)},"actor":{encoded},'


def _client_templates(surfaces: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Per surface, the client's JSON with its counts left to fill (with tokens, today's)."""

    def template(client_id: str, tokens: str) -> str:
        return "{" + f'"client_id":{json.dumps(client_id)},' + _COUNTS + "," + tokens + "}"

    return (
        tuple(template(s, _TOKENS) for s in surfaces),
        tuple(template(s, _NO_TOKENS) for s in surfaces),
    )

"""Validating usage rows at the edge (sync/codex/rows.py): each row becomes its records
or is rejected whole with one reason; one bad row never blocks the good ones."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections import Counter, defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.codex.client import ApiPage, decode_usage_page, usage_page
from sync.codex.rows import UNATTRIBUTED_CLIENT, RowRejected, UsageRecord, parse_row, parse_rows

DAY = dt.date(2026, 11, 2)
FIRST, LAST = DAY - dt.timedelta(days=3), DAY
SECONDS = 86400
MIDNIGHT = int(dt.datetime.combine(DAY, dt.time(), dt.UTC).timestamp())
COUNTS = ("threads", "turns", "credits")
TOKENS = (
    "uncached_text_input_tokens",
    "cached_text_input_tokens",
    "text_output_tokens",
    "text_total_tokens",
)


def counts(threads=1, turns=3, credits=2.5, tokens=(600, 200, 150, 950)) -> dict[str, Any]:
    return {
        "threads": threads,
        "turns": turns,
        "credits": credits,
        **dict(zip(TOKENS, tokens, strict=True)),
    }


def row(user="user-1", email="Dev@Example.com", **overrides) -> dict[str, Any]:
    base = {
        "object": "workspace.codex.usage.result",
        "start_time": MIDNIGHT,
        "end_time": MIDNIGHT + SECONDS,
        "user_id": user,
        "actor": {"type": "ACCOUNT_USER", "user_id": user, "email": email},
        "totals": counts(),
        "clients": [{"client_id": "CODEX_CLI", **counts()}],
    }
    base.update(overrides)
    return base


def parse(value) -> list[UsageRecord]:
    return parse_row(value, FIRST, LAST)


def parsed_from_json(rows: list[Any]) -> tuple[list[UsageRecord], Counter[str]]:
    """The rows as the client reads them off the wire: decoded typed when the page fits
    the API's types, else as plain JSON (sync/codex/client.py)."""
    page = usage_page(decode_usage_page(json.dumps({"data": rows}).encode()), FIRST, LAST)
    return page.records, page.rejected


def client_with(**changed) -> list[dict[str, Any]]:
    return [{"client_id": "CODEX_CLI", **counts(), **changed}]


def without(value: dict, *keys: str) -> dict:
    return {k: v for k, v in value.items() if k not in keys}


# ------------------------------------------------------------------------ rejections

REJECTED = {
    "not_an_object": [None, "row", 42, [row()], True],
    "no_user": [
        row(user=None, actor=None),  # a workspace aggregate
        without(row(), "user_id", "actor"),
        row(user="", actor={"type": "ACCOUNT_USER", "user_id": ""}),
        row(user=[1], actor=None),
        row(user=1.5, actor="user-1"),
    ],
    "bad_time": [
        row(start_time="yesterday"),
        without(row(), "start_time"),
        without(row(), "start_time", "end_time"),
        row(start_time=True),
        row(start_time=float(MIDNIGHT) + 0.5),
        row(start_time=[MIDNIGHT]),
        row(start_time="2026-13-45T00:00:00Z"),
        row(end_time="tomorrow"),
        row(start_time=SECONDS * 10**13, end_time=SECONDS * 10**13 + SECONDS),  # year 273790
        row(start_time=float("inf")),
        row(start_time=float("nan")),
    ],
    "not_one_day": [
        row(end_time=MIDNIGHT + 7 * SECONDS),  # a week
        row(start_time=MIDNIGHT + SECONDS // 2, end_time=MIDNIGHT + SECONDS + SECONDS // 2),
        row(end_time=MIDNIGHT),
        row(start_time=MIDNIGHT + 3600, end_time=None),
        row(start_time="2026-11-02T01:00:00Z", end_time="2026-11-03T01:00:00Z"),
        row(start_time="2026-11-02T00:00:00+01:00"),  # 23:00 UTC the day before
    ],
    "outside_window": [
        row(start_time=0, end_time=SECONDS),  # 1970
        row(start_time=4102444800, end_time=4102444800 + SECONDS),  # 2100
        row(start_time=MIDNIGHT - 4 * SECONDS, end_time=MIDNIGHT - 3 * SECONDS),
        row(start_time=MIDNIGHT + SECONDS, end_time=MIDNIGHT + 2 * SECONDS),
        row(start_time="9999-12-31T00:00:00Z", end_time=None),
    ],
    "bad_clients": [
        row(clients="CODEX_CLI"),
        row(clients={"client_id": "CODEX_CLI", "threads": 1}),
        row(clients=[1, 2]),
        row(clients=[None]),
        row(totals=[1, 2, 3]),
        row(totals="all"),
        row(totals=0),
    ],
    "not_a_number": [
        row(clients=client_with(threads="many")),
        row(clients=client_with(turns="")),
        row(clients=client_with(credits=True)),
        row(totals=counts(credits=[1])),
        row(totals={**counts(), "text_output_tokens": {"n": 1}}),
        row(clients=client_with(credits="0x10")),
    ],
    "not_finite": [
        row(clients=client_with(credits=float("inf"))),
        row(clients=client_with(credits=float("nan"))),
        row(totals=counts(credits=float("-inf"))),  # not finite before it is negative
        row(clients=client_with(turns="Infinity")),
        row(totals=counts(threads="NaN")),
        row(clients=client_with(credits="1e400")),
    ],
    "fractional_count": [
        row(clients=client_with(threads=1.5)),
        row(clients=client_with(turns="2.5")),
        row(totals={**counts(), "text_output_tokens": 0.5}),
    ],
    "negative_count": [
        row(clients=client_with(credits=-1000)),
        row(clients=client_with(threads=-1)),
        row(totals=counts(turns="-3")),
        row(totals={**counts(), "cached_text_input_tokens": -5}),
    ],
    "too_large": [
        row(clients=client_with(turns=2**63 + 1)),
        row(clients=client_with(threads=10**7 + 1)),
        row(totals=counts(credits=1e10)),
        row(totals={**counts(), "text_total_tokens": 10**14}),
        row(clients=client_with(credits=10**400)),
    ],
}


@pytest.mark.parametrize(
    ("reason", "value"),
    [(reason, value) for reason, values in REJECTED.items() for value in values],
)
def test_a_bad_row_is_rejected_with_its_reason(reason, value):
    with pytest.raises(RowRejected) as rejected:
        parse(value)
    assert rejected.value.reason == reason
    # Off the wire, next to a good row, whichever way the page is decoded.
    records, reasons = parsed_from_json([value, row(user="user-2")])
    assert reasons == {reason: 1}
    assert [r.codex_user_id for r in records] == ["user-2"]


def test_parse_rows_counts_each_rejection_and_keeps_the_good_rows_around_them():
    bad = [value for values in REJECTED.values() for value in values]
    good = [row(user=f"user-{n}") for n in range(3)]
    mixed = [good[0], *bad[: len(bad) // 2], good[1], *bad[len(bad) // 2 :], good[2]]
    parsed = parse_rows(mixed, FIRST, LAST)
    assert parsed.rejected == {reason: len(values) for reason, values in REJECTED.items()}
    assert [r.codex_user_id for r in parsed.records] == ["user-0", "user-1", "user-2"]
    assert parsed_from_json(mixed) == (parsed.records, parsed.rejected)


def test_a_page_as_the_api_sends_it_is_decoded_typed_and_read_the_same():
    rows = [
        row(user="user-1"),
        row(user="user-2", email=None, totals=counts(turns=9)),  # an unattributed remainder
        row(user="user-3", clients=client_with(text_total_tokens=None), totals=None),
        # A day outside the window.
        row(user="user-4", start_time=MIDNIGHT - 9 * SECONDS, end_time=MIDNIGHT - 8 * SECONDS),
        row(user="user-5", totals={}, clients=None),  # no counts
        row(user="", actor=None),  # no user
    ]
    body = json.dumps({"data": rows, "has_more": True, "next_page": "p2"}).encode()
    decoded = decode_usage_page(body)
    assert isinstance(decoded, ApiPage)  # the typed way, not the fallback
    assert decoded.envelope() == {"has_more": True, "next_page": "p2", "next_cursor": None}
    page = usage_page(decoded, FIRST, LAST)
    parsed = parse_rows(rows, FIRST, LAST)
    assert (page.records, page.rejected, page.rows) == (parsed.records, parsed.rejected, 6)
    assert page.rejected == {"outside_window": 1, "no_counts": 1, "no_user": 1}
    assert [type(value) for value in page.records[0]] == [type(v) for v in parsed.records[0]]


@pytest.mark.parametrize(
    "broken",
    [
        row(clients=client_with(turns=-1)),
        row(clients=client_with(credits="2.5")),
        row(start_time="2026-11-02T00:00:00Z"),
        row(actor="user-1"),
        row(user_id=7, actor=None),
    ],
)
def test_a_page_off_the_types_is_read_as_plain_json_with_the_same_result(broken):
    rows = [row(user="user-1"), broken]
    decoded = decode_usage_page(json.dumps({"data": rows}).encode())
    assert not isinstance(decoded, ApiPage)
    page = usage_page(decoded, FIRST, LAST)
    parsed = parse_rows(rows, FIRST, LAST)
    assert (page.records, page.rejected) == (parsed.records, parsed.rejected)


def test_counts_up_to_the_ceilings_are_kept():
    ceilings = counts(threads=10**7, turns=10**7, credits=1e9, tokens=(10**13, 0, 0, 10**13))
    (record,) = parse(row(totals=ceilings, clients=[{"client_id": "CODEX_CLI", **ceilings}]))
    assert (record.threads, record.turns, record.credits) == (10**7, 10**7, 1e9)
    assert (record.input_tokens, record.total_tokens) == (10**13, 10**13)


# ------------------------------------------------------------ unusual but valid rows


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"),
        ("2026-11-02T00:00:00+00:00", "2026-11-03T00:00:00+00:00"),
        ("2026-11-02T01:00:00+01:00", "2026-11-03T01:00:00+01:00"),  # midnight UTC
        ("2026-11-02T00:00:00", "2026-11-03T00:00:00"),  # no offset: UTC
        ("2026-11-02", None),
        (str(MIDNIGHT), str(MIDNIGHT + SECONDS)),
        (float(MIDNIGHT), float(MIDNIGHT + SECONDS)),
        (MIDNIGHT, None),
    ],
)
def test_bucket_times_may_be_iso_8601_digits_or_floats(start, end):
    (record,) = parse(row(start_time=start, end_time=end))
    assert record.day == DAY


def test_the_user_may_come_from_the_top_level_fields_when_there_is_no_actor():
    top_level = without(row(user="user-top"), "actor")
    top_level.update(object="user.codex.usage.result", email="  Top.Level@Example.ORG ")
    (record,) = parse(top_level)
    assert (record.codex_user_id, record.email) == ("user-top", "top.level@example.org")


def test_actor_comes_first_then_the_top_level_fields_fill_in():
    both = row(user="user-top", actor={"user_id": "user-actor", "email": "Actor@Example.com"})
    both["email"] = "top@example.com"
    (record,) = parse(both)
    assert (record.codex_user_id, record.email) == ("user-actor", "actor@example.com")
    no_email = row(user="user-top", actor={"type": "ACCOUNT_USER", "email": "  "})
    no_email["email"] = "Top@Example.com"
    (record,) = parse(no_email)
    assert (record.codex_user_id, record.email) == ("user-top", "top@example.com")


def test_a_row_without_an_email_is_kept_with_none_and_a_numeric_user_id_as_text():
    (record,) = parse(row(user=1234, email=None))
    assert (record.codex_user_id, record.email) == ("1234", None)
    (record,) = parse(row(actor={"user_id": "user-9"}))
    assert record.email is None


def test_totals_beyond_the_clients_are_stored_as_unattributed_with_the_remainder():
    value = row(
        totals=counts(threads=5, turns=12, credits=10.25, tokens=(1000, 400, 300, 1700)),
        clients=[
            {"client_id": "CODEX_CLI", **counts(1, 3, 3.5, (100, 50, 20, 170))},
            {"client_id": "CODEX_IDE_VSCODE", **counts(2, 4, 2.25, (200, 100, 40, 340))},
        ],
    )
    cli, ide, rest = parse(value)
    assert (cli.client_id, ide.client_id, rest.client_id) == (
        "CODEX_CLI",
        "CODEX_IDE_VSCODE",
        UNATTRIBUTED_CLIENT,
    )
    assert rest == UsageRecord(
        "user-1", "dev@example.com", DAY, UNATTRIBUTED_CLIENT, 2, 5, 4.5, 950, 240, 1190, 250
    )
    records = [cli, ide, rest]
    assert sum(r.threads for r in records) == 5 and sum(r.turns for r in records) == 12
    assert sum(r.credits for r in records) == pytest.approx(10.25)
    assert sum(r.total_tokens for r in records) == 1700
    assert sum(r.cached_input_tokens for r in records) == 400


def test_only_the_counts_totals_exceed_go_to_unattributed():
    value = row(
        totals=counts(threads=1, turns=9, credits=1.0, tokens=(600, 200, 150, 950)),
        clients=[{"client_id": "CODEX_CLI", **counts(2, 3, 2.5, (600, 200, 150, 950))}],
    )
    _, rest = parse(value)
    assert rest[4:] == (0, 6, 0, 0, 0, 0, 0)


def test_totals_equal_to_or_below_the_clients_add_nothing():
    assert len(parse(row())) == 1
    below = row(totals=counts(threads=0, turns=1, credits=0.5, tokens=(1, 1, 1, 3)))
    (record,) = parse(below)
    assert (record.threads, record.turns, record.credits) == (1, 3, 2.5)
    rounding = row(totals=counts(credits=2.5 + 1e-9))
    assert len(parse(rounding)) == 1


def test_a_row_with_totals_only_is_one_unattributed_record():
    for clients in ([], None):
        (record,) = parse(row(clients=clients, totals=counts(4, 9, 7.5)))
        assert record == UsageRecord(
            "user-1", "dev@example.com", DAY, UNATTRIBUTED_CLIENT, 4, 9, 7.5, 800, 150, 950, 200
        )


def test_clients_only_are_the_whole_person_and_unknown_client_ids_are_kept():
    value = row(totals=None, clients=[{"client_id": "CODEX_BRAND_NEW", **counts()}, {}])
    new, unnamed = parse(value)
    assert new.client_id == "CODEX_BRAND_NEW" and new.turns == 3
    assert unnamed.client_id == UNATTRIBUTED_CLIENT
    assert (unnamed.threads, unnamed.credits, unnamed.total_tokens) == (0, 0.0, None)


def test_null_or_missing_tokens_stay_unknown_never_zero():
    nulls = counts(tokens=(None, None, None, None))
    (record,) = parse(row(totals=nulls, clients=[{"client_id": "CODEX_CLI", **nulls}]))
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (None,) * 3
    part = counts(tokens=(600, None, 150, None))
    (record,) = parse(row(totals=None, clients=[{"client_id": "CODEX_CLI", **part}]))
    # An input with an unknown part is unknown, and so is a total made from it.
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (None, 150, None)
    (record,) = parse(row(totals=None, clients=[{"client_id": "CODEX_CLI", "threads": 1}]))
    assert (record.threads, record.turns, record.credits) == (1, 0, 0.0)
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (None,) * 3


def test_cached_input_tokens_are_kept_as_part_of_input_tokens():
    (record,) = parse(row(totals=None, clients=client_with()))  # 600 uncached, 200 cached
    assert (record.input_tokens, record.cached_input_tokens) == (800, 200)
    zero = client_with(cached_text_input_tokens="0")
    (record,) = parse(row(totals=None, clients=zero))
    assert (record.input_tokens, record.cached_input_tokens) == (600, 0)  # a real 0


def test_missing_cached_tokens_stay_unknown_and_make_input_unknown():
    for absent in ({"cached_text_input_tokens": None}, {}):
        client = {k: v for k, v in client_with()[0].items() if k != "cached_text_input_tokens"}
        (record,) = parse(row(totals=None, clients=[{**client, **absent}]))
        assert (record.input_tokens, record.cached_input_tokens) == (None, None)
        assert record.output_tokens == 150
    # Cached without uncached: the cached count is known, the input it is part of is not.
    alone = client_with(uncached_text_input_tokens=None)
    (record,) = parse(row(totals=None, clients=alone))
    assert (record.input_tokens, record.cached_input_tokens) == (None, 200)


@pytest.mark.parametrize(
    "bad, reason",
    [
        (-1, "negative_count"),
        ("-5", "negative_count"),
        (2.5, "fractional_count"),
        (10**14, "too_large"),
        (float("nan"), "not_finite"),
        ("many", "not_a_number"),
        (True, "not_a_number"),
    ],
)
def test_a_bad_cached_count_rejects_the_row(bad, reason):
    broken = row(clients=client_with(cached_text_input_tokens=bad))
    assert parse_rows([broken, row(user="user-2")], FIRST, LAST).rejected == {reason: 1}
    with pytest.raises(RowRejected):
        parse(row(totals={**counts(), "cached_text_input_tokens": bad}))


def test_the_unattributed_cached_remainder_never_exceeds_its_input():
    # The clients report more uncached and less cached input than the totals: the totals'
    # input is 50 beyond the clients', their cached count 100 beyond.
    value = row(
        totals=counts(1, 3, 2.5, (100, 100, 10, 210)),
        clients=[{"client_id": "CODEX_CLI", **counts(1, 3, 2.5, (150, 0, 10, 160))}],
    )
    _, rest = parse(value)
    assert (rest.input_tokens, rest.cached_input_tokens) == (50, 50)
    # Input all attributed, cached not: no unattributed row of cached tokens alone.
    value = row(
        totals=counts(1, 3, 2.5, (100, 100, 10, 210)),
        clients=[{"client_id": "CODEX_CLI", **counts(1, 3, 2.5, (150, 50, 10, 210))}],
    )
    assert len(parse(value)) == 1


def test_total_tokens_fall_back_to_input_plus_output():
    given_parts = counts(tokens=(10, 5, 7, None))
    (record,) = parse(row(totals=None, clients=[{"client_id": "CODEX_CLI", **given_parts}]))
    assert (record.input_tokens, record.output_tokens, record.total_tokens) == (15, 7, 22)


def test_numeric_strings_are_read_as_numbers():
    text = {"threads": "2", "turns": " 5 ", "credits": "4.75", "text_output_tokens": "30"}
    (record,) = parse(row(totals=None, clients=[{"client_id": "CODEX_CLI", **text}]))
    assert (record.threads, record.turns, record.credits, record.output_tokens) == (2, 5, 4.75, 30)
    assert isinstance(record.threads, int) and isinstance(record.credits, float)
    (record,) = parse(row(totals=None, clients=client_with(threads=3.0, credits=2)))
    assert (record.threads, record.credits) == (3, 2.0)
    assert type(record.threads) is int and type(record.credits) is float


def test_unknown_fields_are_ignored():
    value = row(models=[{"model": "x"}], code_attribution={"lines_added": "many"}, extra=[1])
    value["totals"] = {**counts(), "cost_usd": "not a number", "estimated_cost_usd": -1}
    value["clients"][0]["speed"] = float("nan")
    (record,) = parse(value)
    assert record == UsageRecord(
        "user-1", "dev@example.com", DAY, "CODEX_CLI", 1, 3, 2.5, 800, 150, 950, 200
    )


def test_the_window_is_inclusive_of_its_first_and_last_days():
    first = row(start_time=MIDNIGHT - 3 * SECONDS, end_time=MIDNIGHT - 2 * SECONDS)
    assert [r.day for r in parse(first)] == [FIRST]
    assert [r.day for r in parse(row())] == [LAST]


# ------------------------------------------------- shapes found by the property test


@pytest.mark.parametrize("start", ["\u00b2", "\u2460", "1" * 5000])
def test_digit_like_start_times_are_rejected_not_raised(start):
    # "²".isdigit() is True but int("²") raises ValueError, and so does int() of a text of
    # more than 4300 digits: parse_rows lets it out, and the whole page fails.
    assert parse_rows([row(start_time=start, end_time=None)], FIRST, LAST).rejected == {
        "bad_time": 1
    }


def test_the_unattributed_remainder_of_a_day_without_tokens_keeps_them_unknown():
    nulls = (None, None, None, None)
    value = row(
        totals=counts(threads=3, turns=7, credits=4.0, tokens=nulls),
        clients=[{"client_id": "CODEX_CLI", **counts(1, 2, 1.0, nulls)}],
    )
    _, rest = parse(value)
    assert (rest.input_tokens, rest.output_tokens, rest.total_tokens) == (None, None, None)


def test_a_row_with_no_counts_at_all_is_accounted_for():
    no_counts = [
        row(totals=None, clients=[]),
        row(totals={}, clients=None),
        # Totals that hold no count say nothing either: never a day of zeros.
        row(totals=dict.fromkeys(TOKENS), clients=None),
        row(totals={"lines_added": 12}, clients=[]),
    ]
    parsed = parse_rows(no_counts, FIRST, LAST)
    assert parsed.records == [] and parsed.rejected == {"no_counts": 4}
    assert parsed_from_json(no_counts) == ([], parsed.rejected)
    # A count of zero is a count: the API said nothing was done.
    (zero,) = parse(row(totals={"threads": 0}, clients=None))
    assert (zero.client_id, zero.threads, zero.turns, zero.input_tokens) == (
        UNATTRIBUTED_CLIENT,
        0,
        0,
        None,
    )


# ----------------------------------------------------------------- property: any page

WINDOW_DAYS = [FIRST + dt.timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
ints = st.integers(0, 10**6)
cents = st.integers(0, 10**8).map(lambda c: c / 100)
maybe_tokens = st.one_of(st.none(), st.integers(0, 10**9))


def as_text_sometimes(value: st.SearchStrategy) -> st.SearchStrategy:
    """The value, or now and then the same number written as text."""
    return st.one_of(value, value.map(str))


def _midnight(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


@st.composite
def bucket_times(draw) -> tuple[dt.date, dict[str, Any]]:
    day = draw(st.sampled_from(WINDOW_DAYS))
    start, end = _midnight(day), _midnight(day) + SECONDS
    style = draw(st.sampled_from(["int", "float", "digits", "iso_z", "iso_offset", "naive"]))
    render = {
        "int": lambda s: s,
        "float": float,
        "digits": str,
        "iso_z": lambda s: dt.datetime.fromtimestamp(s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "iso_offset": lambda s: dt.datetime.fromtimestamp(s, dt.UTC).isoformat(),
        "naive": lambda s: dt.datetime.fromtimestamp(s, dt.UTC).replace(tzinfo=None).isoformat(),
    }[style]
    times = {"start_time": render(start)}
    if draw(st.booleans()):
        times["end_time"] = render(end)
    return day, times


@st.composite
def count_objects(draw) -> dict[str, Any]:
    """A client's or totals' counts: each may be missing, a number or numeric text."""
    value: dict[str, Any] = {}
    for name, numbers in (("threads", ints), ("turns", ints), ("credits", cents)):
        if draw(st.integers(0, 9)):  # missing one time in ten
            value[name] = draw(as_text_sometimes(numbers))
    for name in TOKENS:
        if draw(st.booleans()):
            value[name] = draw(maybe_tokens)
    return value


@st.composite
def valid_rows(draw, number: int) -> tuple[dict[str, Any], dt.date]:
    """A row that must be stored, of user `number` (unique in its page)."""
    day, times = draw(bucket_times())
    user: str | int = draw(st.sampled_from([f"user-{number}", 10_000 + number]))
    email = draw(st.one_of(st.none(), st.just(f"Person{number}@Example.com")))
    value: dict[str, Any] = {"object": "workspace.codex.usage.result", **times}
    where = draw(st.sampled_from(["actor", "top_level", "both", "actor_without_user"]))
    if where in ("actor", "both"):
        value["actor"] = {"type": "ACCOUNT_USER", "user_id": user, "email": email}
    if where in ("top_level", "both", "actor_without_user"):
        value.update(user_id=user, email=email)
    if where == "actor_without_user":
        value["actor"] = {"type": "ACCOUNT_USER"}
    clients = [
        {"client_id": draw(st.sampled_from(["CODEX_CLI", "CODEX_WEB", "CODEX_NEW"])), **c}
        for c in draw(st.lists(count_objects(), max_size=3))
    ]
    totals = draw(st.one_of(st.none(), count_objects()))
    if not clients and all(value is None for value in (totals or {}).values()):
        # A row with no count in it is a known gap (above).
        totals = {"threads": draw(ints), "turns": draw(ints), "credits": draw(cents)}
    if clients or draw(st.booleans()):
        value["clients"] = clients
    if totals is not None:
        value["totals"] = totals
    return value, day


HOSTILE_COUNTS = [
    float("inf"),
    float("nan"),
    float("-inf"),
    -1000,
    -1,
    2**63 + 1,
    10**14,
    1e300,
    "many",
    "",
    "Infinity",
    "NaN",
    "-5",
    1.5,
    "2.5",
    True,
    False,
    [],
    {},
    [1],
]
HOSTILE_TIMES = [
    "yesterday",
    None,
    True,
    0,
    4102444800,
    1.5,
    [],
    {},
    "2026-13-45",
    "2026-11-02T00:00:00+01:00",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(max_size=8).filter(lambda k: k not in ("user_id", "actor")), inner, max_size=3
        )
    ),
    max_leaves=8,
)


BAD_ACTORS: list[Any] = [None, {}, {"user_id": ""}, "user-1", []]
BAD_CLIENTS: list[Any] = ["CODEX_CLI", {"threads": 1}, [1], [None, {}]]
BAD_TOTALS: list[Any] = [[1, 2], "all", 7, 0, False]
# Every way a row is broken here: a kind, then one of its bad values.
BREAKAGES: dict[str, list[Any]] = {
    "count": HOSTILE_COUNTS,
    "time": [*HOSTILE_TIMES, "an hour late", "a week long"],
    "user": BAD_ACTORS,
    "clients": BAD_CLIENTS,
    "totals": BAD_TOTALS,
    "junk": [None, "row", 42, 1.5, True, [], [{"user_id": "u"}]],
    "json": [None],
}


@st.composite
def invalid_rows(draw, number: int, pick: random.Random) -> Any:
    """A row that must be rejected: a valid one broken in one hostile way, or junk.
    `pick` chooses uniformly, so the last ways of BREAKAGES are tried as often as the
    first (a sampled_from would favour the first)."""
    value, day = draw(valid_rows(number))
    # Counts have the most ways to be wrong: they are broken most often.
    (how,) = pick.choices(list(BREAKAGES), weights=[5, 2, 1, 1, 1, 1, 1])
    bad = pick.choice(BREAKAGES[how])
    if how == "count":
        holders = [*value.get("clients", []), *([value["totals"]] if value.get("totals") else [])]
        fractional = bad in (1.5, "2.5")  # credits may be fractional: another count then
        name = "credits" if not fractional and pick.random() < 0.3 else None
        others = [n for n in (*COUNTS, *TOKENS) if n != "credits"]
        pick.choice(holders)[name or pick.choice(others)] = bad
    elif how == "time" and bad == "a week long":
        value.update(start_time=_midnight(day), end_time=_midnight(day) + 7 * SECONDS)
    elif how == "time":
        value["start_time"] = _midnight(day) + 3600 if bad == "an hour late" else bad
    elif how == "user":
        value.pop("user_id", None)
        value["actor"] = bad
    elif how in ("clients", "totals"):
        value[how] = bad
    elif how == "junk":
        value = bad
    else:
        value = draw(json_values)
    return value


@st.composite
def pages(draw) -> tuple[list[Any], list[tuple[dict[str, Any], dt.date]], int]:
    """(rows in page order, the valid rows with their days, how many rows are invalid)."""
    kinds = draw(st.lists(st.booleans(), min_size=1, max_size=20))
    pick = draw(st.randoms(use_true_random=True))
    rows, valid = [], []
    for number, is_valid in enumerate(kinds):
        if is_valid:
            value, day = draw(valid_rows(number))
            valid.append((value, day))
            rows.append(value)
        else:
            rows.append(draw(invalid_rows(number, pick)))
    return rows, valid, kinds.count(False)


def _number(value: Any) -> float:
    return 0.0 if value is None else float(value)


def person_figures(value: dict[str, Any]) -> dict[str, float]:
    """The person's figure of each count: the totals, or the clients' sum when bigger."""
    clients = value.get("clients") or []
    totals = value.get("totals") or {}
    return {
        name: max(_number(totals.get(name)), sum(_number(c.get(name)) for c in clients))
        for name in COUNTS
    }


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(pages())
def test_any_page_is_parsed_without_raising_and_every_row_is_accounted_for_once(page):
    rows, valid, invalid = page
    parsed = parse_rows(rows, FIRST, LAST)
    assert parsed_from_json(rows) == (parsed.records, parsed.rejected)

    # Row by row: each one is stored or rejected, never both, never neither.
    stored, reasons = 0, Counter()
    for value in rows:
        try:
            records = parse(value)
        except RowRejected as rejected:
            reasons[rejected.reason] += 1
        else:
            assert records, value
            stored += 1
    assert parsed.rejected == reasons
    assert len(rows) == stored + sum(parsed.rejected.values())
    # The hostile rows are exactly the rejected ones, the valid rows exactly the stored.
    assert sum(parsed.rejected.values()) == invalid
    assert stored == len(valid)

    per_person: dict[tuple[str, dt.date], list[UsageRecord]] = defaultdict(list)
    for record in parsed.records:
        per_person[record.codex_user_id, record.day].append(record)
        assert FIRST <= record.day <= LAST
        assert record.threads >= 0 and record.turns >= 0 and record.credits >= 0
        assert math.isfinite(record.credits)
        cached, inputs = record.cached_input_tokens, record.input_tokens
        assert cached is None or 0 <= cached <= (inputs if inputs is not None else cached)
    for value, day in valid:
        actor = value.get("actor") or {}
        user = str(actor.get("user_id") or value["user_id"])
        records = per_person.pop((user, day))
        figures = person_figures(value)
        assert sum(r.threads for r in records) == figures["threads"]
        assert sum(r.turns for r in records) == figures["turns"]
        assert sum(r.credits for r in records) == pytest.approx(figures["credits"], abs=1e-5)
    assert per_person == {}  # nothing stored but the valid rows


def test_a_boolean_user_is_no_user():
    assert parse_rows([row(user_id=True, actor=None)], FIRST, LAST).rejected == {"no_user": 1}


@st.composite
def typed_rows(draw, number: int) -> dict[str, Any]:
    """A row of the API's own types (decoded typed, not by the fallback), whose totals
    are none, the clients' exact sums, those sums with some counts raised, or any."""
    # Tokens known (the usual day), unpublished yet (today), or some of each.
    tokens = draw(st.sampled_from(["known", "known", "unknown", "mixed"]))
    token_values = {
        "known": st.integers(0, 10**9),
        "unknown": st.none(),
        "mixed": st.one_of(st.none(), st.integers(0, 10**9)),
    }[tokens]
    clients = [
        {
            "client_id": draw(st.sampled_from(["CODEX_CLI", "CODEX_WEB", "CODEX_NEW"])),
            "threads": draw(ints),
            "turns": draw(ints),
            "credits": draw(cents),
            **{name: draw(token_values) for name in TOKENS if tokens != "mixed" or draw(ints)},
        }
        for _ in range(draw(st.integers(0, 3)))
    ]
    summed = {
        name: sum(c[name] for c in clients)
        if all(c.get(name) is not None for c in clients)
        else None
        for name in (*COUNTS, *TOKENS)
    }
    kind = draw(st.sampled_from(["none", "sums", "raised", "any"]))
    totals = {
        "none": None,
        "sums": summed,
        "raised": {
            name: value + draw(st.sampled_from([0, 0, 1, 7])) if value is not None else None
            for name, value in summed.items()
        },
        "any": draw(count_objects().filter(lambda c: all(type(v) is not str for v in c.values()))),
    }[kind]
    if not clients and (totals is None or all(v is None for v in totals.values())):
        totals = {"threads": 1, "turns": 2, "credits": 0.5}
    user = f"user-{number}"
    value = {
        "start_time": _midnight(draw(st.sampled_from(WINDOW_DAYS))),
        "actor": {"user_id": user, "email": draw(st.sampled_from([None, f"P{number}@X.com"]))},
        "clients": clients,
    }
    if totals is not None:
        value["totals"] = totals
    return value


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(1, 8).flatmap(lambda n: st.tuples(*(typed_rows(i) for i in range(n)))))
def test_pages_of_the_api_types_read_typed_give_what_parse_rows_gives(rows):
    """The typed reading writes ApiCounts.stored and the remainder's fast path out by hand
    (rows.py: _api_row_records); it must agree with parse_rows record for record, on rows
    whose totals match their clients, exceed them, or leave tokens unknown."""
    decoded = decode_usage_page(json.dumps({"data": list(rows)}).encode())
    assert isinstance(decoded, ApiPage)
    page = usage_page(decoded, FIRST, LAST)
    parsed = parse_rows(list(rows), FIRST, LAST)
    assert (page.records, page.rejected) == (parsed.records, parsed.rejected)
    assert [list(map(type, r)) for r in page.records] == [
        list(map(type, r)) for r in parsed.records
    ]

"""Turn depth and cache share, derived once from stored counts: ratios of sums, no number
without a base, unknown where a count is."""

from __future__ import annotations

import datetime as dt

from factories import person, store_usage, usage

from sync.reports.metrics import METRICS, STAT_FIELDS, Stats
from sync.reports.periods import Period
from sync.reports.queries import stats_answer

TODAY = dt.date(2026, 11, 25)
WEEK = Period.ending_before(TODAY, 7)  # Nov 18 .. Nov 24


def day(offset_from_today: int) -> dt.date:
    return TODAY - dt.timedelta(days=offset_from_today)


def test_turn_depth_is_turns_per_thread_and_no_number_without_threads():
    assert Stats(threads=4, turns=10).turn_depth == 2.5
    assert Stats(threads=3, turns=0).turn_depth == 0.0  # threads without turns: a real 0
    assert Stats(threads=0, turns=3).turn_depth is None  # turns in threads begun earlier
    assert Stats().turn_depth is None
    # Unknown tokens (not published yet) leave turn depth known.
    assert Stats(threads=2, turns=5, input_tokens=None, tokens_pending=True).turn_depth == 2.5


def test_turn_depth_is_shown_but_never_stored_or_exported():
    assert "turn_depth" in [m.key for m in METRICS]
    assert [m.key for m in METRICS if m.ratio] == ["turn_depth", "cache_share"]
    assert "turn_depth" not in STAT_FIELDS and "cache_share" not in STAT_FIELDS
    assert "cached_input_tokens" in STAT_FIELDS  # stored and exported, not shown alone


def test_cache_share_is_cached_over_input_and_unknown_without_either():
    assert Stats(input_tokens=800, cached_input_tokens=200).cache_share == 0.25
    assert Stats(input_tokens=800, cached_input_tokens=0).cache_share == 0.0  # a real 0
    assert Stats(input_tokens=800, cached_input_tokens=None).cache_share is None
    assert Stats(input_tokens=None, cached_input_tokens=None).cache_share is None
    assert Stats(input_tokens=0, cached_input_tokens=0).cache_share is None  # nothing sent


def test_a_period_s_turn_depth_is_its_turns_over_its_threads_against_the_period_before(db):
    ada = person("ada@example.com")
    store_usage(
        [
            # This week: 10 turns over 4 threads = 2.5 (the days' own ratios average 3.7).
            usage("u-ada", day(1), "CODEX_CLI", email="ada@example.com", threads=1, turns=6),
            usage("u-ada", day(3), "CODEX_IDE_VSCODE", email="ada@example.com", threads=3, turns=4),
            # The week before: 3 turns over 2 threads = 1.5.
            usage("u-ada", day(9), "CODEX_CLI", email="ada@example.com", threads=2, turns=3),
        ],
    )
    answer = stats_answer(ada, WEEK)
    assert answer.current.totals.turn_depth == 2.5
    assert answer.previous.totals.turn_depth == 1.5
    assert answer.change("turn_depth") == (2.5 - 1.5) / 1.5
    assert answer.current.by_surface["CLI"].turn_depth == 6.0


def test_no_threads_in_either_period_gives_no_turn_depth_and_no_change(db):
    bo = person("bo@example.com")
    store_usage(
        [
            usage("u-bo", day(2), email="bo@example.com", threads=0, turns=4),
            usage("u-bo", day(10), email="bo@example.com", threads=0, turns=1, input_tokens=None),
        ],
    )
    answer = stats_answer(bo, WEEK)
    assert answer.current.totals.turns == 4
    assert answer.current.totals.turn_depth is None
    assert answer.previous.totals.turn_depth is None
    assert answer.change("turn_depth") is None


def test_a_first_period_with_threads_has_a_depth_but_no_change(db):
    cy = person("cy@example.com")
    store_usage(
        [
            usage("u-cy", day(2), email="cy@example.com", threads=2, turns=7, input_tokens=None),
            usage("u-cy", day(10), email="cy@example.com", threads=0, turns=2),
        ],
    )
    answer = stats_answer(cy, WEEK)
    assert answer.current.totals.turn_depth == 3.5
    assert answer.current.totals.input_tokens is None  # tokens unknown, depth known
    assert answer.change("turn_depth") is None  # no base to compare with


def test_stored_cached_tokens_sum_like_input_and_give_the_period_s_cache_share(db):
    di = person("di@example.com")
    mine = {"email": "di@example.com"}
    store_usage(
        [
            # This week: 900 of 1,500 input tokens cached = 60%, over two surfaces.
            usage("u-di", day(1), "CODEX_CLI", input_tokens=1000, cached_input_tokens=700, **mine),
            usage("u-di", day(2), "CODEX_WEB", input_tokens=500, cached_input_tokens=200, **mine),
            # Today's tokens are not published: they leave both sums alone.
            usage("u-di", day(0), input_tokens=None, output_tokens=None, **mine),
            # The week before: 300 of 1,000 = 30%.
            usage("u-di", day(9), input_tokens=1000, cached_input_tokens=300, **mine),
        ],
    )
    answer = stats_answer(di, Period.ending_before(TODAY + dt.timedelta(days=1), 7))
    totals = answer.current.totals
    assert (totals.input_tokens, totals.cached_input_tokens) == (1500, 900)
    assert totals.cache_share == 0.6 and totals.tokens_pending
    assert answer.previous.totals.cache_share == 0.3
    assert answer.change("cache_share") == (0.6 - 0.3) / 0.3
    assert answer.current.by_surface["CLI"].cache_share == 0.7


def test_one_row_without_cached_tokens_makes_the_period_s_cache_share_unknown(db):
    ed = person("ed@example.com")
    mine = {"email": "ed@example.com"}
    store_usage(
        [
            usage("u-ed", day(1), input_tokens=1000, cached_input_tokens=700, **mine),
            # Stored before schema v6 and not re-read since: its cached part is unknown.
            usage("u-ed", day(5), input_tokens=1000, cached_input_tokens=None, **mine),
            usage("u-ed", day(9), input_tokens=0, output_tokens=0, cached_input_tokens=0, **mine),
        ],
    )
    answer = stats_answer(ed, WEEK)
    assert answer.current.totals.input_tokens == 2000
    assert answer.current.totals.cached_input_tokens is None  # never 700 of 2,000
    assert answer.current.totals.cache_share is None
    # Nothing sent the week before: no share, and no change either way.
    assert answer.previous.totals.cached_input_tokens == 0
    assert answer.previous.totals.cache_share is None
    assert answer.change("cache_share") is None

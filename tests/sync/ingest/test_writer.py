"""The usage upsert on both engines: idempotent, overwriting, keeping unknown as unknown."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import WORKSPACE, usage, usage_dump

from sync.ingest.writer import (
    delete_unreported_usage,
    flush_staged_usage,
    prepare_page,
    stage_prepared,
    stage_usage,
    upsert_usage,
)
from sync.store.models import CodexUser, DailyUsage

DAY = dt.date(2026, 11, 2)


def test_upsert_twice_gives_the_same_table(db):
    records = [usage(f"u{i}", DAY, email=f"u{i}@example.com") for i in range(5)]
    upsert_usage(records, 1, WORKSPACE)
    first = usage_dump()
    upsert_usage(records, 2, WORKSPACE)
    assert usage_dump() == first
    assert len(first) == 5


def test_a_revised_day_overwrites_every_count(db):
    upsert_usage(
        [usage("u1", DAY, credits=1.0, input_tokens=None, output_tokens=None)], 1, WORKSPACE
    )
    revised = usage(
        "u1", DAY, threads=4, turns=9, credits=7.5, input_tokens=10, cached_input_tokens=4
    )
    upsert_usage([revised], 2, WORKSPACE)
    assert usage_dump() == [("u1", DAY, "CODEX_CLI", 4, 9, 7.5, 10, 50, 60, 4)]


def test_cached_tokens_are_written_and_a_re_read_replaces_them(db):
    upsert_usage([usage("u1", DAY, input_tokens=100, cached_input_tokens=30)], 1, WORKSPACE)
    assert DailyUsage.get().cached_input_tokens == 30
    upsert_usage([usage("u1", DAY, input_tokens=120, cached_input_tokens=90)], 2, WORKSPACE)
    assert (DailyUsage.get().input_tokens, DailyUsage.get().cached_input_tokens) == (120, 90)
    # A re-read that lacks it stores unknown, not the old figure: it would not add up.
    upsert_usage([usage("u1", DAY, input_tokens=None, cached_input_tokens=None)], 3, WORKSPACE)
    assert DailyUsage.get().cached_input_tokens is None


def test_null_tokens_are_stored_as_null_not_zero(db):
    upsert_usage([usage("u1", DAY, input_tokens=None, output_tokens=None)], 1, WORKSPACE)
    row = DailyUsage.get()
    assert (row.input_tokens, row.output_tokens, row.total_tokens) == (None, None, None)
    assert row.cached_input_tokens is None


def test_fractional_credits_survive(db):
    upsert_usage([usage("u1", DAY, credits=0.125)], 1, WORKSPACE)
    assert DailyUsage.get().credits == 0.125


def test_batches_larger_than_one_statement(db):
    # SQLite stages at most 1,024 records a statement: this page takes seven of those,
    # then one of each smaller size the writer makes.
    records = [
        usage(f"u{i % 40}", DAY - dt.timedelta(days=i // 40), "CODEX_WEB") for i in range(8_191)
    ]
    upsert_usage(records, 1, WORKSPACE)
    assert DailyUsage.select().count() == len(records)
    assert CodexUser.select().count() == 40


def test_a_withheld_email_does_not_erase_a_known_one(db):
    upsert_usage([usage("u1", DAY, email="dev@example.com")], 1, WORKSPACE)
    upsert_usage([usage("u1", DAY + dt.timedelta(days=1), email=None)], 2, WORKSPACE)
    assert CodexUser.get_by_id("u1").email == "dev@example.com"
    upsert_usage([usage("u1", DAY, email="new@example.com")], 3, WORKSPACE)
    assert CodexUser.get_by_id("u1").email == "new@example.com"


def test_unreported_rows_in_a_reread_window_are_dropped_and_others_kept(db):
    before = DAY - dt.timedelta(days=10)
    upsert_usage(
        [
            usage("u1", DAY, "CODEX_CLI"),
            usage("u1", DAY, "CODEX_WEB"),
            usage("u1", before, "CODEX_WEB"),
        ],
        1,
        WORKSPACE,
    )
    # Run 2 re-reads DAY only and no longer sees the web client that day.
    upsert_usage([usage("u1", DAY, "CODEX_CLI", credits=3.0)], 2, WORKSPACE)
    removed = delete_unreported_usage(WORKSPACE, DAY, DAY, 2)
    assert removed == 1
    assert [(r[1], r[2], r[5]) for r in usage_dump()] == [
        (before, "CODEX_WEB", 1.0),
        (DAY, "CODEX_CLI", 3.0),
    ]


def test_a_key_repeated_in_one_page_keeps_the_last_and_works_on_both_engines(db):
    upsert_usage(
        [usage("u1", DAY, credits=1.0), usage("u2", DAY), usage("u1", DAY, credits=2.0)],
        1,
        WORKSPACE,
    )
    assert [(r[0], r[5]) for r in usage_dump()] == [("u1", 2.0), ("u2", 1.0)]


def test_token_counts_beyond_32_bits_are_kept(db):
    huge = 5_000_000_000
    upsert_usage([usage("u1", DAY, input_tokens=huge, output_tokens=1)], 1, WORKSPACE)
    assert DailyUsage.get().input_tokens == huge
    assert DailyUsage.get().total_tokens == huge + 1


def test_usage_is_kept_per_workspace_and_the_unreported_drop_stays_in_its_own(db):
    other = "11111111-2222-3333-4444-555555555555"
    upsert_usage([usage("u1", DAY, "CODEX_CLI", credits=1.0)], 1, WORKSPACE)
    upsert_usage([usage("u1", DAY, "CODEX_CLI", credits=9.0)], 2, other)
    assert delete_unreported_usage(other, DAY, DAY, 3) == 1
    rows = DailyUsage.select(DailyUsage.workspace_id, DailyUsage.credits).tuples()
    assert list(rows) == [(WORKSPACE, 1.0)]


def test_text_from_the_api_is_stored_exactly_whatever_it_holds(db):
    # PostgreSQL's rows go through COPY's text format, where tabs, newlines and
    # backslashes are syntax and \N is null: each must come back as it went in.
    odd = ["tab\there", "new\nline\r", "back\\slash", "\\N", "N", "ünïcødé ✓", "None", " "]
    records = [
        usage(user_id, DAY, client_id, email=f"{n}\\x\t@example.com", credits=0.1 + n)
        for n, (user_id, client_id) in enumerate(zip(odd, reversed(odd), strict=True))
    ]
    upsert_usage(records, 1, WORKSPACE)
    stored = {(r[0], r[2]): r[5] for r in usage_dump()}
    assert stored == {(r.codex_user_id, r.client_id): r.credits for r in records}
    emails = {u.user_id: u.email for u in CodexUser.select()}
    assert emails == {r.codex_user_id: r.email for r in records}


def test_two_upserts_in_one_transaction_each_store_their_own_rows(db):
    # The temporary tables of the first are gone before the second makes its own.
    with db.atomic():
        upsert_usage([usage("u1", DAY, credits=1.0)], 1, WORKSPACE)
        upsert_usage([usage("u1", DAY, credits=2.0), usage("u2", DAY)], 1, WORKSPACE)
    assert [(r[0], r[5]) for r in usage_dump()] == [("u1", 2.0), ("u2", 1.0)]


@pytest.mark.parametrize("runs", [(1, 1, 1), (1, 2, 3)], ids=["one sync", "three syncs"])
def test_pages_staged_in_one_transaction_are_stored_as_pages_upserted_one_by_one(db, runs):
    # What a sync does with a transaction's pages: the last read of a key wins across
    # pages, and a later page withholding an email keeps the one an earlier page gave.
    # Pages of other syncs are staged apart (each row keeps the run that wrote it last).
    pages = [
        [usage("u1", DAY, credits=1.0, email="one@example.com"), usage("u2", DAY)],
        [usage("u1", DAY, credits=2.0), usage("u1", DAY, "CODEX_WEB", credits=5.0)],
        [usage("u2", DAY, credits=3.0, email="Two@Example.com"), usage("u1", DAY, credits=4.0)],
    ]

    def stored() -> tuple:
        written_by = DailyUsage.select(DailyUsage.codex_user_id, DailyUsage.sync_run).tuples()
        return usage_dump(), sorted(written_by), sorted(CodexUser.select().tuples())

    for run, page in zip(runs, pages, strict=True):
        upsert_usage(page, run, WORKSPACE)
    one_by_one = stored()
    DailyUsage.delete().execute()
    CodexUser.delete().execute()
    with db.atomic():
        for run, page in zip(runs, pages, strict=True):
            stage_usage(page, run, WORKSPACE)
        flush_staged_usage()
    assert stored() == one_by_one
    assert [(r[0], r[2], r[5]) for r in usage_dump()] == [
        ("u1", "CODEX_CLI", 4.0),
        ("u1", "CODEX_WEB", 5.0),
        ("u2", "CODEX_CLI", 3.0),
    ]
    assert CodexUser.get_by_id("u1").email == "one@example.com"


def test_staged_pages_of_a_transaction_that_rolls_back_leave_nothing(db):
    class Stop(Exception):
        pass

    with pytest.raises(Stop), db.atomic():
        stage_usage([usage("u1", DAY, email="one@example.com")], 1, WORKSPACE)
        raise Stop
    flush_staged_usage()  # finds nothing staged
    upsert_usage([usage("u2", DAY)], 2, WORKSPACE)
    assert [r[0] for r in usage_dump()] == ["u2"]
    assert [u.user_id for u in CodexUser.select()] == ["u2"]


@pytest.mark.parametrize(
    "credits", [0.1 + 0.2, 1 / 3, 2 / 3, 1e-7, 123456.789012345, 5e-324, 1.7976931348623157e308]
)
def test_credits_are_stored_to_the_last_bit(db, credits):
    # Each float must read back the same through staging, on both engines.
    upsert_usage([usage("u1", DAY, credits=credits)], 1, WORKSPACE)
    assert DailyUsage.get().credits == credits


def test_a_sync_writes_each_user_once_unless_their_email_changes(db):
    pages = [
        [usage("u1", DAY, email="one@example.com"), usage("u2", DAY)],
        [usage("u1", DAY + dt.timedelta(days=1)), usage("u2", DAY, email="two@example.com")],
        [usage("u1", DAY + dt.timedelta(days=2), email="ONE@example.com ")],
        [usage("u1", DAY + dt.timedelta(days=3), email="new@example.com")],
    ]
    for run, page in enumerate(pages, start=1):
        upsert_usage(page, run, WORKSPACE)
    one_by_one = usage_dump(), sorted(CodexUser.select().tuples())
    DailyUsage.delete().execute()
    CodexUser.delete().execute()

    users_written: dict = {}
    prepared = [prepare_page(page, run, WORKSPACE, users_written) for run, page in enumerate(pages)]
    with db.atomic():
        for page in prepared:
            stage_prepared(page)
        flush_staged_usage()
    assert (usage_dump(), sorted(CodexUser.select().tuples())) == one_by_one
    # The third page gives u1's email again (as stored: trimmed, lower-cased): nothing to
    # write; the second withholds it and gives u2's: only u2.
    assert [bool(page.users) for page in prepared] == [True, True, False, True]
    assert "u1" not in prepared[1].users and "u2" in prepared[1].users
    assert users_written == {"u1": "new@example.com", "u2": "two@example.com"}

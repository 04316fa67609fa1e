"""Whole syncs against the simulator over real loopback HTTP, on both engines."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from cryptography.fernet import Fernet
from factories import WORKSPACE, usage, usage_dump
from freezegun import freeze_time
from wording import raises_saying

from bot.rendering import words as worded
from sync.codex.connection import NotConnectedError, store_connection
from sync.codex.simulator import Simulator, write_org_csv
from sync.config import load_settings
from sync.ingest.job import PAGES_AHEAD, SyncFailedError, last_successful_sync, run_sync
from sync.ingest.writer import upsert_usage
from sync.notices import Notice
from sync.org.importer import import_org_csv
from sync.store.database import BULK_WRITE_CACHE_KIB
from sync.store.models import CodexUser, DailyUsage, SyncRun

NOW = "2026-11-25 10:30:00"
SECRET = Fernet.generate_key().decode()


@pytest.fixture
def sim():
    with freeze_time(NOW):
        simulator = Simulator(employees=40, days=90, seed=11, retry_after=0)
    simulator.start()
    yield simulator
    simulator.stop()


def settings_for(sim, **codex):
    settings = load_settings(None, environ={"CODEXBOT_SECRET_KEY": SECRET})
    settings.codex.api_base_url = sim.base_url
    settings.codex.page_size = codex.pop("page_size", 97)
    for key, value in codex.items():
        setattr(settings.codex, key, value)
    return settings


def connect(sim):
    store_connection(sim.workspace_id, sim.api_key, SECRET)


def no_sleep(seconds):
    pass


@freeze_time(NOW)
def test_first_sync_backfills_90_days_then_later_syncs_reread_the_trailing_window(db, sim):
    connect(sim)
    settings = settings_for(sim)
    first = run_sync(settings)
    assert (first.window_start, first.window_end) == (dt.date(2026, 8, 28), dt.date(2026, 11, 25))
    assert first.outcome == SyncRun.OUTCOME_OK and first.rows > 1000
    assert first.pages == len(sim.request_log) > 10  # every page fetched once, none skipped
    assert DailyUsage.select().count() == first.rows
    second = run_sync(settings)
    assert (second.window_start, second.window_end) == (
        dt.date(2026, 11, 21),
        dt.date(2026, 11, 25),
    )
    assert last_successful_sync().id == second.id


@freeze_time(NOW)
def test_two_syncs_and_an_overlapping_resync_give_identical_tables(db, sim):
    connect(sim)
    settings = settings_for(sim)
    run_sync(settings, days=30)
    once = usage_dump()
    run_sync(settings, days=30)
    assert usage_dump() == once
    run_sync(settings, days=10)
    assert usage_dump() == once
    # Today's rows carry no tokens yet: unknown, not zero.
    today_rows = [row for row in once if row[1] == dt.date(2026, 11, 25)]
    assert today_rows and all(row[6] is None and row[8] is None for row in today_rows)


@freeze_time(NOW)
def test_rows_the_api_no_longer_reports_go_and_a_window_that_held_none_skips_the_scan(
    db, sim, caplog
):
    connect(sim)
    settings = settings_for(sim)
    caplog.set_level(logging.DEBUG, logger="peewee")  # peewee logs each query it runs

    def usage_deleted() -> bool:
        queries = [record.getMessage() for record in caplog.records]
        return any("DELETE" in sql and "daily_usage" in sql for sql in queries)

    run_sync(settings, days=10)  # a first backfill: nothing stored before it
    assert not usage_deleted()
    synced = usage_dump()
    # A row of the window the API does not report, as a revised day leaves behind.
    upsert_usage([usage("user-gone", dt.date(2026, 11, 20))], None, sim.workspace_id)
    caplog.clear()
    run_sync(settings, days=10)
    assert usage_deleted()
    assert usage_dump() == synced


@freeze_time(NOW)
def test_a_flaky_api_gives_the_same_tables_as_a_clean_one(db, sim):
    connect(sim)
    run_sync(settings_for(sim), days=20)
    clean = usage_dump()
    DailyUsage.delete().execute()
    sim.request_log.clear()
    sim.fail_rate = 0.4
    run = run_sync(settings_for(sim, max_attempts=20, page_size=31), days=20, sleep=no_sleep)
    assert run.outcome == SyncRun.OUTCOME_OK
    assert usage_dump() == clean
    statuses = [status for _, _, status in sim.request_log]
    assert {429, 500} <= set(statuses)
    # Truncated bodies come back as 200s: more 200s than pages means they were retried too.
    assert statuses.count(200) > run.pages


@freeze_time(NOW)
def test_a_failure_midway_keeps_every_page_already_stored(db, sim):
    connect(sim)
    run_sync(settings_for(sim), days=20)
    complete = usage_dump()
    DailyUsage.delete().execute()
    pages_served = 0
    original = sim.handle

    def fail_after_three_pages(path, authorization):
        nonlocal pages_served
        pages_served += 1
        if pages_served > 3:
            return 500, b'{"error": "down"}', {"Content-Type": "application/json"}
        return original(path, authorization)

    sim.handle = fail_after_three_pages
    with pytest.raises(SyncFailedError) as failed:
        run_sync(settings_for(sim, max_attempts=2), days=20, sleep=no_sleep)
    run = SyncRun.get_by_id(failed.value.run.id)
    assert run.outcome == SyncRun.OUTCOME_FAILED
    assert "could not be reached" in worded(Notice.from_stored(run.error))
    assert run.pages == 3
    stored = usage_dump()
    assert len(stored) == run.rows > 0
    assert set(stored) <= set(complete)
    # The next sync picks up where the API left off, with nothing doubled.
    sim.handle = original
    run_sync(settings_for(sim), days=20)
    assert usage_dump() == complete


@freeze_time(NOW)
def test_a_revoked_key_fails_readably_and_keeps_the_data(db, sim):
    connect(sim)
    run_sync(settings_for(sim), days=5)
    stored = usage_dump()
    store_connection(sim.workspace_id, "sk-revoked-key-0000", SECRET)
    with raises_saying(SyncFailedError, "That API key was rejected"):
        run_sync(settings_for(sim), days=5)
    assert usage_dump() == stored
    assert SyncRun.select().order_by(SyncRun.id.desc()).first().outcome == SyncRun.OUTCOME_FAILED


def test_sync_without_a_connection_says_how_to_connect(db, sim):
    with raises_saying(NotConnectedError, "codexbot connect"):
        run_sync(settings_for(sim))


@freeze_time(NOW)
def test_a_run_left_running_by_a_dead_process_is_recorded_as_interrupted(db, sim):
    connect(sim)
    dead = SyncRun.create(
        started_at=dt.datetime(2026, 11, 25, 9),
        window_start=dt.date(2026, 11, 20),
        window_end=dt.date(2026, 11, 25),
    )
    run_sync(settings_for(sim), days=2)
    assert SyncRun.get_by_id(dead.id).outcome == SyncRun.OUTCOME_INTERRUPTED


@freeze_time(NOW)
def test_unmatched_users_are_counted_after_import(db, sim, tmp_path):
    write_org_csv(sim.org, tmp_path / "org.csv")
    import_org_csv(tmp_path / "org.csv")
    connect(sim)
    run = run_sync(settings_for(sim), days=30)
    expected = {account.user_id for account in sim.org.accounts if not account.matchable}
    seen = {user.user_id for user in CodexUser.select()}
    assert run.unmatched_users == len(expected & seen) > 0


@freeze_time(NOW)
def test_a_second_sync_while_one_runs_elsewhere_is_refused_and_touches_nothing(db, sim):
    from sync.ingest.job import SyncAlreadyRunningError
    from sync.store.claims import try_claim

    connect(sim)
    run_sync(settings_for(sim), days=3)
    stored = usage_dump()
    alive = SyncRun.create(
        started_at=dt.datetime(2026, 11, 25, 10),
        window_start=dt.date(2026, 11, 23),
        window_end=dt.date(2026, 11, 25),
    )
    assert try_claim("sync", "another-replica", 300)  # that replica's sync is running
    with pytest.raises(SyncAlreadyRunningError):
        run_sync(settings_for(sim), days=3)
    assert usage_dump() == stored
    assert SyncRun.get_by_id(alive.id).outcome == SyncRun.OUTCOME_RUNNING  # not "interrupted"


@freeze_time(NOW)
def test_retention_deletes_older_usage_and_access_log_after_a_sync(db, sim):
    from factories import person, usage

    from sync.ingest.writer import upsert_usage
    from sync.store.models import AccessLog

    connect(sim)
    old_day = dt.date(2025, 1, 1)
    upsert_usage([usage("u-old", old_day, email="old@example.com")], None, WORKSPACE)
    viewer, target = person("v@example.com"), person("t@example.com")
    AccessLog.create(viewer=viewer, target=target, surface="cli", viewed_at=dt.datetime(2026, 1, 1))
    AccessLog.create(
        viewer=viewer, target=target, surface="cli", viewed_at=dt.datetime(2026, 11, 20)
    )
    settings = settings_for(sim)
    run_sync(settings, days=2)  # retention unset: everything stays
    assert DailyUsage.select().where(DailyUsage.day == old_day).count() == 1
    assert AccessLog.select().count() == 2
    settings.retention.usage_days = 365
    settings.retention.access_log_days = 90
    run_sync(settings, days=2)
    assert DailyUsage.select().where(DailyUsage.day == old_day).count() == 0
    assert DailyUsage.select().where(DailyUsage.day >= dt.date(2026, 11, 24)).count() > 0
    assert [r.viewed_at for r in AccessLog.select()] == [dt.datetime(2026, 11, 20)]


@freeze_time(NOW)
def test_the_next_pages_are_fetched_while_one_is_being_stored_and_no_more(db, sim):
    connect(sim)
    enough_requested = threading.Event()
    original = sim.handle
    requests = []

    def handle(path, authorization):
        requests.append(path)
        if len(requests) == 1 + PAGES_AHEAD:
            enough_requested.set()
        return original(path, authorization)

    sim.handle = handle
    seen = []

    def progress(run, latest_day):
        if run.pages == 1:  # the first page is stored: the next ones are on their way
            seen.append((enough_requested.wait(10), len(requests)))

    settings = settings_for(sim)
    settings.sync.transaction_rows = 1  # a commit, and a progress call, for each page
    run = run_sync(settings, days=20, progress=progress)
    # While the first page is stored, PAGES_AHEAD more wait for it, and not one more:
    # memory stays bounded however fast the API answers.
    assert seen == [(True, 1 + PAGES_AHEAD)] and run.pages > 1 + PAGES_AHEAD
    assert run.pages == len(requests)  # none fetched twice


@freeze_time(NOW)
def test_pages_are_committed_together_up_to_the_transaction_rows(db, sim):
    connect(sim)
    settings = settings_for(sim, page_size=10)
    settings.sync.transaction_rows = 1
    run_sync(settings, days=20)
    page_by_page = usage_dump()
    DailyUsage.delete().execute()
    commits = []

    def progress(run, latest_day):
        # Told after each commit, with the counts that commit saved alongside its rows.
        stored = SyncRun.get_by_id(run.id)
        commits.append((stored.pages, stored.rows, DailyUsage.select().count()))

    settings.sync.transaction_rows = 40  # a few of the 10-row pages
    run = run_sync(settings, days=20, progress=progress)
    assert usage_dump() == page_by_page
    assert 2 < len(commits) < run.pages
    assert [pages for pages, _, _ in commits] == sorted({pages for pages, _, _ in commits})
    assert all(rows == stored for _, rows, stored in commits)
    assert commits[-1][:2] == (run.pages, run.rows)


@freeze_time(NOW)
def test_a_sync_writes_through_a_larger_sqlite_cache_then_gives_it_back(sqlite_db, sim):
    connect(sim)

    def cache_kib():
        (size,) = sqlite_db.execute_sql("PRAGMA cache_size").fetchone()
        return -size  # negative: KiB

    before = cache_kib()
    during = []
    run_sync(settings_for(sim), days=5, progress=lambda run, day: during.append(cache_kib()))
    assert during and set(during) == {BULK_WRITE_CACHE_KIB} != before
    assert cache_kib() == before

"""The coverage ledger and workspace histories, through whole syncs against the simulator
over loopback, on both engines: outages are filled in, gaps are said, a new workspace
starts its own history, a sync that runs too long stops."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from cryptography.fernet import Fernet
from freezegun import freeze_time

from bot.rendering import render
from sync.codex.connection import store_connection
from sync.codex.simulator import Simulator, write_org_csv
from sync.config import load_settings
from sync.ingest.job import first_day_to_read, run_sync
from sync.org.importer import import_org_csv
from sync.reports.answers import ask_stats_by_email, status_now
from sync.reports.periods import Period
from sync.store.claims import try_claim
from sync.store.models import DailyUsage, SyncedDay, SyncRun
from sync.store.workspaces import current_workspace_id, forget_workspace

SECRET = Fernet.generate_key().decode()
START = dt.datetime(2026, 11, 2, 10, 30)


def simulator(seed: int) -> Simulator:
    return Simulator(employees=30, days=90, seed=seed, retry_after=0)


@pytest.fixture
def sim(tmp_path):
    with simulator(11) as running:
        write_org_csv(running.org, tmp_path / "org.csv")
        yield running


def settings_for(sim, **sync):
    settings = load_settings(None, environ={"CODEXBOT_SECRET_KEY": SECRET})
    settings.codex.api_base_url = sim.base_url
    settings.codex.page_size = 500
    for key, value in sync.items():
        setattr(settings.sync, key, value)
    return settings


def synced(workspace_id: str) -> set[dt.date]:
    query = SyncedDay.select(SyncedDay.day).where(SyncedDay.workspace_id == workspace_id)
    return {d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for (d,) in query.tuples()}


def days_between(first: dt.date, last: dt.date) -> set[dt.date]:
    return {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}


def stored_days(workspace_id: str) -> set[dt.date]:
    query = DailyUsage.select(DailyUsage.day).where(DailyUsage.workspace_id == workspace_id)
    return {d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for (d,) in query.tuples()}


def test_an_outage_longer_than_the_trailing_window_is_filled_in_by_the_next_sync(db, sim):
    store_connection(sim.workspace_id, sim.api_key, SECRET)
    settings = settings_for(sim, backfill_days=20, trailing_days=5)
    with freeze_time(START) as clock:
        first = run_sync(settings)
        assert first.window_start == dt.date(2026, 10, 14)  # the 20-day backfill
        clock.move_to(START + dt.timedelta(days=10))  # the bot was down for 10 days
        today = dt.date(2026, 11, 12)
        # Not just the trailing 5 days: from the first day never synced.
        assert first_day_to_read(sim.workspace_id, settings, today) == dt.date(2026, 11, 2)
        second = run_sync(settings)
    assert second.window_start == dt.date(2026, 11, 2)
    # Every complete day from the backfill's first to yesterday is synced, none missing.
    assert synced(sim.workspace_id) == days_between(dt.date(2026, 10, 14), dt.date(2026, 11, 11))
    assert days_between(dt.date(2026, 11, 2), dt.date(2026, 11, 11)) <= stored_days(
        sim.workspace_id
    )


def test_days_the_api_no_longer_serves_are_a_gap_every_answer_says(db, sim, tmp_path):
    import_org_csv(tmp_path / "org.csv")
    store_connection(sim.workspace_id, sim.api_key, SECRET)
    settings = settings_for(sim, backfill_days=10)
    manager = next(p for p in sim.org.people if p.manager_email is None and not p.archived_on)
    with freeze_time(START) as clock:
        run_sync(settings)
        clock.move_to(START + dt.timedelta(days=100))  # down for longer than the API keeps
        run_sync(settings)
        today = dt.date(2027, 2, 10)
        # The sync read what it still could: 90 days back.
        assert SyncRun.select().order_by(SyncRun.id.desc()).get().window_start == dt.date(
            2026, 11, 13
        )
        answer = ask_stats_by_email(manager.email, manager.email, 90, today)
    assert answer is not None
    assert answer.current.missing == [(dt.date(2026, 11, 12), dt.date(2026, 11, 12))]
    assert answer.previous.missing == [
        (dt.date(2026, 8, 14), dt.date(2026, 10, 23)),  # before the first backfill
        (dt.date(2026, 11, 2), dt.date(2026, 11, 11)),  # the outage's lost days
    ]
    text = render("stats.txt.j2", answer=answer)
    assert "No data for 12 Nov in this period" in text
    assert "The period before has no data for 14 Aug – 23 Oct, 2–11 Nov" in text
    # The status shows the gap in the last 90 days too.
    with freeze_time(START + dt.timedelta(days=100)):
        assert status_now(settings).missing == [(dt.date(2026, 11, 12), dt.date(2026, 11, 12))]


def test_a_new_workspace_starts_its_own_history_and_answers_read_only_it(db, tmp_path):
    with simulator(11) as first, simulator(12) as second, freeze_time(START) as clock:
        assert first.workspace_id != second.workspace_id
        write_org_csv(first.org, tmp_path / "org.csv")
        import_org_csv(tmp_path / "org.csv")
        store_connection(first.workspace_id, first.api_key, SECRET)
        run_sync(settings_for(first, backfill_days=30))
        first_rows = DailyUsage.select().where(DailyUsage.workspace_id == first.workspace_id)
        kept = first_rows.count()
        # The busiest person of the first workspace; the second org is other people.
        busiest = max(
            (p for p in first.org.people if p.archived_on is None),
            key=lambda p: (
                ask_stats_by_email(
                    p.email, p.email, 30, dt.date(2026, 11, 3)
                ).current.totals.credits
            ),
        )
        before_switch = ask_stats_by_email(busiest.email, busiest.email, 30, dt.date(2026, 11, 3))
        assert before_switch.current.totals.credits > 0
        clock.tick(dt.timedelta(days=1))
        store_connection(second.workspace_id, second.api_key, SECRET)
        settings = settings_for(second, backfill_days=30, trailing_days=5)
        assert current_workspace_id() == second.workspace_id
        run = run_sync(settings)
        # Not the trailing window: the new workspace's first sync is a full backfill.
        assert run.window_start == dt.date(2026, 10, 5)
        assert first_rows.count() == kept > 0  # the old history is kept, apart
        assert len(synced(first.workspace_id)) == 29
        status = status_now(settings)
        assert status.previous_workspace == first.workspace_id
        assert status.workspace_since == dt.datetime(2026, 11, 3, 10, 30)
        # Answers read the new workspace only: the old one's usage is not shown as current.
        after = ask_stats_by_email(busiest.email, busiest.email, 30, dt.date(2026, 11, 3))
        assert after.current.totals.credits == 0
        assert not after.has_codex_account  # seen only in the old workspace: said so
        # Forgetting the old workspace deletes its usage, and only its.
        new_rows = DailyUsage.select().where(DailyUsage.workspace_id == second.workspace_id)
        before = new_rows.count()
        assert forget_workspace(first.workspace_id) == kept
        assert stored_days(first.workspace_id) == set() and synced(first.workspace_id) == set()
        assert new_rows.count() == before > 0


def endless_pages(request: httpx.Request) -> httpx.Response:
    """A server that always has more: a new token on every page, for ever."""
    page = int(request.url.params.get("page", "0"))
    return httpx.Response(200, json={"data": [], "has_more": True, "next_page": str(page + 1)})


def test_a_sync_ends_at_its_deadline_keeps_what_it_read_and_frees_the_lease(db, sim):
    store_connection(sim.workspace_id, sim.api_key, SECRET)
    settings = settings_for(sim, deadline_minutes=0.5)
    ticks = iter(range(0, 10_000, 7))  # every look at the clock is 7 s later: pages take time

    with freeze_time(START):
        run = run_sync(
            settings,
            transport=httpx.MockTransport(endless_pages),
            monotonic=lambda: float(next(ticks)),
        )
        assert run.outcome == SyncRun.OUTCOME_TIMED_OUT
        assert 1 <= run.pages < 10  # it read for 30 s of its clock, then stopped
        assert "30-minute" not in (run.error or "") and json.loads(run.error)["kind"] == (
            "sync_deadline"
        )
        assert synced(sim.workspace_id) == set()  # a timed-out window is not complete
        assert try_claim("sync", "another-replica", 60)  # the lease is free at once


def test_rejected_rows_are_counted_on_the_run_and_shown_in_the_status(db, sim):
    store_connection(sim.workspace_id, sim.api_key, SECRET)
    day = int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp())
    rows = [
        {"start_time": day, "end_time": day + 86400, "user_id": "u1", "totals": {"credits": 1}},
        {"start_time": day, "end_time": day + 86400, "user_id": "u2", "totals": {"credits": -5}},
        {"start_time": day, "end_time": day + 7 * 86400, "user_id": "u3", "totals": {}},
        {"start_time": day, "end_time": day + 86400, "user_id": None, "totals": {"credits": 9}},
    ]

    def page(request):
        return httpx.Response(200, json={"data": rows, "has_more": False})

    with freeze_time(START):
        settings = settings_for(sim)
        run = run_sync(settings, transport=httpx.MockTransport(page))
        status = status_now(settings)
    assert run.outcome == SyncRun.OUTCOME_OK and run.rows == 1
    assert json.loads(run.rejected) == {"negative_count": 1, "no_user": 1, "not_one_day": 1}
    text = render("status.txt.j2", status=status)
    assert "3 rows not stored: 1 with a negative count, 1 without a user, 1 not one UTC day" in text


def test_the_window_never_reaches_past_what_the_api_serves(db, sim):
    store_connection(sim.workspace_id, sim.api_key, SECRET)
    settings = settings_for(sim)
    today = dt.date(2026, 11, 2)
    horizon = Period.ending_before(today + dt.timedelta(days=1), 90).first_day
    assert first_day_to_read(sim.workspace_id, settings, today) == horizon
    assert first_day_to_read(sim.workspace_id, settings, today, days=3) == dt.date(2026, 10, 31)

"""The scheduler's jobs on a shared database (SQLite here, PostgreSQL too in CI)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.fernet import Fernet
from factories import person, record_sync
from freezegun import freeze_time
from slack_requests import bot_settings

from bot.rendering import words
from bot.scheduler import Scheduler
from bot.server import health
from bot.slack import web_client
from sync.codex.connection import store_connection
from sync.notices import Notice
from sync.reports.adoption_rollups import Bounds, Window, compute, rolled_up
from sync.reports.periods import Period
from sync.store.models import AdoptionRollup, Connection, SyncRun
from sync.store.rollups import usage_revision

SECRET = Fernet.generate_key().decode()
START = dt.datetime(2026, 11, 25, 10, 0, 0)


@pytest.fixture
def shared_settings(db, simulator, slack):
    settings = bot_settings(slack, simulator.base_url, SECRET)
    settings.sync.backfill_days = 3
    settings.digest.enabled = False
    return settings


def two_replicas(settings):
    return [Scheduler(settings, web_client(settings), holder) for holder in ("a", "b")]


def test_two_schedulers_run_exactly_one_sync_per_interval(shared_settings, simulator):
    store_connection(simulator.workspace_id, simulator.api_key, SECRET)
    with freeze_time(START) as clock:
        replicas = two_replicas(shared_settings)
        for _minute in range(0, 181):  # three hours of ticks on both replicas
            for replica in replicas:
                replica.sync_tick()
            clock.tick(dt.timedelta(minutes=1))
    starts = [run.started_at for run in SyncRun.select().order_by(SyncRun.started_at)]
    assert starts == [START + dt.timedelta(minutes=60 * n) for n in range(4)]
    assert {run.outcome for run in SyncRun.select()} == {"ok"}


def test_the_schedule_library_ticks_every_minute_and_the_interval_holds(shared_settings, simulator):
    store_connection(simulator.workspace_id, simulator.api_key, SECRET)
    with freeze_time(START) as clock:
        replica = Scheduler(shared_settings, web_client(shared_settings), "solo")
        replica.jobs.run_all()  # start-up: a sync, since one is due
        assert SyncRun.select().count() == 1
        for _ in range(59):
            clock.tick(dt.timedelta(minutes=1))
            replica.run_pending()
        assert SyncRun.select().count() == 1
        clock.tick(dt.timedelta(minutes=1))
        replica.run_pending()
        assert SyncRun.select().count() == 2


def test_nothing_runs_without_a_connection(shared_settings):
    with freeze_time(START):
        Scheduler(shared_settings, web_client(shared_settings), "a").sync_tick()
    assert SyncRun.select().count() == 0


def test_a_rejected_key_pauses_syncs_and_alerts_admins_once(shared_settings, simulator, slack):
    admin = person("admin@example.com", "Ada Admin", role="admin")
    admin.slack_user_id = "UADMIN"
    admin.save()
    shared_settings.slack.admin_emails = ["config.admin@example.com"]
    slack.add_user("UCONFIG", "config.admin@example.com")
    store_connection(simulator.workspace_id, "sk-revoked-0000000000", SECRET)
    with freeze_time(START) as clock:
        replicas = two_replicas(shared_settings)
        for _ in range(3):
            for replica in replicas:
                replica.sync_tick()
            clock.tick(dt.timedelta(hours=1))
    assert SyncRun.select().count() == 1  # no retries until the connection changes
    assert "API key was rejected" in words(Notice.from_stored(Connection.get().sync_paused_reason))
    alerts = slack.calls_to("chat.postMessage")
    assert sorted(a.params["channel"] for a in alerts) == ["DUADMIN", "DUCONFIG"]
    text = alerts[0].params["text"]
    assert "/codex connect" in text and "No data was lost" in text
    assert "sk-revoked" not in str([c.params for c in slack.calls])
    # Reconnecting with a working key clears the pause; the next tick syncs.
    store_connection(simulator.workspace_id, simulator.api_key, SECRET)
    with freeze_time(START + dt.timedelta(hours=4)):
        replicas[0].sync_tick()
    assert SyncRun.select().order_by(SyncRun.id.desc()).first().outcome == "ok"


def test_a_refused_org_file_is_told_to_the_admins_once(shared_settings, simulator, slack, tmp_path):
    admin = person("admin@example.com", "Ada Admin", role="admin")
    admin.slack_user_id = "UADMIN"
    admin.save()
    source = tmp_path / "people.csv"
    source.write_text(  # a manager chain that loops
        "email,name,manager_email\n"
        "dev@example.com,Dev One,lead@example.com\n"
        "lead@example.com,Lee Lead,dev@example.com\n"
    )
    shared_settings.org.source = str(source)
    store_connection(simulator.workspace_id, simulator.api_key, SECRET)
    with freeze_time(START) as clock:
        replicas = two_replicas(shared_settings)
        for _ in range(3):  # three syncs, one an hour, on two replicas
            for replica in replicas:
                replica.sync_tick()
            clock.tick(dt.timedelta(hours=1))
    assert SyncRun.select().count() == 3
    alerts = slack.calls_to("chat.postMessage")
    assert [a.params["channel"] for a in alerts] == ["DUADMIN"]
    text = alerts[0].params["text"]
    assert text.startswith(f"codexbot refused the org file {source}, so the directory did not")
    # Escaped for mrkdwn, as Slack must get a ">".
    assert "1 problem (line 2: the manager chain loops: dev@example.com -&gt; lead" in text
    assert f"codexbot org import --dry-run {source}" in text


def test_a_transient_failure_is_retried_next_interval_without_alerts(
    shared_settings, simulator, slack
):
    store_connection(simulator.workspace_id, simulator.api_key, SECRET)
    shared_settings.codex.max_attempts = 1
    simulator.fail_rate = 1.0
    try:
        with freeze_time(START) as clock:
            replica = Scheduler(shared_settings, web_client(shared_settings), "a")
            replica.sync_tick()
            simulator.fail_rate = 0.0
            clock.tick(dt.timedelta(minutes=30))
            replica.sync_tick()
            assert SyncRun.select().count() == 1  # not due yet
            clock.tick(dt.timedelta(minutes=30))
            replica.sync_tick()
    finally:
        simulator.fail_rate = 0.0
    assert [r.outcome for r in SyncRun.select().order_by(SyncRun.id)] == ["failed", "ok"]
    assert Connection.get().sync_paused_reason is None
    assert slack.calls_to("chat.postMessage") == []


def test_a_failing_job_is_logged_and_the_other_jobs_still_run(
    shared_settings, simulator, slack, caplog
):
    boss = person("boss@example.com", "Boss")
    person("report@example.com", "Report", manager=boss)
    boss.slack_user_id = "UBOSS"
    boss.save()
    slack.add_user("UBOSS", "boss@example.com", tz="UTC")
    shared_settings.digest.enabled = True

    def broken_job():
        raise RuntimeError("a bug in some job")

    with freeze_time("2026-11-30 09:30:00"):  # a Monday, 09:30 UTC: the digest is due
        record_sync()  # on a synced week
        replica = Scheduler(shared_settings, web_client(shared_settings), "a")
        # Moved first, so it fails before the sync and digest jobs run.
        job = replica.jobs.every(1).minutes.do(Scheduler._guarded(broken_job))
        replica.jobs.jobs.remove(job)
        replica.jobs.jobs.insert(0, job)
        replica.jobs.run_all()  # raises nothing
    assert "scheduled job broken_job failed" in caplog.text
    assert [c.params["channel"] for c in slack.calls_to("chat.postMessage")] == ["DUBOSS"]
    assert all(job.next_run for job in replica.jobs.get_jobs())


def test_an_admin_leaving_next_month_is_still_alerted_one_who_left_is_not(
    shared_settings, simulator, slack
):
    leaving = person("leaving@example.com", "Lee Leaving", role="admin")
    leaving.archived_on = START.date() + dt.timedelta(days=30)  # still here until then
    left = person("left@example.com", "Lou Left", role="admin")
    left.archived_on = START.date() - dt.timedelta(days=1)
    for employee, slack_id in ((leaving, "ULEAVING"), (left, "ULEFT")):
        employee.slack_user_id = slack_id
        employee.save()
    store_connection(simulator.workspace_id, "sk-revoked-0000000000", SECRET)
    with freeze_time(START):
        Scheduler(shared_settings, web_client(shared_settings), "a").sync_tick()
    alerts = slack.calls_to("chat.postMessage")
    assert [a.params["channel"] for a in alerts] == ["DULEAVING"]


def test_a_replica_without_the_secret_leaves_syncing_to_the_others_and_pauses_nothing(
    shared_settings, simulator, slack
):
    store_connection(simulator.workspace_id, simulator.api_key, SECRET)
    keyless = shared_settings.model_copy(deep=True)
    keyless.security.secret_key = None
    with freeze_time(START) as clock:
        lost = Scheduler(keyless, web_client(keyless), "no-secret")
        lost.sync_tick()
        assert SyncRun.select().count() == 0
        assert lost.sync_skipped_because.kind == "missing_secret_key"
        assert Connection.get().sync_paused_reason is None  # the others go on
        able = Scheduler(shared_settings, web_client(shared_settings), "with-secret")
        able.sync_tick()
        assert SyncRun.get().outcome == "ok"
        clock.tick(dt.timedelta(hours=1))
        lost.sync_tick()  # still skipping, still pausing nothing, telling nobody
    assert Connection.get().sync_paused_reason is None
    assert slack.calls_to("chat.postMessage") == []
    # Its /healthz says why it does not sync; the others' say nothing of the kind.
    assert "No secret key to encrypt the API key with" in health(lost)[1]["this_replica"]
    assert "this_replica" not in health(able)[1]


def test_a_sync_leaves_the_common_adoption_windows_rolled_up_and_a_tick_without_one_none(
    shared_settings, simulator
):
    store_connection(simulator.workspace_id, simulator.api_key, SECRET)
    with freeze_time(START) as clock:
        replica = Scheduler(shared_settings, web_client(shared_settings), "solo")
        replica.sync_tick()
        # 7, 30 and 90 days (the digest's 7 among them), at the revision the sync left.
        built = {(r.id, r.first, r.revision) for r in AdoptionRollup.select()}
        assert len(built) == 3 and {revision for *_, revision in built} == {usage_revision()}
        today = START.date()
        for days in (7, 30, 90):
            period = Period.ending_before(today, days)
            bounds = Bounds.of(period, shared_settings.adoption.idle_days)
            window = Window(simulator.workspace_id, bounds, period.last_day)
            stored = rolled_up(window, None)
            assert stored is not None and stored.lines  # the simulator's usage, summed
            assert sorted(stored.lines) == sorted(compute([window])[0].sums.lines)
        clock.tick(dt.timedelta(minutes=1))
        replica.sync_tick()  # no sync due: nothing built
        assert {(r.id, r.first, r.revision) for r in AdoptionRollup.select()} == built

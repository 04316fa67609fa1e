"""Digest delivery: the right local time, once per manager and period, whatever happens."""

from __future__ import annotations

import datetime as dt
import gc

import pytest
from factories import person, record_sync, store_usage, usage
from freezegun import freeze_time
from slack_requests import SleepRecorder

from bot.digests import DigestDeliverer
from bot.slack import web_client
from sync.config import DigestSettings
from sync.reports.schedules import WeeklySlot, digest_period_end
from sync.store.claims import try_claim
from sync.store.models import DigestDelivery, Employee

MONDAY_9 = WeeklySlot.default(DigestSettings())  # monday 09:00


@pytest.mark.parametrize(
    ("utc", "zone", "due_for"),
    [
        # New York, after the switch back to EST on Sunday 2026-11-01: 09:00 is 14:00 UTC.
        ("2026-11-02 13:59", "America/New_York", None),
        ("2026-11-02 14:00", "America/New_York", dt.date(2026, 11, 1)),
        # The Monday before, still on EDT: 09:00 is 13:00 UTC.
        ("2026-10-26 13:00", "America/New_York", dt.date(2026, 10, 25)),
        ("2026-10-26 12:59", "America/New_York", None),
        # Kolkata is UTC+5:30; Auckland is already Monday on Sunday evening UTC.
        ("2026-11-02 03:30", "Asia/Kolkata", dt.date(2026, 11, 1)),
        ("2026-11-01 20:00", "Pacific/Auckland", dt.date(2026, 11, 1)),
        ("2026-11-01 19:59", "Pacific/Auckland", None),
        # Later the same day still counts (a restart at 11:00 still sends), Tuesday not.
        ("2026-11-02 22:59", "Europe/Berlin", dt.date(2026, 11, 1)),
        ("2026-11-03 09:00", "Europe/Berlin", None),
    ],
)
def test_digests_fall_due_at_nine_local_time_across_zones_and_dst(utc, zone, due_for):
    from zoneinfo import ZoneInfo

    now = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC)
    assert digest_period_end(now.astimezone(ZoneInfo(zone)), MONDAY_9) == due_for


@pytest.fixture
def team(sqlite_db, slack):
    """Max manages three people, Ben manages Dee, Cleo manages Max. Max's time zone comes
    from the directory, Ben's from Slack, Cleo's from the directory again."""
    cleo = person("cleo@example.com", "Cleo Chief")
    max_ = person("max@example.com", "Max Manager", manager=cleo)
    ana = person("ana@example.com", "Ana Steady", manager=max_)
    ben = person("ben@example.com", "Ben Busy", manager=max_)
    cy = person("cy@example.com", "Cy Quiet", manager=max_)
    dee = person("dee@example.com", "Dee Deep", manager=ben)  # skip-level for Max
    for employee, tz in ((cleo, "Pacific/Honolulu"), (max_, "America/New_York")):
        employee.timezone = tz
    for employee in (cleo, max_, ana, ben, cy, dee):
        employee.slack_user_id = "U" + employee.email.split("@")[0].upper()
        employee.save()
        slack_tz = "America/Chicago" if employee is ben else "Europe/Berlin"
        slack.add_user(employee.slack_user_id, employee.email, tz=slack_tz)
    week = [dt.date(2026, 10, 26) + dt.timedelta(days=i) for i in range(7)]  # Mon..Sun
    before = [d - dt.timedelta(days=7) for d in week]
    records = [usage("u-ana", d, email="ana@example.com", credits=2.0) for d in week[:5]]
    records += [usage("u-ana", d, "CODEX_IDE_VSCODE", credits=1.0) for d in before[:5]]
    records += [usage("u-ben", week[0], email="ben@example.com", credits=10.25, threads=4)]
    records += [usage("u-ben", before[0], credits=2.0)]
    records += [usage("u-dee", week[2], email="dee@example.com", credits=3.5)]
    store_usage(records)
    return {"cleo": cleo, "max": max_, "ana": ana, "ben": ben, "cy": cy, "dee": dee}


def deliverer(settings, slack, holder="replica-a", sleep=None):
    # The client retries as in production; its waits are recorded, not slept.
    client = web_client(settings, sleep=SleepRecorder() if sleep is None else sleep)
    return DigestDeliverer(settings, client, holder)


MONDAY_NY_9AM = "2026-11-02 14:00:00"  # 09:00 in New York: Max's digest is due
ALL_DUE = "2026-11-02 19:00:00"  # 09:00 in Honolulu: Cleo's too, and Ben's since 15:00


def test_each_manager_gets_one_dm_with_exact_numbers(settings, slack, team):
    with freeze_time(ALL_DUE):
        assert deliverer(settings, slack).deliver_due() == 3
    posts = slack.calls_to("chat.postMessage")
    by_channel = {post.params["channel"]: post.params for post in posts}
    assert set(by_channel) == {"DUMAX", "DUBEN", "DUCLEO"}  # one DM each, not one per report
    digest = str(by_channel["DUMAX"]["blocks"])
    assert "Oct 26" not in digest  # dates render as "Mon 26 Oct"
    assert "Mon 26 Oct – Sun 1 Nov" in digest
    assert "*Ana Steady*  10 credits (↑ 100%)" in digest
    assert "active 5/7 days" in digest
    assert "*Ben Busy*  10.2 credits (↑ 412%)" in digest
    assert "_Their team:_ 1 person, 1 active, 3.5 credits (–)" in digest
    # Cy has no Codex account: said, not shown as zeros that read as idleness.
    assert "*Cy Quiet*  no Codex account matches cy@example.com" in digest
    assert "Dee Deep" not in digest.split("_Their team:_")[0]  # skip-level only rolled up
    assert "usage up 100%" in digest and "new surface: CLI" in digest
    assert "`/codex stats @person 30d`" in digest


def test_a_run_keeps_what_it_read_from_the_collector_until_it_ends(settings, slack, team):
    """Everything alive when a digest is composed (the run's chart and sums) is frozen out
    of the cyclic collector's full collections while the run lasts, and handed back at its
    end, whether Slack took the digests or not (bot/digests.py, _run_kept_from_collector)."""
    frozen_when_sent = []
    record = slack.record

    def recording(call):
        if call.method == "chat.postMessage":  # the fake answers in this process
            frozen_when_sent.append(gc.get_freeze_count())
        record(call)

    slack.record = recording
    with freeze_time(ALL_DUE):
        assert deliverer(settings, slack).deliver_due() == 3
    assert len(frozen_when_sent) == 3 and min(frozen_when_sent) > 0
    assert gc.get_freeze_count() == 0
    slack.go_down()
    with freeze_time(ALL_DUE):
        DigestDelivery.delete().execute()
        assert deliverer(settings, slack).deliver_due() == 0
    assert gc.get_freeze_count() == 0
    slack.come_back()


def test_each_manager_is_served_at_nine_in_their_own_time_zone(settings, slack, team):
    dm = deliverer(settings, slack)
    sent_at = {}
    for utc in ("13:59", "14:00", "14:59", "15:00", "18:59", "19:00", "20:00"):
        with freeze_time(f"2026-11-02 {utc}:00"):
            dm.deliver_due()
        for post in slack.calls_to("chat.postMessage"):
            sent_at.setdefault(post.params["channel"], utc)
    # New York from the directory, Chicago from Slack's profile, Honolulu from the directory.
    assert sent_at == {"DUMAX": "14:00", "DUBEN": "15:00", "DUCLEO": "19:00"}


def test_two_replicas_and_repeated_ticks_send_once_per_period(settings, slack, team):
    with freeze_time(ALL_DUE) as clock:
        a, b = deliverer(settings, slack, "a"), deliverer(settings, slack, "b")
        for _ in range(3):
            a.deliver_due()
            b.deliver_due()
            clock.tick(dt.timedelta(minutes=1))
    assert len(slack.calls_to("chat.postMessage")) == 3
    assert DigestDelivery.select().where(DigestDelivery.status == "sent").count() == 3


def test_a_restart_between_composed_and_sent_sends_once(settings, slack, team):
    max_ = team["max"]
    # A replica on another host claimed Max's digest, then died before Slack accepted it.
    with freeze_time("2026-11-02 14:00:00"):
        assert try_claim(f"digest:manager:{max_.id}:2026-11-01", "other-host:1:dead", 600)
    with freeze_time("2026-11-02 14:05:00"):
        deliverer(settings, slack).deliver_due()
    assert slack.calls_to("chat.postMessage") == []  # maybe still being sent: wait
    with freeze_time("2026-11-02 14:11:00"):  # the claim is stale: the dead send is redone
        deliverer(settings, slack).deliver_due()
        deliverer(settings, slack).deliver_due()
    channels = [p.params["channel"] for p in slack.calls_to("chat.postMessage")]
    assert channels == ["DUMAX"]


def test_a_slack_429_then_success_sends_once(settings, slack, team, slept):
    slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "30"})
    with freeze_time(ALL_DUE):
        assert deliverer(settings, slack, sleep=slept).deliver_due() == 3
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 4  # the refused attempt, then one accepted post per manager
    assert posts[0].params == posts[1].params  # the same message, retried after Retry-After
    assert sorted(p.params["channel"] for p in posts[1:]) == ["DUBEN", "DUCLEO", "DUMAX"]
    (waited,) = slept  # one wait, recorded rather than slept: Retry-After plus jitter
    assert 30 <= waited < 31


def test_slack_down_is_retried_with_backoff_until_it_answers(settings, slack, team):
    for _ in range(2):
        slack.fail_next("chat.postMessage", 500, {"ok": False, "error": "fatal_error"}, {})
    with freeze_time(MONDAY_NY_9AM) as clock:
        dm = deliverer(settings, slack)
        assert dm.deliver_due() == 0  # Max's first attempt fails (and its first retry)
        (failed,) = DigestDelivery.select()
        assert failed.status == "failed" and failed.attempts == 1
        assert failed.next_attempt_at == dt.datetime(2026, 11, 2, 14, 2)
        clock.tick(dt.timedelta(minutes=1))
        assert dm.deliver_due() == 0  # not yet: backing off
        clock.tick(dt.timedelta(minutes=1))
        assert dm.deliver_due() == 0  # the second failure doubles the wait
        assert DigestDelivery.get().next_attempt_at == dt.datetime(2026, 11, 2, 14, 6)
        clock.tick(dt.timedelta(minutes=4))
        assert dm.deliver_due() == 1
        clock.tick(dt.timedelta(minutes=10))
        assert dm.deliver_due() == 0
    channels = [p.params["channel"] for p in slack.calls_to("chat.postMessage")]
    assert channels == ["DUMAX", "DUMAX", "DUMAX"]  # two refused, one accepted


def test_opted_out_managers_and_disabled_digests_get_nothing(settings, slack, team):
    Employee.update(digest_opt_out=True).where(Employee.email == "ben@example.com").execute()
    with freeze_time(ALL_DUE):
        assert deliverer(settings, slack).deliver_due() == 2
    with freeze_time("2026-11-09 19:00:00"):  # the next Monday, digests switched off
        settings.digest.enabled = False
        assert deliverer(settings, slack).deliver_due() == 0
    channels = sorted(p.params["channel"] for p in slack.calls_to("chat.postMessage"))
    assert channels == ["DUCLEO", "DUMAX"]


def test_employees_who_opt_in_get_their_own_weekly_summary(settings, slack, team):
    Employee.update(self_digest=True).where(Employee.email == "ana@example.com").execute()
    with freeze_time("2026-11-02 07:59:00"):  # Ana has no directory zone; Slack says Berlin
        deliverer(settings, slack).deliver_due()
    assert slack.calls_to("chat.postMessage") == []
    with freeze_time("2026-11-02 08:00:00"):
        deliverer(settings, slack).deliver_due()
    own = [p.params for p in slack.calls_to("chat.postMessage") if p.params["channel"] == "DUANA"]
    assert len(own) == 1
    assert own[0]["text"].startswith("Codex usage for Ana Steady")
    assert "10 credits" in own[0]["text"]


def test_a_long_digest_is_split_into_messages_of_at_most_50_blocks(settings, slack, team):
    boss = team["cleo"]
    Employee.insert_many(
        [(f"r{i:03d}@example.com", f"Report {i:03d}", boss.id) for i in range(60)],
        fields=[Employee.email, Employee.name, Employee.manager],
    ).execute()
    deliverer(settings, slack).deliver(
        boss, "manager", dt.date(2026, 11, 1), dt.datetime(2026, 11, 2, 14, tzinfo=dt.UTC)
    )
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 2
    assert all(len(p.params["blocks"]) <= 50 for p in posts)
    names = str([p.params["blocks"] for p in posts])
    assert all(f"Report {i:03d}" in names for i in range(60))


def test_a_manager_and_a_report_leaving_next_month_still_get_and_fill_digests(
    settings, slack, team
):
    # Max leaves at the end of November, Ben and Cy too: until then nothing changes.
    for key in ("max", "ben", "cy"):
        team[key].archived_on = dt.date(2026, 11, 30)
        team[key].save()
    # Ana has already left: she no longer counts as a report who keeps Max a manager.
    team["ana"].archived_on = dt.date(2026, 11, 1)
    team["ana"].save()
    with freeze_time(MONDAY_NY_9AM):
        assert deliverer(settings, slack).deliver_due() == 1
    (post,) = slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "DUMAX"
    digest = str(post.params["blocks"])
    # Ana's last day was inside the period: her week is still Max's to discuss.
    assert "*Ana Steady*" in digest and "*Ben Busy*" in digest and "*Cy Quiet*" in digest
    # Once Max has left, there is no digest for him any more.
    with freeze_time("2026-12-07 14:00:00"):
        assert deliverer(settings, slack).deliver_due() == 0


@pytest.fixture
def unsynced_team(sqlite_db, slack):
    """Max manages Ana and Lou, who has left; Ana's usage is stored but no sync has
    completed since the week ended (the fixture's sync finished on 26 Oct)."""
    max_ = person("max@example.com", "Max Manager")
    ana = person("ana@example.com", "Ana Steady", manager=max_)
    lou = person("lou@example.com", "Lou Leaver", manager=max_, archived_on=dt.date(2026, 10, 28))
    admin = person("admin@example.com", "Ada Admin", role="admin")
    for employee in (max_, ana, lou, admin):
        employee.slack_user_id = "U" + employee.email.split("@")[0].upper()
        employee.timezone = "UTC"
        employee.save()
        slack.add_user(employee.slack_user_id, employee.email)
    with freeze_time("2026-10-26 08:00:00"):
        week = [dt.date(2026, 10, 26) + dt.timedelta(days=i) for i in range(7)]
        before = [d - dt.timedelta(days=7) for d in week]
        records = [usage("u-ana", d, email="ana@example.com", credits=2.0) for d in week]
        records += [usage("u-lou", d, email="lou@example.com", credits=5.0) for d in before]
        records += [usage("u-lou", week[0], email="lou@example.com", credits=1.0)]
        store_usage(records)
    return {"max": max_, "ana": ana, "lou": lou, "admin": admin}


def test_a_digest_waits_for_a_sync_after_its_period_then_goes_out_once(
    settings, slack, unsynced_team
):
    with freeze_time("2026-11-02 09:00:00") as clock:  # Monday 09:00 UTC: due, no data yet
        dm = deliverer(settings, slack)
        assert dm.deliver_due() == 0
        assert DigestDelivery.get().status == "waiting"
        assert slack.calls_to("chat.postMessage") == []
        clock.tick(dt.timedelta(hours=3))
        record_sync()  # the week is read
        clock.tick(dt.timedelta(minutes=1))
        assert dm.deliver_due() == 1
        assert dm.deliver_due() == 0
    (post,) = slack.calls_to("chat.postMessage")
    digest = str(post.params["blocks"])
    assert "*Ana Steady*  14 credits" in digest
    # Lou left on 28 Oct: said, and never flagged as declining.
    assert "*Lou Leaver* (left on Wed 28 Oct)" in digest
    assert "usage down" not in digest
    assert "never synced" not in digest


def test_a_waiting_digest_is_retried_past_its_day_and_admins_hear_once_when_late(
    settings, slack, unsynced_team
):
    with freeze_time("2026-11-02 09:00:00") as clock:
        dm = deliverer(settings, slack)
        dm.deliver_due()
        for _ in range(3):  # Tuesday, then more than a day late, still nothing synced
            clock.tick(dt.timedelta(hours=20))
            dm.deliver_due()
        alerts = [c.params for c in slack.calls_to("chat.postMessage")]
        assert [a["channel"] for a in alerts] == ["DUADMIN"]
        assert "Digests for the week ending Sun 1 Nov are waiting" in alerts[0]["text"]
        record_sync()
        clock.tick(dt.timedelta(minutes=1))
        assert dm.deliver_due() == 1  # Wednesday: sent at last, off its due day
        clock.tick(dt.timedelta(hours=2))
        dm.deliver_due()
    channels = [c.params["channel"] for c in slack.calls_to("chat.postMessage")]
    assert channels == ["DUADMIN", "DUMAX"]

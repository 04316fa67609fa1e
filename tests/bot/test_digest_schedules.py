"""Digests timed to 1:1s: a manager's own digest day and time, and each report's prep by DM
an hour before their 1:1, on the manager's clock, once per occurrence whatever the
replicas and restarts; set with `/codex digest ...` through signed requests."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.fernet import Fernet
from factories import person, store_usage, usage
from freezegun import freeze_time
from slack_requests import SleepRecorder, bot_settings

from bot.digests import DigestDeliverer
from bot.scheduler import Scheduler
from bot.slack import web_client
from sync.store.models import AccessLog, DigestDelivery, DigestSchedule, Employee, OneOnOne

SECRET = Fernet.generate_key().decode()


@pytest.fixture
def shared_settings(db, simulator, slack):
    return bot_settings(slack, simulator.base_url, SECRET)


@pytest.fixture
def team(db, slack):
    """Cleo manages Berta (Berlin, from the directory) and Lars (Los Angeles, from Slack's
    profile only); Berta manages Dana, Lars manages Eli. Dana and Eli used Codex every
    day of October, 2 credits a day."""
    cleo = person("cleo@example.com", "Cleo Chief")
    berta = person("berta@example.com", "Berta Boss", manager=cleo)
    lars = person("lars@example.com", "Lars Lead", manager=cleo)
    dana = person("dana@example.com", "Dana Report", manager=berta)
    eli = person("eli@example.com", "Eli Report", manager=lars)
    berta.timezone = "Europe/Berlin"
    people = {"cleo": cleo, "berta": berta, "lars": lars, "dana": dana, "eli": eli}
    for key, employee in people.items():
        employee.slack_user_id = "U" + key.upper()
        employee.save()
        slack_tz = "America/Los_Angeles" if key == "lars" else "Asia/Tokyo"
        slack.add_user(employee.slack_user_id, employee.email, tz=slack_tz)
    with freeze_time("2026-11-20 00:00:00"):
        days = [dt.date(2026, 10, 1) + dt.timedelta(days=n) for n in range(50)]
        store_usage(
            [
                usage(f"u-{key}", d, email=f"{key}@example.com", credits=2.0)
                for key in ("dana", "eli")
                for d in days
            ]
        )
    OneOnOne.create(manager=berta, report=dana, weekday=3, time="14:00")  # Thursdays
    OneOnOne.create(manager=lars, report=eli, weekday=3, time="14:00")
    return people


def deliverer(settings, holder="replica-a"):
    return DigestDeliverer(settings, web_client(settings, sleep=SleepRecorder()), holder)


def preps(slack) -> list[tuple[str, str]]:
    """(channel, header) of every 1:1 prep posted."""
    return [
        (c.params["channel"], c.params["blocks"][0]["text"]["text"])
        for c in slack.calls_to("chat.postMessage")
        if c.params["text"].startswith("1:1 prep: ")
    ]


# Minutes (UTC) around each Thursday 14:00 of Berlin's and LA's DST changes: 14:00 in
# Berlin is 12:00 UTC on 22 Oct, 13:00 UTC on 29 Oct; in LA 21:00 on 29 Oct, 22:00 on 5 Nov.
TICKS = [
    f"{day} {hour:02d}:{minute:02d}"
    for day in ("2026-10-22", "2026-10-29", "2026-11-05")
    for hour in range(10, 23)
    for minute in (0, 30, 59)
]


def test_each_prep_arrives_an_hour_before_14_local_on_both_sides_of_dst(
    shared_settings, slack, team
):
    dm = deliverer(shared_settings)
    first_seen: dict[tuple[str, str], str] = {}
    for tick in TICKS:
        with freeze_time(tick):
            dm.deliver_due()
        for post in slack.calls_to("chat.postMessage"):
            key = (post.params["channel"], post.params["blocks"][1]["elements"][0]["text"])
            first_seen.setdefault(key, tick)
    sent = {channel: [] for channel in ("DUBERTA", "DULARS")}
    for (channel, context), tick in sorted(first_seen.items(), key=lambda item: item[1]):
        sent[channel].append((tick, context.split(" · ")[0]))
    assert sent == {
        "DUBERTA": [
            ("2026-10-22 11:00", "Your 1:1 Thu 22 Oct 14:00 Europe/Berlin"),
            ("2026-10-29 12:00", "Your 1:1 Thu 29 Oct 14:00 Europe/Berlin"),
            ("2026-11-05 12:00", "Your 1:1 Thu 5 Nov 14:00 Europe/Berlin"),
        ],
        "DULARS": [
            ("2026-10-22 20:00", "Your 1:1 Thu 22 Oct 14:00 America/Los_Angeles"),
            ("2026-10-29 20:00", "Your 1:1 Thu 29 Oct 14:00 America/Los_Angeles"),
            ("2026-11-05 21:00", "Your 1:1 Thu 5 Nov 14:00 America/Los_Angeles"),
        ],
    }
    # One DM per occurrence, however many ticks fell inside its hour.
    assert len(preps(slack)) == 6
    assert DigestDelivery.select().count() == 6
    # Lars's zone came from Slack's profile and is kept.
    assert Employee.get_by_id(team["lars"].id).slack_timezone == "America/Los_Angeles"


def test_a_prep_is_that_reports_section_with_exact_numbers_and_an_access_log_entry(
    shared_settings, slack, team
):
    with freeze_time("2026-10-22 11:00:00"):
        assert deliverer(shared_settings).deliver_due() == 1
    (post,) = slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "DUBERTA"
    blocks = str(post.params["blocks"])
    assert post.params["blocks"][0]["text"]["text"] == "1:1 prep: Dana Report"
    # The seven complete days before the 1:1, against the seven before them.
    assert "Thu 15 Oct – Wed 21 Oct" in blocks
    assert "*Dana Report*  14 credits (→ 0%)" in blocks and "Eli" not in blocks
    assert "Data as of 2026-11-20 01:00 CET (Europe/Berlin)" in blocks
    (view,) = AccessLog.select()
    assert (view.viewer_id, view.target_id, view.surface) == (
        team["berta"].id,
        team["dana"].id,
        "digest",
    )


def test_two_schedulers_ticking_the_same_minutes_send_one_dm_per_occurrence(
    shared_settings, slack, team
):
    replicas = [Scheduler(shared_settings, web_client(shared_settings), h) for h in ("a", "b")]
    with freeze_time("2026-10-22 10:58:00") as clock:
        for _minute in range(5):
            for replica in replicas:
                replica.digest_tick()
            clock.tick(dt.timedelta(minutes=1))
    assert preps(slack) == [("DUBERTA", "1:1 prep: Dana Report")]


def test_a_restarted_replica_does_not_send_again(shared_settings, slack, team):
    with freeze_time("2026-10-22 11:00:00"):
        assert deliverer(shared_settings, "before-restart").deliver_due() == 1
    with freeze_time("2026-10-22 11:20:00"):  # a new process, a new holder
        assert deliverer(shared_settings, "after-restart").deliver_due() == 0
    assert len(preps(slack)) == 1


def test_the_lead_time_is_configurable(shared_settings, slack, team):
    shared_settings.digest.one_on_one_lead_minutes = 30
    with freeze_time("2026-10-22 11:00:00"):
        assert deliverer(shared_settings).deliver_due() == 0
    with freeze_time("2026-10-22 11:30:00"):
        assert deliverer(shared_settings).deliver_due() == 1


def test_no_prep_once_the_manager_no_longer_manages_them(shared_settings, slack, team):
    team["dana"].manager = team["lars"]
    team["dana"].save()
    with freeze_time("2026-10-22 11:00:00"):
        assert deliverer(shared_settings).deliver_due() == 0
    assert preps(slack) == []


def test_no_prep_for_a_manager_who_turned_digests_off(shared_settings, slack, team):
    Employee.update(digest_opt_out=True).where(Employee.id == team["berta"].id).execute()
    with freeze_time("2026-10-22 11:00:00"):
        assert deliverer(shared_settings).deliver_due() == 0
    assert preps(slack) == []


def test_an_own_digest_time_replaces_the_global_one(shared_settings, slack, team):
    DigestSchedule.create(manager=team["berta"], weekday=1, time="10:00")  # Tuesdays
    OneOnOne.delete().execute()
    # Monday 09:00 in Los Angeles, 18:00 in Berlin: Lars's digest (the default), not Berta's.
    with freeze_time("2026-11-02 17:00:00"):
        assert deliverer(shared_settings).deliver_due() == 1
    channels = {c.params["channel"] for c in slack.calls_to("chat.postMessage")}
    assert channels == {"DULARS"}
    with freeze_time("2026-11-03 08:59:00"):  # Tuesday 09:59 in Berlin
        assert deliverer(shared_settings).deliver_due() == 0
    with freeze_time("2026-11-03 09:00:00"):  # 10:00 in Berlin
        assert deliverer(shared_settings).deliver_due() == 1
    posts = slack.calls_to("chat.postMessage")
    to_berta = [c.params["blocks"] for c in posts if c.params["channel"] == "DUBERTA"]
    assert to_berta and "Dana Report" in str(to_berta)


# --------------------------------------------------------------------------- /codex digest


def response_text(slack, count: int) -> str:
    answer = slack.wait_for("response_url", count)[-1].params
    return answer["text"] + " " + str(answer.get("blocks", ""))


def test_slash_commands_set_list_and_remove_slots(bot, slack, settings, sqlite_db):
    max_ = person("max@example.com", "Max Manager")
    max_.timezone = "America/New_York"
    max_.slack_user_id = "UMAX"
    max_.save()
    dana = person("dana@example.com", "Dana Report", manager=max_)
    dana.slack_user_id = "UDANA"
    dana.save()
    for employee in (max_, dana):
        slack.add_user(employee.slack_user_id, employee.email)

    bot.command("UMAX", "digest")
    listing = response_text(slack, 1)
    assert "Mondays at 09:00, everyone's time" in listing and "None yet." in listing
    assert "America/New_York" in listing

    bot.command("UMAX", "digest schedule tue 10:00")
    assert "Your digest now arrives on Tuesdays at 10:00, your time." in response_text(slack, 2)
    bot.command("UMAX", "digest 1on1 <@UDANA|dana> thursday 14:00")
    assert "Your 1:1 with Dana Report is on Thursdays at 14:00" in response_text(slack, 3)
    bot.command("UMAX", "digest")
    listing = response_text(slack, 4)
    assert "Tuesdays at 10:00, your own time (everyone else's: Mondays at 09:00)" in listing
    assert "Dana Report: Thursdays at 14:00" in listing
    assert "prep arrives by DM 60 minutes before" in listing
    assert (OneOnOne.get().weekday, OneOnOne.get().time) == (3, "14:00")

    # Dana is no manager of Max: refused, and nothing stored.
    bot.command("UDANA", "digest 1on1 <@UMAX> monday 09:00")
    assert "only with people in your reporting line" in response_text(slack, 5)
    assert OneOnOne.select().count() == 1

    bot.command("UMAX", "digest 1on1 <@UDANA> off")
    assert "Your 1:1 slot with Dana Report is removed" in response_text(slack, 6)
    bot.command("UMAX", "digest schedule default")
    assert "back on everyone's day and time" in response_text(slack, 7)
    assert OneOnOne.select().count() == DigestSchedule.select().count() == 0

    bot.command("UMAX", "digest 1on1 <@UDANA> someday 25:00")
    assert "`/codex digest 1on1 @person DAY HH:MM`" in response_text(slack, 8)

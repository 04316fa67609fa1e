"""When weekly digests and 1:1 preps fall due: on the manager's own clock, across DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from factories import person

from sync.config import DigestSettings
from sync.org.access import Viewer
from sync.org.time_zones import time_zone_of
from sync.reports.schedules import (
    DigestScheduleAnswer,
    WeeklySlot,
    ask_digest_schedule,
    digest_period_end,
    one_on_one_preps_due,
    parse_time_of_day,
    parse_weekday,
)
from sync.store.models import DigestSchedule, OneOnOne

HOUR = dt.timedelta(hours=1)
THURSDAY_2PM = WeeklySlot.of(3, "14:00")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "due_utc"),
    [
        # Berlin leaves summer time on Sunday 25 Oct 2026: 14:00 is 12:00 UTC, then 13:00.
        ("Europe/Berlin", "2026-10-22 11:00"),
        ("Europe/Berlin", "2026-10-29 12:00"),
        # Los Angeles a week later, on 1 Nov: 14:00 is 21:00 UTC, then 22:00.
        ("America/Los_Angeles", "2026-10-29 20:00"),
        ("America/Los_Angeles", "2026-11-05 21:00"),
        # ...and into summer time on 8 Mar 2026: 14:00 PST is 22:00 UTC, 14:00 PDT 21:00.
        ("America/Los_Angeles", "2026-03-05 21:00"),
        ("America/Los_Angeles", "2026-03-12 20:00"),
    ],
)
def test_a_prep_falls_due_an_hour_before_14_local_on_both_sides_of_dst(db, zone, due_utc):
    manager = person("berta@example.com", "Berta Boss")
    report = person("dana@example.com", "Dana Report", manager=manager)
    OneOnOne.create(manager=manager, report=report, weekday=3, time="14:00")
    due = utc(due_utc)

    def zone_of(employee):
        return ZoneInfo(zone)

    assert one_on_one_preps_due(due - dt.timedelta(minutes=1), HOUR, zone_of) == []
    (prep,) = one_on_one_preps_due(due, HOUR, zone_of)
    assert prep.starts_at.astimezone(ZoneInfo(zone)).time() == dt.time(14, 0)
    assert prep.starts_at.astimezone(dt.UTC) == due + HOUR
    assert (prep.manager.id, prep.report.id, prep.day.weekday()) == (manager.id, report.id, 3)
    # Still due until the 1:1 starts (a late replica still sends), then no more.
    assert len(one_on_one_preps_due(due + dt.timedelta(minutes=59), HOUR, zone_of)) == 1
    assert one_on_one_preps_due(due + HOUR, HOUR, zone_of) == []


def test_a_lead_may_reach_back_across_midnight(db):
    manager = person("berta@example.com", "Berta Boss")
    report = person("dana@example.com", "Dana Report", manager=manager)
    OneOnOne.create(manager=manager, report=report, weekday=0, time="00:30")  # Monday

    def zone_of(employee):
        return ZoneInfo("UTC")

    (prep,) = one_on_one_preps_due(utc("2026-11-01 23:30"), HOUR, zone_of)  # Sunday
    assert prep.day == dt.date(2026, 11, 2)


def test_no_prep_for_someone_the_manager_no_longer_manages(db):
    manager = person("berta@example.com", "Berta Boss")
    other = person("olga@example.com", "Olga Other")
    report = person("dana@example.com", "Dana Report", manager=manager)
    OneOnOne.create(manager=manager, report=report, weekday=3, time="14:00")
    report.manager = other
    report.save()
    assert one_on_one_preps_due(utc("2026-10-22 13:30"), HOUR, lambda e: ZoneInfo("UTC")) == []


def test_an_own_digest_slot_replaces_the_default_day_and_time():
    tuesday_10 = WeeklySlot.of(1, "10:00")
    berlin = ZoneInfo("Europe/Berlin")
    monday_9 = dt.datetime(2026, 11, 2, 9, tzinfo=berlin)
    assert digest_period_end(monday_9, WeeklySlot.default(DigestSettings())) is not None
    assert digest_period_end(monday_9, tuesday_10) is None
    assert digest_period_end(dt.datetime(2026, 11, 3, 9, 59, tzinfo=berlin), tuesday_10) is None
    assert digest_period_end(dt.datetime(2026, 11, 3, 10, tzinfo=berlin), tuesday_10) == (
        dt.date(2026, 11, 2)
    )


@pytest.mark.parametrize(
    ("word", "weekday"),
    [("thursday", 3), ("Thu", 3), ("thurs", 3), ("SUN", 6), ("t", None), ("th", None), ("x", None)],
)
def test_weekdays_are_read_by_name_or_prefix(word, weekday):
    assert parse_weekday(word) == weekday


@pytest.mark.parametrize(
    ("word", "time"),
    [("14:00", "14:00"), ("9:30", "09:30"), ("24:00", None), ("14:60", None), ("2pm", None)],
)
def test_times_are_24_hour(word, time):
    assert parse_time_of_day(word) == time


def test_setting_listing_and_removing_slots(db):
    settings = DigestSettings(timezone="Europe/Paris")
    berta = person("berta@example.com", "Berta Boss")
    dana = person("dana@example.com", "Dana Report", manager=berta)
    peer = person("pia@example.com", "Pia Peer", manager=berta)
    today = dt.date(2026, 11, 25)
    me = Viewer(berta, berta.email)

    shown = ask_digest_schedule(me, "show", None, None, settings, today)
    assert isinstance(shown, DigestScheduleAnswer)
    assert (shown.digest, shown.own_digest_time, shown.one_on_ones) == (
        WeeklySlot.of(0, "09:00"),
        False,
        [],
    )
    assert shown.time_zone == "Europe/Paris" == time_zone_of(berta, "Europe/Paris").key

    set_ = ask_digest_schedule(me, "schedule", WeeklySlot.of(1, "10:00"), None, settings, today)
    assert isinstance(set_, DigestScheduleAnswer) and set_.own_digest_time
    assert DigestSchedule.get().time == "10:00"
    ask_digest_schedule(me, "1on1", THURSDAY_2PM, lambda: dana, settings, today)
    moved = ask_digest_schedule(me, "1on1", WeeklySlot.of(4, "9:05"), lambda: dana, settings, today)
    assert isinstance(moved, DigestScheduleAnswer)
    assert [(o.report.email, o.slot.hh_mm, o.active) for o in moved.one_on_ones] == [
        ("dana@example.com", "09:05", True)
    ]
    assert OneOnOne.select().count() == 1  # moved, not added

    # A peer is no manager of Dana: refused, as is someone nobody can find.
    pia = Viewer(peer, peer.email)
    refused = ask_digest_schedule(pia, "1on1", THURSDAY_2PM, lambda: dana, settings, today)
    assert refused.kind == "one_on_one_refused"  # type: ignore[union-attr]
    nobody = ask_digest_schedule(me, "1on1", THURSDAY_2PM, lambda: None, settings, today)
    assert nobody.kind == "one_on_one_refused"  # type: ignore[union-attr]

    removed = ask_digest_schedule(me, "1on1", None, lambda: dana, settings, today)
    assert removed.changed.kind == "one_on_one_removed"  # type: ignore[union-attr]
    reset = ask_digest_schedule(me, "schedule", None, None, settings, today)
    assert isinstance(reset, DigestScheduleAnswer) and not reset.own_digest_time
    assert OneOnOne.select().count() == DigestSchedule.select().count() == 0

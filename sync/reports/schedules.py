"""When digests are due, for whom: a manager's own weekly digest day and time (else the
[digest] settings), and the 1:1 slots they set per report, whose prep arrives a lead time
before each one. Every time is on the manager's own clock (sync/org/time_zones.py), so a
slot stays at 14:00 local across daylight-saving changes.

Deciding here, sending in bot/digests.py: these functions say what is due at a UTC instant
and what a `/codex digest ...` request changes; that each due thing goes out once is the
sender's claim.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sync.config import DigestSettings
from sync.notices import Notice
from sync.org.access import Viewer, has_access, manages
from sync.org.time_zones import time_zone_of
from sync.store.models import DigestSchedule, Employee, OneOnOne

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

ZoneOf = Callable[[Employee], ZoneInfo]


@dataclass(frozen=True)
class WeeklySlot:
    """A weekday and a time of day, on someone's own clock."""

    weekday: int  # 0 is Monday
    time: dt.time

    @classmethod
    def of(cls, weekday: int, time: str) -> WeeklySlot:
        """From stored values: a weekday number and "HH:MM"."""
        hour, minute = (int(part) for part in time.split(":"))
        return cls(weekday, dt.time(hour, minute))

    @classmethod
    def default(cls, digest: DigestSettings) -> WeeklySlot:
        """The [digest] settings' day and time: everyone's, unless they chose their own."""
        return cls.of(WEEKDAYS.index(digest.day), digest.time)

    @property
    def day_name(self) -> str:
        return WEEKDAYS[self.weekday]

    @property
    def hh_mm(self) -> str:
        return f"{self.time:%H:%M}"

    def next_start(self, after: dt.datetime, zone: ZoneInfo) -> dt.datetime:
        """The first occurrence strictly after `after` (aware), in `zone`: the wall-clock
        time on that day, whatever its UTC offset is then."""
        local = after.astimezone(zone)
        for days_ahead in range(8):
            day = local.date() + dt.timedelta(days=days_ahead)
            if day.weekday() != self.weekday:
                continue
            start = dt.datetime.combine(day, self.time, tzinfo=zone)
            if start > after:
                return start
        raise AssertionError("a weekly slot occurs within eight days")


def parse_weekday(word: str) -> int | None:
    """A weekday by name or its first three letters or more ("thu", "thurs"), any case."""
    word = word.lower()
    if len(word) < 3:
        return None
    found = [n for n, name in enumerate(WEEKDAYS) if name.startswith(word)]
    return found[0] if len(found) == 1 else None


def parse_time_of_day(word: str) -> str | None:
    """ "HH:MM" (24-hour; "9:30" too), normalised to two-digit hours, or None."""
    match = _TIME.match(word)
    return f"{int(match.group(1)):02d}:{match.group(2)}" if match else None


# --------------------------------------------------------------------------- weekly digests


def own_digest_slots() -> dict[int, WeeklySlot]:
    """Everyone's own digest day and time, by employee id: read once per delivery run."""
    return {
        schedule.manager_id: WeeklySlot.of(schedule.weekday, schedule.time)
        for schedule in DigestSchedule.select()
    }


def digest_period_end(local_now: dt.datetime, slot: WeeklySlot) -> dt.date | None:
    """The last day a digest due at `local_now` covers, or None when none is due.

    Due on the slot's weekday from its time until that day ends, so a replica that
    restarts at 11:00 still sends the 09:00 digest.
    """
    if local_now.weekday() != slot.weekday:
        return None
    if local_now.time() < slot.time:
        return None
    return local_now.date() - dt.timedelta(days=1)


# --------------------------------------------------------------------------- 1:1 preps


@dataclass(frozen=True)
class OneOnOnePrep:
    """One occurrence of a 1:1 slot whose prep is due: sent once per occurrence, keyed by
    the manager, the report and the 1:1's day on the manager's clock."""

    manager: Employee
    report: Employee
    starts_at: dt.datetime  # the 1:1 itself, on the manager's clock
    due_at: dt.datetime  # the lead time before it

    @property
    def day(self) -> dt.date:
        return self.starts_at.date()


def one_on_one_preps_due(
    now: dt.datetime, lead: dt.timedelta, zone_of: ZoneOf
) -> list[OneOnOnePrep]:
    """The 1:1 preps due at `now` (aware): from the lead time before a slot until the slot
    starts (a prep after the 1:1 has nothing left to prepare), for slots whose manager still
    manages the report that day and has not turned digests off (`/codex digest off` says
    no more 1:1-prep digests)."""
    slots = OneOnOne.select(OneOnOne, Employee).join(Employee, on=(OneOnOne.manager == Employee.id))
    due = []
    for slot in slots:
        manager = slot.manager
        if manager.digest_opt_out:
            continue
        zone = zone_of(manager)
        start = WeeklySlot.of(slot.weekday, slot.time).next_start(now, zone)
        # Subtracted in UTC: a lead is elapsed time, not wall-clock time.
        due_at = (start.astimezone(dt.UTC) - lead).astimezone(zone)
        if due_at > now:
            continue
        report = slot.report
        if not manages(manager, report, start.date()):
            continue
        due.append(OneOnOnePrep(manager, report, start, due_at))
    return due


# --------------------------------------------------------------------------- /codex digest


@dataclass(frozen=True)
class ScheduledOneOnOne:
    report: Employee
    slot: WeeklySlot
    # Whether the manager still manages them: a slot with someone who moved teams or left
    # stays listed (to remove) but sends nothing.
    active: bool


@dataclass(frozen=True)
class DigestScheduleAnswer:
    """`/codex digest`: when someone's digest arrives and the 1:1 slots they set."""

    manager: Employee
    digest: WeeklySlot
    own_digest_time: bool  # False: the [digest] settings' day and time
    default_digest: WeeklySlot  # the [digest] settings' day and time
    one_on_ones: list[ScheduledOneOnOne]
    time_zone: str
    lead_minutes: int
    period_days: int
    digests_enabled: bool
    # What the request changed, worded by templates/_notices.j2; None for a plain listing.
    changed: Notice | None = None


def ask_digest_schedule(
    viewer: Viewer,
    action: str,
    slot: WeeklySlot | None,
    find_report: Callable[[], Employee | None] | None,
    digest: DigestSettings,
    today: dt.date,
) -> DigestScheduleAnswer | Notice:
    """`/codex digest` ("show"), `/codex digest schedule DAY HH:MM|default` ("schedule")
    and `/codex digest 1on1 @person DAY HH:MM|off` ("1on1"). `slot` None resets the
    schedule to the default or removes the slot. Only someone's manager (directly or
    higher up) may set a 1:1 slot with them; anyone else, and anyone not in the
    directory, is refused alike."""
    employee = viewer.employee
    if employee is None or not has_access(employee, today):
        return Notice("not_in_directory")
    changed = None
    if action in ("schedule", "1on1") and not digest.enabled:
        return Notice("digests_disabled")
    if action == "schedule":
        changed = _set_digest_time(employee, slot)
    elif action == "1on1":
        report = find_report() if find_report is not None else None
        if report is None or not manages(employee, report, today):
            return Notice("one_on_one_refused")
        changed = _set_one_on_one(employee, report, slot)
    return digest_schedule_of(employee, digest, today, changed)


def digest_schedule_of(
    manager: Employee, digest: DigestSettings, today: dt.date, changed: Notice | None = None
) -> DigestScheduleAnswer:
    own = DigestSchedule.get_or_none(DigestSchedule.manager == manager.id)
    slots = (
        OneOnOne.select(OneOnOne, Employee)
        .join(Employee, on=(OneOnOne.report == Employee.id))
        .where(OneOnOne.manager == manager.id)
        .order_by(OneOnOne.weekday, OneOnOne.time, Employee.name, Employee.email)
    )
    one_on_ones = [
        ScheduledOneOnOne(
            s.report, WeeklySlot.of(s.weekday, s.time), manages(manager, s.report, today)
        )
        for s in slots
    ]
    return DigestScheduleAnswer(
        manager=manager,
        digest=WeeklySlot.of(own.weekday, own.time) if own else WeeklySlot.default(digest),
        own_digest_time=own is not None,
        default_digest=WeeklySlot.default(digest),
        one_on_ones=one_on_ones,
        time_zone=time_zone_of(manager, digest.timezone).key,
        lead_minutes=digest.one_on_one_lead_minutes,
        period_days=digest.period_days,
        digests_enabled=digest.enabled,
        changed=changed,
    )


def _set_digest_time(manager: Employee, slot: WeeklySlot | None) -> Notice:
    if slot is None:
        DigestSchedule.delete().where(DigestSchedule.manager == manager.id).execute()
        return Notice("digest_schedule_reset")
    DigestSchedule.insert(manager=manager.id, weekday=slot.weekday, time=slot.hh_mm).on_conflict(
        conflict_target=[DigestSchedule.manager],
        update={DigestSchedule.weekday: slot.weekday, DigestSchedule.time: slot.hh_mm},
    ).execute()
    return Notice("digest_schedule_set", {"day": slot.day_name, "time": slot.hh_mm})


def _set_one_on_one(manager: Employee, report: Employee, slot: WeeklySlot | None) -> Notice:
    name = report.display_name
    if slot is None:
        removed = (
            OneOnOne.delete()
            .where(OneOnOne.manager == manager.id, OneOnOne.report == report.id)
            .execute()
        )
        return Notice("one_on_one_removed" if removed else "one_on_one_none", {"name": name})
    OneOnOne.insert(
        manager=manager.id, report=report.id, weekday=slot.weekday, time=slot.hh_mm
    ).on_conflict(
        conflict_target=[OneOnOne.manager, OneOnOne.report],
        update={OneOnOne.weekday: slot.weekday, OneOnOne.time: slot.hh_mm},
    ).execute()
    return Notice("one_on_one_set", {"name": name, "day": slot.day_name, "time": slot.hh_mm})

"""Whose clock a date or a time is read on: a person's time zone, decided here and nowhere
else.

The directory's time zone (an import, SCIM) wins; else the one their Slack profile gives,
stored when the bot reads it (bot/identity.py, `user_change` events); else the configured
default (`[digest] timezone`). Nothing here talks to Slack: it reads the stored columns.

Usage stays in the API's UTC days whatever the clock: `utc_days_on_clock` says when those
days begin and end for someone whose days are not UTC's.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo, available_timezones

from sync.store.models import Employee

# The directory's text columns are VARCHAR(255) on PostgreSQL.
_MAX_NAME = 255


class _Zoned(Protocol):
    @property
    def timezone(self) -> str | None: ...

    @property
    def slack_timezone(self) -> str | None: ...


@cache
def known_time_zones() -> frozenset[str]:
    """The IANA time zones a person may have (Europe/Paris, UTC, ...)."""
    return frozenset(available_timezones())


def known_time_zone(name: object) -> str | None:
    """`name` if it is an IANA time zone, else None: what outside input (a Slack profile,
    an event) may store."""
    if not isinstance(name, str) or len(name) > _MAX_NAME or name not in known_time_zones():
        return None
    return name


def time_zone_of(person: _Zoned | None, default: str) -> ZoneInfo:
    """The time zone `person` reads dates and times in: the directory's, else their Slack
    profile's, else `default` (a validated setting). A stored name that is no zone (written
    by hand) is passed over rather than failing an answer."""
    names = (person.timezone, person.slack_timezone) if person is not None else ()
    for name in (*names, default):
        if known_time_zone(name):
            return ZoneInfo(name)
    return ZoneInfo("UTC")


def remember_slack_time_zone(person: Employee, name: object) -> bool:
    """Store the time zone a Slack profile gives for `person` (None or an unknown name
    changes nothing: a profile without one says nothing). True if it changed."""
    zone = known_time_zone(name)
    if zone is None or zone == person.slack_timezone:
        return False
    person.slack_timezone = zone
    Employee.update(slack_timezone=zone).where(Employee.id == person.id).execute()
    return True


def utc_days_on_clock(
    first_day: dt.date, last_day: dt.date, zone: ZoneInfo
) -> tuple[dt.datetime, dt.datetime] | None:
    """When the UTC days `first_day` to `last_day` begin and end on `zone`'s clock, or None
    when they are that zone's own days (it keeps UTC's offset all along, London in winter)."""
    start = dt.datetime.combine(first_day, dt.time(), dt.UTC).astimezone(zone)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), dt.UTC).astimezone(zone)
    if not start.utcoffset() and not end.utcoffset():
        return None
    return start, end

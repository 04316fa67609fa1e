"""The periods answers cover, and which lengths people may ask for.

A period of N days is the last N complete UTC days (today is still filling in),
compared with the N days before it. Asked by someone, the days are read on their own
calendar (`LocalToday`): their today, their week; the figures are always the API's UTC
days of the same dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sync.config import API_HISTORY_DAYS

# What `/codex stats`, `/codex team`, exports and the CLI offer: a quarter is what a review
# looks back on, and the API keeps no more.
STATS_PERIOD_DAYS = (7, 30, API_HISTORY_DAYS)
TEAM_PERIOD_DAYS = STATS_PERIOD_DAYS
# The longest period any answer covers, in whatever words it was asked.
MAX_PERIOD_DAYS = API_HISTORY_DAYS


@dataclass(frozen=True)
class Period:
    first_day: dt.date
    last_day: dt.date

    @classmethod
    def ending_before(cls, today: dt.date, days: int) -> Period:
        """The last `days` complete UTC days: today is still filling in, so it is left out."""
        last = today - dt.timedelta(days=1)
        return cls(last - dt.timedelta(days=days - 1), last)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def previous(self) -> Period:
        length = dt.timedelta(days=self.days)
        return Period(self.first_day - length, self.last_day - length)

    def each_day(self) -> list[dt.date]:
        return [self.first_day + dt.timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class LocalToday:
    """Today on someone's own calendar (sync/org/time_zones.py decides whose clock), and
    the first day that is not over yet for them or in UTC: a period of complete days ends
    before it, so it never takes in a UTC day still filling in (Tokyo's morning is still
    yesterday in UTC)."""

    day: dt.date
    complete_before: dt.date
    time_zone: str

    @classmethod
    def at(cls, now: dt.datetime, zone: ZoneInfo) -> LocalToday:
        """Today in `zone` at `now` (aware)."""
        local = now.astimezone(zone).date()
        return cls(local, min(local, now.astimezone(dt.UTC).date()), zone.key)

    def last_days(self, days: int) -> Period:
        """The last `days` complete days."""
        return Period.ending_before(self.complete_before, days)

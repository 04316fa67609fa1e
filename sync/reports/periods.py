"""The periods answers cover, and which lengths people may ask for.

A period of N days is the last N complete UTC days (today is still filling in),
compared with the N days before it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sync.config import API_HISTORY_DAYS

# What `/codex stats` and the CLI offer; `/codex team` reads a whole reporting line and
# stops at 30 days.
STATS_PERIOD_DAYS = (7, 30, API_HISTORY_DAYS)
TEAM_PERIOD_DAYS = (7, 30)
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

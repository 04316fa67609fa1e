"""What the stored usage can answer for: the workspace answers read, when its last sync
completed ("data as of"), and which days of its history are missing.

Every answer carries this, so a gap (an outage longer than the API's 90 days, a sync that
has not run yet) is said ("no data for 3-12 Oct"), never shown as zeros. Today is still
filling in: it is never missing, only incomplete.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sync.reports.periods import Period
from sync.store.models import SyncRun
from sync.store.prepared import Prepared
from sync.store.workspaces import current_workspace_id, synced_days

# A run of consecutive days, first and last included.
DayRange = tuple[dt.date, dt.date]


# Read for every answer: its SQL is built once (sync/store/prepared.py).
_LAST_SYNC = Prepared(
    lambda workspace_id: (
        SyncRun.select(SyncRun.finished_at)
        .where(SyncRun.outcome == SyncRun.OUTCOME_OK, SyncRun.workspace_id == workspace_id)
        .order_by(SyncRun.finished_at.desc())
        .limit(1)
    )
)


@dataclass(frozen=True)
class Coverage:
    workspace_id: str | None
    data_as_of: dt.datetime | None
    synced: frozenset[dt.date]
    first_day: dt.date  # `synced` holds the ledger from here to `today`
    today: dt.date

    @classmethod
    def load(cls, first_day: dt.date, today: dt.date) -> Coverage:
        """The current workspace's coverage from `first_day` up to `today`: read once per
        answer, or once per digest run for every digest in it."""
        workspace_id = current_workspace_id()
        as_of = None
        if workspace_id is not None:
            row = _LAST_SYNC.execute(workspace_id).fetchone()
            as_of = SyncRun.finished_at.python_value(row[0]) if row else None
        synced = frozenset(synced_days(workspace_id, first_day, today))
        return cls(workspace_id, as_of, synced, first_day, today)

    def missing(self, period: Period) -> list[DayRange]:
        """The days of `period` before today that no sync has read, as ranges."""
        if period.first_day < self.first_day:
            raise ValueError(f"coverage read from {self.first_day}, asked from {period.first_day}")
        ranges: list[DayRange] = []
        for day in period.each_day():
            if day >= self.today or day in self.synced:
                continue
            if ranges and ranges[-1][1] == day - dt.timedelta(days=1):
                ranges[-1] = (ranges[-1][0], day)
            else:
                ranges.append((day, day))
        return ranges

    def complete(self, period: Period) -> bool:
        """Whether `period` is fully synced: a sync completed after it ended, and no day
        of it is missing."""
        if self.data_as_of is None or self.data_as_of.date() <= period.last_day:
            return False
        return not self.missing(period)

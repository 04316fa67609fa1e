"""The adoption answer's sums over a window, per Codex account, rolled up once per usage
revision (sync/store/rollups.py) instead of scanned at every answer.

An adoption answer (sync/reports/adoption.py) sums each account's usage over its window
in two grouped scans: per account (a _Line: active days and sums) and per account and
client (the surface mix and tokens). At 10k people and 90 days that is 3.6M rows each
time. A roll-up stores exactly what those scans return, for every account of the
workspace, keyed by the window (its bounds and last day) and the usage revision it was
built at: the organisation reads all of it, a reporting line only its own accounts (by
the primary key), and any write to usage makes it unread. Two things an answer would
still sum from the rows are in it too: a leaver's account cut at their last day (for
people with one account who used it after leaving; who left, and when, is read from the
directory at the build, and an answer checks it still holds), and the organisation's
surface sums per client (with a fingerprint of the accounts they cover, which an answer
compares with its own).

It is built when missing: the scans run outside any transaction, then one short
transaction stores the result (SQLite's single writer is never held for the scans); a
write that lands while the scans run makes the result unstored. After each sync, the
scheduler builds the common windows (`warm`), the organisation's, in one pair of scans
for all of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from peewee import Case, IntegrityError, PostgresqlDatabase, chunked, fn

from sync.clock import utc_timestamp, utc_today
from sync.config import AdoptionSettings
from sync.org.directory import matched_employee_ids_by_codex_user
from sync.reports.periods import Period
from sync.store.models import (
    AdoptionRollup,
    AdoptionRollupLine,
    AdoptionRollupSurface,
    AdoptionRollupTotal,
    DailyUsage,
    Employee,
    database,
)
from sync.store.rollups import usage_revision
from sync.store.workspaces import current_workspace_id

log = logging.getLogger(__name__)

# The weekly figure: people active in the period's last this many days.
RECENT_DAYS = 7
# The adoption periods answers ask for by default: `/codex adoption` and digests (7), the
# Home tab (30), the longest `/codex adoption` offers (90).
WARM_PERIOD_DAYS = (7, 30, 90)
_BATCH = 5000


@dataclass(frozen=True)
class Bounds:
    """The days an adoption window's sums split at."""

    window_first: dt.date
    previous_first: dt.date
    first: dt.date
    recent_first: dt.date
    idle_first: dt.date

    @classmethod
    def of(cls, period: Period, idle_days: int) -> Bounds:
        idle_first = period.last_day - dt.timedelta(days=idle_days - 1)
        recent_first = max(period.first_day, period.last_day - dt.timedelta(days=RECENT_DAYS - 1))
        previous_first = period.previous.first_day
        return cls(
            min(previous_first, idle_first),
            previous_first,
            period.first_day,
            recent_first,
            idle_first,
        )

    def columns(self) -> list:
        """The sums of a _Line, in its order, over whatever rows are grouped."""
        day = DailyUsage.day
        active = (DailyUsage.threads > 0) | (DailyUsage.turns > 0) | (DailyUsage.credits > 0)
        current = day >= self.first
        before = (day >= self.previous_first) & (day < self.first)

        def active_days(condition):
            return fn.COUNT(Case(None, [(active & condition, day)], None).distinct())

        def summed(value, condition):
            return fn.SUM(Case(None, [(condition, value)], 0))

        return [
            active_days(current),
            active_days(before),
            active_days(day >= self.recent_first),
            active_days(day >= self.idle_first),
            summed(DailyUsage.credits, current),
            summed(DailyUsage.credits, before),
            summed(DailyUsage.threads, current),
            summed(DailyUsage.threads, before),
            summed(DailyUsage.turns, current),
            summed(DailyUsage.turns, before),
        ]

    def surface_columns(self) -> list:
        """Over whatever rows are grouped, for this period and then the one before: credits;
        input tokens and cached input tokens summed over the rows whose input tokens are
        known, and how many of those lack cached ones (stored before schema v6), as
        sync/reports/queries.py sums them for one person."""
        day = DailyUsage.day
        current = day >= self.first
        before = (day >= self.previous_first) & (day < self.first)
        known = DailyUsage.input_tokens.is_null(False)
        gap = known & DailyUsage.cached_input_tokens.is_null()

        def summed(value, condition):
            return fn.SUM(Case(None, [(condition, value)], 0))

        return [
            summed(DailyUsage.credits, current),
            summed(DailyUsage.credits, before),
            summed(DailyUsage.input_tokens, current & known),
            summed(DailyUsage.cached_input_tokens, current & known & ~gap),
            summed(1, current & gap),
            summed(DailyUsage.input_tokens, before & known),
            summed(DailyUsage.cached_input_tokens, before & known & ~gap),
            summed(1, before & gap),
        ]

    def rows_in_window(self):
        """How many of the grouped rows fall in this window: a scan shared by wider windows
        keeps only the groups this window's own scan would return."""
        return fn.SUM(Case(None, [(DailyUsage.day >= self.window_first, 1)], 0))


@dataclass(frozen=True)
class Window:
    """What a roll-up is keyed by, but for the revision."""

    workspace_id: str
    bounds: Bounds
    last_day: dt.date

    def key(self) -> list:
        b = self.bounds
        return [
            AdoptionRollup.workspace_id == self.workspace_id,
            AdoptionRollup.window_first == b.window_first,
            AdoptionRollup.previous_first == b.previous_first,
            AdoptionRollup.first == b.first,
            AdoptionRollup.recent_first == b.recent_first,
            AdoptionRollup.idle_first == b.idle_first,
            AdoptionRollup.last_day == self.last_day,
        ]


@dataclass(frozen=True)
class WindowSums:
    """The two scans' rows, as the grouped SELECTs return them: (account, its last day
    with a row, 10 sums of a _Line) and (account, client, 8 surface sums); and, for the
    accounts of people with one account who left during the window and used it after,
    the same sums of the rows up to their last day (the cut an answer makes), by
    (account, that day): the line's 10 sums, and the rows (client, 8 sums)."""

    lines: list[tuple]
    surfaces: list[tuple]
    # Each account's last day with a row, as the driver gives it (see last_day_of).
    last_days: dict[str, object]
    cut_lines: dict[tuple[str, dt.date], tuple] = field(default_factory=dict)
    cut_surfaces: dict[tuple[str, dt.date], list[tuple]] = field(default_factory=dict)
    # Where they were read from, when `surfaces` were left there (see client_totals).
    stored_in: int | None = None
    # The organisation's surface sums per client, (client, 8 sums), and whose (see
    # _fingerprint): stored, or computed by a build for the directory it read.
    totals: list[tuple] = field(default_factory=list)
    totals_of: str | None = None

    def last_day_of(self, user: str) -> dt.date | None:
        day = self.last_days.get(user)
        return None if day is None else as_date(day)


@dataclass(frozen=True)
class Built:
    """A window's sums computed at a revision, not stored yet."""

    window: Window
    revision: int
    sums: WindowSums


class RollupGoneError(Exception):
    """The roll-up being read was pruned meanwhile (a newer one replaced it): ask again."""


def rolled_up(
    window: Window, users: Sequence[str] | None, *, surfaces: bool = True
) -> WindowSums | None:
    """The stored sums of `window` at the current usage revision, for `users` (None: every
    account), or None when no such roll-up is stored. Without `surfaces`, the surface
    rows but the cut ones stay stored, for client_totals to sum."""
    current = _current_rollup(window)
    if current is None:
        return None
    rollup, organisation = current
    line_columns = [
        AdoptionRollupLine.codex_user_id,
        AdoptionRollupLine.last_row_day,
        *_LINE_SUMS,
    ]
    surface_columns = [
        AdoptionRollupSurface.codex_user_id,
        AdoptionRollupSurface.client_id,
        AdoptionRollupSurface.cut_day,
        *_SURFACE_SUMS,
    ]
    sums = WindowSums([], [], {}, stored_in=None if surfaces else rollup, totals_of=organisation)
    uncut = {window.last_day, window.last_day.isoformat()}  # as either driver gives it
    batches: Iterable[Sequence[str] | None] = [None] if users is None else chunked(users, _BATCH)
    for batch in batches:
        line_query = AdoptionRollupLine.select(*line_columns).where(
            AdoptionRollupLine.rollup == rollup
        )
        cut_query = line_query.select_extend(AdoptionRollupLine.cut_day).where(
            AdoptionRollupLine.cut_day != window.last_day
        )
        line_query = line_query.where(AdoptionRollupLine.cut_day == window.last_day)
        surface_query = AdoptionRollupSurface.select(*surface_columns).where(
            AdoptionRollupSurface.rollup == rollup
        )
        if batch is not None:
            line_query = line_query.where(AdoptionRollupLine.codex_user_id.in_(batch))
            cut_query = cut_query.where(AdoptionRollupLine.codex_user_id.in_(batch))
            surface_query = surface_query.where(AdoptionRollupSurface.codex_user_id.in_(batch))
        if not surfaces:
            surface_query = surface_query.where(AdoptionRollupSurface.cut_day != window.last_day)
        # The driver's own values (text, integers, floats: no conversion to make): through
        # the ORM's row conversion, reading the organisation's 50k rows took most of the
        # answer's time.
        lines = database.execute_sql(*line_query.sql()).fetchall()
        sums.lines.extend(lines)
        sums.last_days.update((row[0], row[1]) for row in lines)
        for user, _, *values, cut in database.execute_sql(*cut_query.sql()):
            sums.cut_lines[user, as_date(cut)] = tuple(values)
        for user, client, cut, *values in database.execute_sql(*surface_query.sql()):
            if cut in uncut:
                sums.surfaces.append((user, client, *values))
            else:
                sums.cut_surfaces.setdefault((user, as_date(cut)), []).append((client, *values))
    # A newer roll-up's build deletes this one (lines and key in one transaction): read
    # after it, the lines would be missing, and the key says so.
    if not _still_stored(rollup):
        return None
    return sums


def client_totals(window: Window, sums: WindowSums, leaving_out: Collection[str]) -> list[tuple]:
    """The uncut surface sums of the accounts of stored `sums` but `leaving_out`, summed
    per client in SQL: (client, 8 sums). The organisation's answer reads 4 rows, not 40k
    (but for a long `leaving_out`). Raises RollupGoneError if the roll-up was pruned
    meanwhile."""
    assert sums.stored_in is not None
    left_out = set(leaving_out)
    if sums.totals_of == _fingerprint(u for u in sums.last_days if u not in left_out):
        total = AdoptionRollupTotal
        query = total.select(total.client_id, *_TOTAL_SUMS).where(total.rollup == sums.stored_in)
        rows = database.execute_sql(*query.sql()).fetchall()
        if not _still_stored(sums.stored_in):
            raise RollupGoneError
        return rows
    surface = AdoptionRollupSurface
    stored = (surface.rollup == sums.stored_in) & (surface.cut_day == window.last_day)
    if len(leaving_out) > _BATCH // 5:  # too long a list to send: the rows, left out here
        query = surface.select(surface.codex_user_id, surface.client_id, *_SURFACE_SUMS)
        rows = [
            row[1:]
            for row in database.execute_sql(*query.where(stored).sql())
            if row[0] not in left_out
        ]
    else:
        query = (
            surface.select(surface.client_id, *(fn.SUM(column) for column in _SURFACE_SUMS))
            .where(stored)
            .group_by(surface.client_id)
        )
        if leaving_out:
            query = query.where(surface.codex_user_id.not_in(list(leaving_out)))
        rows = database.execute_sql(*query.sql()).fetchall()
    if not _still_stored(sums.stored_in):
        raise RollupGoneError
    return rows


def _with_totals(sums: WindowSums, owners: dict[str, int]) -> WindowSums:
    """`sums` with the organisation's surface totals: its accounts but those an answer
    sums otherwise (unattributed, a person's several, a leaver's cut), as sync/reports/
    adoption.py leaves them out today."""
    accounts = Counter(owners.values())
    cut = {user for user, _ in sums.cut_lines}
    covered = [
        user
        for user in sums.last_days
        if user in owners and accounts[owners[user]] == 1 and user not in cut
    ]
    included = set(covered)
    totals: dict[str, list] = {}
    for user, client_id, *values in sums.surfaces:
        if user in included:
            known = totals.setdefault(client_id, [0] * len(values))
            for n, value in enumerate(values):
                known[n] += value or 0
    rows = [(client_id, *values) for client_id, values in totals.items()]
    return replace(sums, totals=rows, totals_of=_fingerprint(covered))


def _fingerprint(users: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(users)).encode()).hexdigest()


def _still_stored(rollup: int) -> bool:
    return AdoptionRollup.select().where(AdoptionRollup.id == rollup).exists()


def as_date(value) -> dt.date:
    """A day as the driver gives it (SQLite: ISO text)."""
    return dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _current_rollup(window: Window) -> tuple[int, str | None] | None:
    """The id of the roll-up of `window` at the current revision, and whose totals it has."""
    return (
        AdoptionRollup.select(AdoptionRollup.id, AdoptionRollup.organisation)
        .where(*window.key(), AdoptionRollup.revision == usage_revision())
        .tuples()
        .first()
    )


def rolled_up_or_built(window: Window, *, surfaces: bool = True) -> WindowSums:
    """The stored roll-up of `window` (see rolled_up), else its sums computed now and
    stored."""
    found = rolled_up(window, None, surfaces=surfaces)
    if found is not None:
        return found
    built = compute([window])[0]
    store(built)
    return built.sums


def compute(windows: Sequence[Window]) -> list[Built]:
    """The sums of `windows` (one workspace, one last day) over every account, in one
    pair of scans of the widest; read outside any transaction. Their revision is the one
    read before the scans, or -1 when a write landed during them (never stored)."""
    first = windows[0]
    assert all(
        (w.workspace_id, w.last_day) == (first.workspace_id, first.last_day) for w in windows
    )
    revision = usage_revision()
    in_window = (DailyUsage.workspace_id == first.workspace_id) & DailyUsage.day.between(
        min(w.bounds.window_first for w in windows), first.last_day
    )
    account, client, day = DailyUsage.codex_user_id, DailyUsage.client_id, DailyUsage.day
    wide = len(windows) > 1
    found = []
    # A line: 10 sums and the account's last day with a row; a surface: 8 sums.
    for by_client, width in ((False, 11), (True, 8)):
        keys = [account, client] if by_client else [account]
        columns = []
        for window in windows:
            b = window.bounds
            columns += b.surface_columns() if by_client else [fn.MAX(day), *b.columns()]
            if wide:
                columns.append(b.rows_in_window())
        query = DailyUsage.select(*keys, *columns).where(in_window).group_by(*keys)
        rows = database.execute_sql(*query.sql()).fetchall()
        split = []
        step = width + (1 if wide else 0)
        for n in range(len(windows)):
            start = len(keys) + n * step
            split.append(
                [
                    (*row[: len(keys)], *row[start : start + width])
                    for row in rows
                    if not wide or row[start + width]
                ]
            )
        found.append(split)
    owners = matched_employee_ids_by_codex_user()
    built = []
    for n, window in enumerate(windows):
        lines = found[0][n]
        sums = WindowSums(lines, found[1][n], {row[0]: row[1] for row in lines})
        _cut(window, sums, owners)
        built.append(_with_totals(sums, owners))
    if usage_revision() != revision:
        revision = -1  # the scans may have seen part of a write: good for this answer only
    return [Built(window, revision, sums) for window, sums in zip(windows, built, strict=True)]


def _cut(window: Window, sums: WindowSums, owners: dict[str, int]) -> None:
    """Add to `sums` the cut sums of the accounts of people with one account who left
    before the window's end and have rows after their last day: what an answer would
    otherwise sum from the rows, joined to the directory, at every ask. An account with
    no row up to that day gets a line of zeros (and no surface row), as the rows give."""
    accounts = Counter(owners.values())
    only_account = {person: user for user, person in owners.items() if accounts[person] == 1}
    left = (
        Employee.select(Employee.id, Employee.archived_on)
        .where(Employee.archived_on < window.last_day)
        .tuples()
    )
    cuts: dict[dt.date, list[str]] = {}
    for person, archived_on in left:
        user = only_account.get(person)
        last_day = None if user is None else sums.last_day_of(user)
        if user is not None and last_day is not None and last_day > archived_on:
            cuts.setdefault(archived_on, []).append(user)
            sums.cut_lines[user, archived_on] = (0,) * 10
    b = window.bounds
    account, client = DailyUsage.codex_user_id, DailyUsage.client_id
    for cut, users in cuts.items():
        if cut < b.window_first:
            continue  # no row of the window is theirs
        rows_up_to_cut = (DailyUsage.workspace_id == window.workspace_id) & DailyUsage.day.between(
            b.window_first, cut
        )
        for batch in chunked(users, _BATCH):
            mine = rows_up_to_cut & account.in_(batch)
            query = DailyUsage.select(account, *b.columns()).where(mine).group_by(account)
            for user, *values in database.execute_sql(*query.sql()):
                sums.cut_lines[user, cut] = tuple(values)
            query = (
                DailyUsage.select(account, client, *b.surface_columns())
                .where(mine)
                .group_by(account, client)
            )
            for user, client_id, *values in database.execute_sql(*query.sql()):
                sums.cut_surfaces.setdefault((user, cut), []).append((client_id, *values))


def store(built: Built) -> bool:
    """Store `built` in one short transaction, and prune the roll-ups it outdates; False
    when it is already stale or another builder stored the same roll-up first."""
    if built.revision < 0:
        return False
    window = built.window
    sums = built.sums
    last = window.last_day
    lines = [(user, last, *rest) for user, *rest in sums.lines]
    lines += [
        (user, cut, sums.last_days[user], *values) for (user, cut), values in sums.cut_lines.items()
    ]
    surfaces = [(user, client, last, *values) for user, client, *values in sums.surfaces]
    surfaces += [
        (user, client, cut, *values)
        for (user, cut), rows in sums.cut_surfaces.items()
        for client, *values in rows
    ]
    try:
        with database.atomic():
            if usage_revision() != built.revision:
                return False
            b = window.bounds
            rollup = AdoptionRollup.insert(
                organisation=sums.totals_of,
                workspace_id=window.workspace_id,
                window_first=b.window_first,
                previous_first=b.previous_first,
                first=b.first,
                recent_first=b.recent_first,
                idle_first=b.idle_first,
                last_day=window.last_day,
                revision=built.revision,
                built_at=utc_timestamp(),
            ).execute()
            _prune(window, built.revision)
            _insert(AdoptionRollupLine, _LINE_FIELDS, rollup, lines)
            _insert(AdoptionRollupSurface, _SURFACE_FIELDS, rollup, surfaces)
            _insert(AdoptionRollupTotal, _TOTAL_FIELDS, rollup, sums.totals)
    except IntegrityError:  # its key is taken: another builder stored it first
        return False
    return True


def _prune(window: Window, revision: int) -> None:
    """Delete the roll-ups no answer reads again: other workspaces', older revisions',
    and those of windows ending before this one."""
    stale = AdoptionRollup.select(AdoptionRollup.id).where(
        (AdoptionRollup.revision < revision)
        | (AdoptionRollup.workspace_id != window.workspace_id)
        | (AdoptionRollup.last_day < window.last_day)
    )
    ids = [rollup for (rollup,) in stale.tuples()]
    for batch in chunked(ids, _BATCH):
        AdoptionRollupLine.delete().where(AdoptionRollupLine.rollup.in_(batch)).execute()
        AdoptionRollupSurface.delete().where(AdoptionRollupSurface.rollup.in_(batch)).execute()
        AdoptionRollupTotal.delete().where(AdoptionRollupTotal.rollup.in_(batch)).execute()
        AdoptionRollup.delete().where(AdoptionRollup.id.in_(batch)).execute()


_LINE_SUMS = (
    AdoptionRollupLine.days,
    AdoptionRollupLine.previous_days,
    AdoptionRollupLine.recent_days,
    AdoptionRollupLine.idle_window_days,
    AdoptionRollupLine.credits,
    AdoptionRollupLine.previous_credits,
    AdoptionRollupLine.threads,
    AdoptionRollupLine.previous_threads,
    AdoptionRollupLine.turns,
    AdoptionRollupLine.previous_turns,
)
_SURFACE_SUMS = (
    AdoptionRollupSurface.credits,
    AdoptionRollupSurface.previous_credits,
    AdoptionRollupSurface.input_tokens,
    AdoptionRollupSurface.cached_input_tokens,
    AdoptionRollupSurface.cached_gaps,
    AdoptionRollupSurface.previous_input_tokens,
    AdoptionRollupSurface.previous_cached_input_tokens,
    AdoptionRollupSurface.previous_cached_gaps,
)
_LINE_FIELDS = (
    AdoptionRollupLine.rollup,
    AdoptionRollupLine.codex_user_id,
    AdoptionRollupLine.cut_day,
    AdoptionRollupLine.last_row_day,
    *_LINE_SUMS,
)
_SURFACE_FIELDS = (
    AdoptionRollupSurface.rollup,
    AdoptionRollupSurface.codex_user_id,
    AdoptionRollupSurface.client_id,
    AdoptionRollupSurface.cut_day,
    *_SURFACE_SUMS,
)


_TOTAL_SUMS = (
    AdoptionRollupTotal.credits,
    AdoptionRollupTotal.previous_credits,
    AdoptionRollupTotal.input_tokens,
    AdoptionRollupTotal.cached_input_tokens,
    AdoptionRollupTotal.cached_gaps,
    AdoptionRollupTotal.previous_input_tokens,
    AdoptionRollupTotal.previous_cached_input_tokens,
    AdoptionRollupTotal.previous_cached_gaps,
)
_TOTAL_FIELDS = (AdoptionRollupTotal.rollup, AdoptionRollupTotal.client_id, *_TOTAL_SUMS)


def _insert(model, fields: Sequence, rollup: int, rows: list[tuple]) -> None:
    """`rows` under `rollup`, by the driver's bulk path (PostgreSQL: COPY; SQLite:
    executemany): through the ORM, 50k rows cost seconds, and a multi-row INSERT on
    PostgreSQL two. SUM gives NULL for a group whose values are all NULL, stored as 0
    (what the answer counts them as)."""
    table = f'"{model._meta.table_name}"'
    names = ", ".join(f'"{f.column_name}"' for f in fields)
    cursor = database.cursor()
    values: Iterator[tuple] = (
        (rollup, *(value if value is not None else 0 for value in row)) for row in rows
    )
    if isinstance(database.obj, PostgresqlDatabase):
        text = "".join("\t".join(map(_copy_value, row)) + "\n" for row in values)
        cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", io.StringIO(text))
    else:
        marks = ", ".join("?" * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)


# COPY's text format: a backslash escapes these (an account or client id is the API's text).
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: object) -> str:
    """A value as COPY reads it back exactly: numbers and days as Python prints them (a
    float's repr round-trips), text escaped."""
    return value.translate(_COPY_ESCAPES) if isinstance(value, str) else str(value)


def warm(
    settings: AdoptionSettings, today: dt.date | None = None, extra_days: Iterable[int] = ()
) -> int:
    """Build the roll-ups of the common adoption windows (WARM_PERIOD_DAYS and
    `extra_days`, e.g. the digest's period) that are missing, so the first answer after a
    sync does not pay for them; returns how many were stored. The scheduler calls it
    after each sync; it holds no transaction but the short one that stores them."""
    workspace_id = current_workspace_id()
    if workspace_id is None:
        return 0
    today = today or utc_today()
    windows: list[Window] = []
    for days in (*WARM_PERIOD_DAYS, *extra_days):
        period = Period.ending_before(today, days)
        window = Window(workspace_id, Bounds.of(period, settings.idle_days), period.last_day)
        if window not in windows and _current_rollup(window) is None:
            windows.append(window)
    if not windows:
        return 0
    started = utc_timestamp()
    stored = sum(store(built) for built in compute(windows))
    seconds = (utc_timestamp() - started).total_seconds()
    log.info("adoption roll-ups: %s of %s windows built in %.1f s", stored, len(windows), seconds)
    return stored

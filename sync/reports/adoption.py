"""How a team or the whole organisation is adopting Codex: `/codex adoption`, the Home
tab's and the digest's adoption section, `codexbot adoption`.

The scope is a reporting line (everyone below a manager, all levels) or the organisation
(everyone in the directory). A person is in a period's scope unless they left before it
began (as in digests: `activity_counts` on its first day); a leaver's days after leaving
are nobody's. Definitions, each for the period and for the one before it:

- *active*: a person with at least one active day (a day with a thread, a turn or credits);
  *adoption rate*: active people over people in scope;
- *average daily active*: active person-days over the period's days; *active in the last
  7 days*: people with an active day in the period's last 7 days (the weekly figure);
- *cohort*, by each person's own level: none (no active day), light, moderate or heavy
  (`[adoption]`: a share of the period's days active AND credits per 30 days, pro-rated);
- *new adopters*: active now and not in the period before; *lapsed*: the reverse (both
  among people still in scope);
- *idle seat*: someone with a matched Codex account, still here, with no active day in the
  last `adoption.idle_days` days up to the period's end;
- *surface mix*: credits by surface; *turn depth*: turns over threads, summed first;
- *cache share*: cached input tokens over input tokens, unknown while some rows of the
  period were stored without cached tokens (before schema v6), as for one person.

The figures come from grouped SQL: usage summed per Codex account in two scans of the
window (per account; per account and client), rolled up once per usage revision and
window (sync/reports/adoption_rollups.py), and exactly per person (with the archive cut)
only for the few people with an archive date or several accounts. Python then walks
one line per person, never a row of usage. Names (cohort and idle lists) go only to a
viewer who may see the own figures of each person in the list (sync/org/privacy.py), and
a group whose hidden people are too few to show is withheld whole (the group-size floor).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from peewee import JOIN, chunked, fn

from sync.clock import utc_today
from sync.config import AdoptionSettings
from sync.notices import Notice
from sync.org.access import Viewer, has_access, is_admin, manages, sees_organisation
from sync.org.access_log import record_views
from sync.org.chart import direct_reports, members_below
from sync.org.directory import codex_user_ids_by_employee, matched_employee_ids_by_codex_user
from sync.org.privacy import floor_of, individually_visible, sum_shown
from sync.reports.adoption_rollups import Bounds as _Bounds
from sync.reports.adoption_rollups import (
    RollupGoneError,
    Window,
    WindowSums,
    as_date,
    client_totals,
    rolled_up,
    rolled_up_or_built,
)
from sync.reports.coverage import Coverage, DayRange
from sync.reports.metrics import Stats
from sync.reports.periods import Period
from sync.reports.surfaces import SURFACE_ORDER, surface_of
from sync.store.models import CodexUser, DailyUsage, EmailAlias, Employee, database

NOT_IN_DIRECTORY = Notice("not_in_directory")
REFUSED = Notice("refused")
# Where a view through an adoption answer is logged (AccessLog.SURFACES).
ADOPTION_SURFACE = "adoption"
COHORTS = ("none", "light", "moderate", "heavy")
# People named in each list (heavy users, people not using Codex, idle seats).
NAMED_PER_LIST = 10
_BATCH = 5000


@dataclass(frozen=True)
class AdoptionFigures:
    """One period's figures over a scope."""

    people: int
    active: int
    active_person_days: int
    days: int
    recent_active: int
    cohorts: dict[str, int]
    credits: float
    threads: int
    turns: int
    credits_by_surface: dict[str, float]
    input_tokens: int = 0
    cached_input_tokens: int | None = None  # unknown when some rows were stored without

    @property
    def adoption_rate(self) -> float | None:
        return self.active / self.people if self.people else None

    @property
    def average_daily_active(self) -> float:
        return self.active_person_days / self.days if self.days else 0.0

    @property
    def turn_depth(self) -> float | None:
        """Turns per thread, as for one person (sync/reports/metrics.py)."""
        return Stats(threads=self.threads, turns=self.turns).turn_depth

    @property
    def cache_share(self) -> float | None:
        """Cached input tokens over input tokens, as for one person."""
        return Stats(
            input_tokens=self.input_tokens, cached_input_tokens=self.cached_input_tokens
        ).cache_share

    def surface_shares(self) -> dict[str, float]:
        """Each surface's share of the credits, in surface order."""
        total = sum(self.credits_by_surface.values())
        if total <= 0:
            return {}
        return {s: c / total for s, c in self.credits_by_surface.items() if c > 0}


@dataclass(frozen=True)
class NamedList:
    """The people of one list the viewer may see by name (the first ones by name), and
    how many more the list has, seen or not."""

    people: list[Employee]
    more: int


@dataclass(frozen=True)
class AdoptionAnswer:
    period: Period
    scope: str  # "team" (a reporting line) or "org"
    manager: Employee | None  # whose reporting line, when not the viewer's own
    current: AdoptionFigures
    previous: AdoptionFigures
    new_adopters: int
    lapsed: int
    idle_seats: int
    idle_days: int
    data_as_of: dt.datetime | None
    missing: list[DayRange]
    # Set when the group is too small to show to this viewer: the floor (N), and no figures.
    withheld_below: int | None = None
    named: dict[str, NamedList] = field(default_factory=dict)  # "heavy", "none", "idle"

    @property
    def named_people(self) -> list[Employee]:
        return [person for names in self.named.values() for person in names.people]

    def change(self, now: float | None, before: float | None) -> float | None:
        if now is None or before is None or before == 0:
            return None
        return (now - before) / before


@dataclass
class _Line:
    """One person's (or one account's) sums over the window, as the SQL returns them."""

    days: int = 0
    previous_days: int = 0
    recent_days: int = 0
    idle_window_days: int = 0
    credits: float = 0.0
    previous_credits: float = 0.0
    threads: int = 0
    previous_threads: int = 0
    turns: int = 0
    previous_turns: int = 0

    def add(self, other: _Line) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class _Member(NamedTuple):
    """What attribution reads of a person (sync/org/directory.py)."""

    id: int
    email: str


@dataclass(frozen=True)
class _Scope:
    people: dict[int, dt.date | None]  # person id -> archived_on
    # Each person's directory email, for a reporting line (the organisation's accounts are
    # attributed in one query instead).
    emails: dict[int, str] | None = None


def ask_adoption(
    viewer: Viewer,
    period: Period,
    settings: AdoptionSettings,
    admin_emails: Collection[str] = (),
    find_manager: Callable[[], Employee | None] | None = None,
    *,
    whole_organisation: bool = False,
) -> AdoptionAnswer | Notice:
    """`/codex adoption [team|org|@manager]`: the viewer's reporting line; a manager's
    below them (`@manager`); the organisation, for admins and analysts, who may also name
    any manager. Anyone else is refused as a stats mention is. For an admin or analyst
    nobody reports to, plain `adoption` is the organisation. `admin_emails`: an
    AccessPolicy (sync/org/access.py), whose floor applies."""
    employee = viewer.employee
    if employee is None:
        return NOT_IN_DIRECTORY
    if not has_access(employee):
        return REFUSED
    whole = sees_organisation(viewer, admin_emails)
    if whole_organisation:
        if not whole:
            return Notice("organisation_adoption_refused")
        return adoption_answer(period, settings, employee, admin_emails, whole_organisation=True)
    manager = employee
    if find_manager is not None:
        named = find_manager()
        if named is None or not (named.id == employee.id or whole or manages(employee, named)):
            return REFUSED
        manager = named
    if not direct_reports(manager):
        if manager.id != employee.id:
            return Notice("no_team_of", {"name": manager.display_name})
        if whole:
            return adoption_answer(
                period, settings, employee, admin_emails, whole_organisation=True
            )
        return Notice("no_team")
    return adoption_answer(period, settings, employee, admin_emails, manager=manager)


def adoption_answer(
    period: Period,
    settings: AdoptionSettings,
    viewer: Employee,
    admin_emails: Collection[str] = (),
    *,
    manager: Employee | None = None,
    whole_organisation: bool = False,
    names: bool = True,
) -> AdoptionAnswer:
    """The adoption figures of `manager`'s reporting line (or the whole organisation) for
    `period` against the one before, as `viewer` may see them: the caller has decided
    that `viewer` may ask for this scope. Records a view of everyone it names; with
    `names` off (a short section of the Home tab or a digest), it names nobody."""
    coverage = Coverage.load(period.previous.first_day, utc_today())
    today = utc_today()
    people = _scope_people(None if whole_organisation else manager)
    lines, accounts, surfaces = _per_person(
        people, period, settings.idle_days, coverage.workspace_id
    )
    current, previous, new, lapsed, idle, lists = _figures(
        people, lines, accounts, surfaces, period, settings, today
    )
    size = current.people
    if whole_organisation:
        # What individually_visible gives for the only viewers who may ask for the whole
        # organisation (an admin sees everyone, an analyst only themself), without loading
        # every person of it: everyone else is hidden from an analyst, and the whole
        # organisation is whole cells of sync/org/privacy.py, so the floor alone decides.
        own = 1 if viewer.id in people.people else 0
        hidden = 0 if is_admin(viewer, admin_emails=admin_emails) else size - own
        may_show = not floor_of(admin_emails).hides_hidden(hidden)
    else:
        # The one test for a group figure (the floor, and no subtraction between sums).
        may_show = sum_shown(viewer, _in_scope(people, period), admin_emails)
    floor = floor_of(admin_emails)
    answer = AdoptionAnswer(
        period=period,
        scope="org" if whole_organisation else "team",
        manager=None
        if whole_organisation or manager is None or manager.id == viewer.id
        else manager,
        current=current,
        previous=previous,
        new_adopters=new,
        lapsed=lapsed,
        idle_seats=idle,
        idle_days=settings.idle_days,
        data_as_of=coverage.data_as_of,
        missing=coverage.missing(period),
    )
    if not may_show:
        return _withheld(answer, floor.min_group_size)
    named = _named_lists(viewer, lists, admin_emails) if names else {}
    shown = replace(answer, named=named)
    record_views(viewer, shown.named_people, ADOPTION_SURFACE)
    return shown


def _in_scope(scope: _Scope, period: Period) -> list[int]:
    """The ids of the scope's people still here when `period` begins."""
    return [
        person
        for person, archived_on in scope.people.items()
        if archived_on is None or archived_on >= period.first_day
    ]


def _withheld(answer: AdoptionAnswer, floor: int) -> AdoptionAnswer:
    empty = AdoptionFigures(0, 0, 0, answer.period.days, 0, dict.fromkeys(COHORTS, 0), 0, 0, 0, {})
    return replace(
        answer,
        current=empty,
        previous=empty,
        new_adopters=0,
        lapsed=0,
        idle_seats=0,
        withheld_below=floor,
    )


def _scope_people(manager: Employee | None) -> _Scope:
    if manager is None:  # the driver's rows: only the few archive dates need converting
        query = Employee.select(Employee.id, Employee.archived_on)
        rows = database.execute_sql(*query.sql())
        return _Scope(
            {person: archived_on and as_date(archived_on) for person, archived_on in rows}
        )
    people: dict[int, dt.date | None] = {}
    emails: dict[int, str] = {}
    for batch in chunked(list(members_below([manager])), _BATCH):
        query = Employee.select(Employee.id, Employee.archived_on, Employee.email).where(
            Employee.id.in_(batch)
        )
        for person, archived_on, email in query.tuples():
            people[person], emails[person] = archived_on, email
    return _Scope(people, emails)


def _per_person(
    scope: _Scope, period: Period, idle_days: int, workspace_id: str | None
) -> tuple[dict[int, _Line], dict[int, int], dict[str, list[float]]]:
    """Each person's sums over the window, how many matched Codex accounts each has, and
    the scope's credits by surface ([this period, the one before])."""
    if scope.emails is None:
        owner_of = {
            user: person
            for user, person in matched_employee_ids_by_codex_user().items()
            if person in scope.people
        }
    else:  # only the line's own accounts: a digest run asks this for every manager
        members = [_Member(person, email) for person, email in scope.emails.items()]
        owner_of = {
            user: person
            for person, users in codex_user_ids_by_employee(members).items()
            for user in users
        }
    accounts: dict[int, int] = {}
    for person in owner_of.values():
        accounts[person] = accounts.get(person, 0) + 1
    if workspace_id is None or not owner_of:
        return {}, accounts, {}
    try:
        lines, surfaces = _sums(scope, owner_of, accounts, period, idle_days, workspace_id)
    except RollupGoneError:  # replaced while read: the new one is there, or is built
        lines, surfaces = _sums(scope, owner_of, accounts, period, idle_days, workspace_id)
    return lines, accounts, surfaces


def _sums(
    scope: _Scope,
    owner_of: dict[str, int],
    accounts: dict[int, int],
    period: Period,
    idle_days: int,
    workspace_id: str,
) -> tuple[dict[int, _Line], dict[str, list[float]]]:
    lines: dict[int, _Line] = {}
    surfaces: dict[str, list[float]] = {}
    bounds = _Bounds.of(period, idle_days)
    in_window = (DailyUsage.workspace_id == workspace_id) & DailyUsage.day.between(
        bounds.window_first, period.last_day
    )
    # The per-account sums from the window's roll-up (sync/reports/adoption_rollups.py):
    # the organisation's answer builds it when missing (its scans are the ones the answer
    # would run anyway) and sums its surfaces by client in SQL; a reporting line reads its
    # own accounts' or, without a roll-up, sums them itself.
    window = Window(workspace_id, bounds, period.last_day)
    sums: WindowSums | None
    if scope.emails is None or len(owner_of) > _BATCH:
        sums = rolled_up_or_built(window, surfaces=False)
    else:
        sums = rolled_up(window, list(owner_of))
    # Exact per person (their rows joined to the directory, cut at their last day) for
    # people with several accounts, and for people with one and an archive date by the
    # period's end who used it after that date, unless the roll-up holds that cut;
    # everyone else per account, with no join.
    leavers = {
        person: archived_on
        for person, archived_on in scope.people.items()
        if accounts.get(person) == 1 and archived_on is not None and archived_on <= period.last_day
    }
    exact = {person for person, count in accounts.items() if count > 1}
    # A leaver's account, summed up to their last day in the roll-up: its line and rows.
    cut_lines: dict[str, tuple] = {}
    cut_surfaces: dict[str, list[tuple]] = {}
    if sums is None:
        exact |= set(leavers)
    else:
        for user, person in owner_of.items():
            last_day = sums.last_day_of(user) if person in leavers else None
            if last_day is not None and last_day > leavers[person]:
                key = (user, leavers[person])
                if key in sums.cut_lines:
                    cut_lines[user] = sums.cut_lines[key]
                    cut_surfaces[user] = sums.cut_surfaces.get(key, [])
                else:  # the directory changed since the roll-up: sum the rows
                    exact.add(person)
    simple_users = [user for user, person in owner_of.items() if person not in exact]
    exact_users = [user for user, person in owner_of.items() if person in exact]
    for by_surface, columns in ((False, bounds.columns()), (True, bounds.surface_columns())):
        client = [DailyUsage.client_id] if by_surface else []
        if sums is None:
            found: Iterable = _by_account(simple_users, in_window, client, columns)
        elif not by_surface:  # (account, its last day with a row, the sums): most of them
            for user, _, *rest in sums.lines:
                owner = owner_of.get(user)
                if owner is None or owner in exact or user in cut_lines:
                    continue
                summed, known = _Line(*rest), lines.get(owner)
                if known is None:
                    lines[owner] = summed
                else:
                    known.add(summed)
            found = ()
        elif sums.stored_in is None:
            found = sums.surfaces
        else:  # summed per client by the database, but for the accounts not simple here
            leaving_out = [
                user
                for user in sums.last_days
                if owner_of.get(user) in exact or owner_of.get(user) is None or user in cut_lines
            ]
            for row in client_totals(window, sums, leaving_out):
                _take(lines, surfaces, 0, list(row), True)
            found = ()
        for user, *rest in found:
            simple = owner_of.get(user)
            if simple is None or simple in exact or user in cut_lines:
                continue
            _take(lines, surfaces, simple, rest, by_surface)
        for user, line in cut_lines.items():
            if by_surface:
                for row in cut_surfaces[user]:
                    _take(lines, surfaces, owner_of[user], list(row), True)
            else:
                _take(lines, surfaces, owner_of[user], list(line), False)
        for owner, *rest in _by_person(exact_users, in_window, client, columns):
            _take(lines, surfaces, int(owner), rest, by_surface)
    return lines, surfaces


def _take(lines, surfaces, person: int, rest: list, by_surface: bool) -> None:
    if by_surface:
        client_id, *values = rest
        sums = surfaces.setdefault(surface_of(client_id), [0.0] * len(values))
        for n, value in enumerate(values):
            sums[n] += float(value or 0)  # PostgreSQL sums 64-bit integers as Decimal
    else:
        line = _Line(*(value or 0 for value in rest))
        known = lines.get(person)
        if known is None:  # most people: one account
            lines[person] = line
        else:
            known.add(line)


def _by_account(users: list[str], in_window, client: list, columns: list):
    """Sums per Codex account (and client, if asked) of a few accounts, in batches."""
    by_account = DailyUsage.codex_user_id
    for batch in chunked(users, _BATCH):
        query = DailyUsage.select(by_account, *client, *columns).where(
            in_window, by_account.in_(batch)
        )
        yield from query.group_by(by_account, *client).tuples()


def _by_person(users: list[str], in_window, client: list, columns: list):
    """Sums per person (and client, if asked) over their accounts' rows up to their last
    day, attributed as sync/org/directory.py attributes them."""
    owner = fn.COALESCE(Employee.id, EmailAlias.employee)
    person_row = Employee.alias("person")
    for batch in chunked(users, _BATCH):
        query = (
            DailyUsage.select(owner, *client, *columns)
            .join(CodexUser, on=(CodexUser.user_id == DailyUsage.codex_user_id))
            .join(Employee, JOIN.LEFT_OUTER, on=(Employee.email == CodexUser.email))
            .join_from(
                CodexUser,
                EmailAlias,
                JOIN.LEFT_OUTER,
                on=(EmailAlias.codex_email == CodexUser.email),
            )
            .join_from(DailyUsage, person_row, on=(person_row.id == owner))
            .where(
                in_window,
                DailyUsage.codex_user_id.in_(batch),
                person_row.archived_on.is_null() | (DailyUsage.day <= person_row.archived_on),
            )
            .group_by(owner, *client)
            .tuples()
        )
        yield from query


def cohort_of(active_days: int, credits: float, days: int, settings: AdoptionSettings) -> str:
    """A person's cohort over a period of `days` days: its thresholds are shares of the
    days active and credits per 30 days, pro-rated to the period's length."""
    if active_days == 0:
        return "none"
    share, per_30 = active_days / days, credits * 30 / days
    if share >= settings.heavy_active_day_share and per_30 >= settings.heavy_credits:
        return "heavy"
    if share >= settings.moderate_active_day_share and per_30 >= settings.moderate_credits:
        return "moderate"
    return "light"


def _figures(
    scope: _Scope,
    lines: dict[int, _Line],
    accounts: dict[int, int],
    surfaces: dict[str, list[float]],
    period: Period,
    settings: AdoptionSettings,
    today: dt.date,
):
    previous = period.previous
    counts = {"now": dict.fromkeys(COHORTS, 0), "before": dict.fromkeys(COHORTS, 0)}
    totals = {"now": [0, 0, 0, 0.0, 0, 0, 0], "before": [0, 0, 0, 0.0, 0, 0, 0]}
    new = lapsed = idle = 0
    lists: dict[str, list[int]] = {"heavy": [], "none": [], "idle": []}
    empty = _Line()
    for person, archived_on in scope.people.items():
        line = lines.get(person, empty)
        in_now = archived_on is None or archived_on >= period.first_day
        in_before = archived_on is None or archived_on >= previous.first_day
        if in_before:
            cohort = cohort_of(line.previous_days, line.previous_credits, previous.days, settings)
            counts["before"][cohort] += 1
            _add(
                totals["before"],
                line.previous_days,
                0,
                line.previous_credits,
                line.previous_threads,
                line.previous_turns,
            )
        if not in_now:
            continue
        cohort = cohort_of(line.days, line.credits, period.days, settings)
        counts["now"][cohort] += 1
        _add(totals["now"], line.days, line.recent_days, line.credits, line.threads, line.turns)
        if cohort in lists:
            lists[cohort].append(person)
        if line.days and not line.previous_days:
            new += 1
        elif line.previous_days and not line.days:
            lapsed += 1
        still_here = archived_on is None or archived_on > today
        if accounts.get(person) and still_here and not line.idle_window_days:
            idle += 1
            lists["idle"].append(person)
    ordered = [s for s in SURFACE_ORDER if s in surfaces]
    now_mix = {s: round(surfaces[s][0], 6) for s in ordered}
    before_mix = {s: round(surfaces[s][1], 6) for s in ordered}
    now = _period_figures(totals["now"], counts["now"], period.days, now_mix, _tokens(surfaces, 2))
    before = _period_figures(
        totals["before"], counts["before"], previous.days, before_mix, _tokens(surfaces, 5)
    )
    return now, before, new, lapsed, idle, lists


def _add(
    total: list, days: int, recent_days: int, credits: float, threads: int, turns: int
) -> None:
    total[0] += 1  # people
    total[1] += 1 if days else 0  # active
    total[2] += days
    total[3] += credits
    total[4] += threads
    total[5] += turns
    total[6] += 1 if recent_days else 0


def _tokens(surfaces: dict[str, list[float]], start: int) -> tuple[int, int | None]:
    """Input tokens and cached input tokens from the surface sums at `start`; the cached
    ones unknown when some row lacks them."""
    input_tokens, cached, gaps = (
        int(sum(sums[start + n] for sums in surfaces.values())) for n in range(3)
    )
    return input_tokens, None if gaps else cached


def _period_figures(
    total: list, cohorts: dict[str, int], days: int, surfaces, tokens: tuple[int, int | None]
) -> AdoptionFigures:
    people, active, person_days, credits, threads, turns, recent = total
    return AdoptionFigures(
        people,
        active,
        person_days,
        days,
        recent,
        cohorts,
        round(credits, 6),
        threads,
        turns,
        surfaces,
        *tokens,
    )


def _named_lists(
    viewer: Employee, lists: dict[str, list[int]], admin_emails: Collection[str]
) -> dict[str, NamedList]:
    """The first NAMED_PER_LIST people of each list by name, for a viewer who may see each
    person of that list one by one; a list with anyone else in it is not named at all (its
    named part would tell, by difference, where the others are)."""
    named: dict[str, NamedList] = {}
    # An admin sees everyone (individually_visible): an organisation's list of thousands
    # is then sorted from names alone, and only the people named are loaded.
    sees_everyone = has_access(viewer) and is_admin(viewer, admin_emails=admin_emails)
    directory: dict[int, tuple[int, str, str]] = {}
    for kind, ids in lists.items():
        if not ids:
            continue
        if sees_everyone:
            names = _names(ids, directory)
            by_name = heapq.nsmallest(
                NAMED_PER_LIST, names, key=lambda row: ((row[1] or row[2]).lower(), row[2])
            )
            first = [person for person, _, _ in by_name]
            by_id = {p.id: p for p in Employee.select().where(Employee.id.in_(first))}
            people = [by_id[person] for person in first]
            named[kind] = NamedList(people, max(0, len(names) - NAMED_PER_LIST))
            continue
        everyone: list[Employee] = []
        for batch in chunked(ids, _BATCH):
            everyone += list(Employee.select().where(Employee.id.in_(batch)))
        if len(individually_visible(viewer, everyone, admin_emails)) < len(everyone):
            continue
        everyone.sort(key=lambda p: (p.display_name.lower(), p.email))
        named[kind] = NamedList(everyone[:NAMED_PER_LIST], max(0, len(everyone) - NAMED_PER_LIST))
    return named


def _names(
    ids: list[int], directory: dict[int, tuple[int, str, str]]
) -> list[tuple[int, str, str]]:
    """(id, name, email) of `ids`; for a long list, read from the whole directory, once
    (`directory` keeps it): an id list of thousands costs more to send than the rows."""
    if len(ids) <= _BATCH // 5:
        query = Employee.select(Employee.id, Employee.name, Employee.email)
        return list(query.where(Employee.id.in_(ids)).tuples())
    if not directory:  # the driver's rows, as they are: no field converts these
        query = Employee.select(Employee.id, Employee.name, Employee.email)
        directory.update((row[0], row) for row in database.execute_sql(*query.sql()))
    return [directory[person] for person in ids]

"""The decisions behind every answer: look people up, ask the access policy, query, and
log who viewed whom.

Each surface (CLI, slash commands, DMs, the Home tab) parses its request, calls one
function here and renders what it gets back through a template. Answers are values, never
sentences: a refusal or a confirmation is a `Notice` whose kind a template words.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace

from sync.clock import utc_now, utc_today
from sync.codex.connection import (
    ConnectionInfo,
    connection_info,
    disconnect_and_forget,
    remove_connection,
)
from sync.config import API_HISTORY_DAYS, AdoptionSettings, Settings
from sync.ingest.scheduled import next_sync_at
from sync.notices import Notice
from sync.org.access import (
    AccessPolicy,
    Admins,
    Viewer,
    admins,
    aggregates_only,
    has_access,
    is_archived,
    may_view,
    policy_of,
    sees_organisation,
    team_of,
)
from sync.org.access_log import DEFAULT_LOOKBACK_DAYS, View, record_views, views_of
from sync.org.chart import load_org_chart, manager_ids_above, members_below, reporting_chain
from sync.org.directory import count_unmatched_codex_users, find_employee
from sync.org.privacy import floor_of, individually_visible, sum_cells, sum_shown
from sync.org.source import SourceState, source_state
from sync.org.time_zones import time_zone_of
from sync.reports.adoption import AdoptionAnswer, adoption_answer
from sync.reports.coverage import Coverage, DayRange
from sync.reports.digest import Digest, compose_digest
from sync.reports.organisation import (
    BRANCHES_SHOWN,
    OrganisationUsage,
    organisation_usage,
)
from sync.reports.periods import STATS_PERIOD_DAYS, LocalToday, Period
from sync.reports.queries import StatsAnswer, TeamRollup, stats_answer, stats_answers
from sync.reports.schedules import DigestScheduleAnswer
from sync.store.claims import claim_once
from sync.store.models import ROLE_ANALYST, Employee, SyncRun
from sync.store.workspaces import (
    current_workspace_id,
    previous_workspace_id,
    usage_held,
    workspace_connected_at,
)

# Slack retries an event it thinks went unanswered within minutes; a day is plenty.
EVENT_CLAIM_SECONDS = 24 * 3600

# The period a request names, on the asker's own calendar (bot/parsing.py reads it).
PeriodFor = Callable[[LocalToday], Period]


@dataclass(frozen=True)
class TeamUsage:
    period: Period
    rows: list[StatsAnswer]  # the busiest first, cut to what a message can show
    hidden: int
    size: int
    total_credits: float
    active_people: int
    data_as_of: dt.datetime | None
    missing: list[DayRange]  # days of the period no sync has read
    # People of the team who have left (archived by now), by employee id: said beside
    # their name, so nobody reads a leaver as someone who stopped using Codex.
    left_on: dict[int, dt.date] = field(default_factory=dict)
    # Whose reporting line this is, when not the viewer's own (`/codex team @manager`).
    manager: Employee | None = None
    # Everyone in the reporting line, `rows` first: what a team chart sums (bot/charts.py).
    members: tuple[StatsAnswer, ...] = ()
    # People of the team the viewer may not see one by one (works-council mode, an
    # analyst): only in the sums, never in `rows` or `members`...
    aggregate_only: int = 0
    # ...and, when they are fewer than the floor, the floor: the sums are withheld too.
    floor: int | None = None


@dataclass(frozen=True)
class AccessLogAnswer:
    """Who viewed `target`'s stats; `own` when the target asked about themself."""

    target: Employee
    own: bool
    views: list[View]
    days: int


@dataclass(frozen=True)
class Transparency:
    """ "What can my manager see?": who may see `person`'s figures, how, and who did."""

    person: Employee
    # Their managers, nearest first: each sees their own figures, or with works-council
    # mode on for them, only sums over at least `floor` people that include them.
    managers: list[Employee]
    individual_views: bool
    admins: Admins
    analysts: int  # people with the analyst role: sums over at least `floor` people
    floor: int
    log: AccessLogAnswer


@dataclass(frozen=True)
class Status:
    """What an admin (or an operator at the CLI) sees of codexbot's state."""

    connection: ConnectionInfo | None
    workspace_since: dt.datetime | None  # when the connected workspace was first connected
    previous_workspace: str | None  # the one it replaced, whose history is kept apart
    last_run: SyncRun | None
    next_sync: dt.datetime | None
    unmatched: int
    missing: list[DayRange]  # days of the last 90 that no sync has read
    org_source: SourceState | None = None  # the [org] source file's last import, if one is set

    @property
    def last_run_error(self) -> Notice | None:
        return Notice.from_stored(self.last_run.error) if self.last_run else None

    @property
    def last_run_rejected(self) -> Notice | None:
        if self.last_run is None or not self.last_run.rejected:
            return None
        return Notice("rows_rejected", {"counts": json.loads(self.last_run.rejected)})

    @property
    def last_run_warning(self) -> Notice | None:
        return Notice.from_stored(self.last_run.warning) if self.last_run else None


@dataclass(frozen=True)
class Home:
    answer: StatsAnswer | None
    team: TeamUsage | None
    archived: bool
    # A manager's reporting line's adoption over the same days (sync/reports/adoption.py).
    adoption: AdoptionAnswer | None = None


@dataclass(frozen=True)
class ForgetConfirmation:
    """Deleting a workspace's usage is asked for twice: this is the question."""

    workspace_id: str
    usage_rows: int
    days: int


@dataclass(frozen=True)
class Help:
    problem: Notice | None = None


# Whatever a deciding function may return; bot/messages.py renders each.
Answer = (
    StatsAnswer
    | TeamUsage
    | Digest
    | AccessLogAnswer
    | Status
    | Home
    | Help
    | ForgetConfirmation
    | OrganisationUsage
    | DigestScheduleAnswer
    | Transparency
    | Notice
)

NOT_IN_DIRECTORY = Notice("not_in_directory")
REFUSED = Notice("refused")
HOME_PERIOD_DAYS = 30
HOME_TEAM_ROWS = 20


# --- The building blocks: one answer each, access-checked and logged ---------------------


def stats_for(
    viewer: Employee | None,
    target: Employee | None,
    period: Period,
    admin_emails: Collection[str] = (),
    *,
    surface: str,
    time_zone: str = "UTC",
) -> StatsAnswer | None:
    """`target`'s stats if `viewer` may see them; None alike for "no such person" and
    "not allowed", so a refusal never reveals whether someone exists or has data.
    Every answer about someone else goes into the access log. `time_zone`: the viewer's,
    which the answer's times are shown in."""
    if viewer is None or target is None or not may_view(viewer, target, admin_emails):
        return None
    answer = replace(stats_answer(target, period), time_zone=time_zone)
    record_views(viewer, [target], surface)
    return answer


def digest_for(
    manager: Employee,
    today: dt.date,
    period_days: int,
    policy: Collection[str] = (),
    adoption: AdoptionSettings | None = None,
) -> Digest | None:
    """A manager's digest, shown now (a preview); logged as a view of each report named.
    `adoption`: the [adoption] settings, for the digest's adoption section."""
    if not has_access(manager, today):
        return None
    digest = compose_digest(manager, today, period_days, policy=policy, adoption=adoption)
    record_views(manager, [entry.answer.employee for entry in digest.entries], "digest")
    return digest


def team_for(
    viewer: Employee,
    period: Period,
    shown: int = 900,
    *,
    surface: str = "team",
    manager: Employee | None = None,
    policy: Collection[str] = (),
) -> TeamUsage | None:
    """Everyone in `viewer`'s reporting chain, by credits, or in `manager`'s (whom the
    caller checked `viewer` may view, or see sums of); None for someone with no reports.
    People `viewer` may not see one by one under `policy` (works-council mode, an
    analyst) count in the sums only, and the sums obey the group-size floor."""
    if manager is not None and manager.id != viewer.id:
        chain = reporting_chain(manager)
    else:
        manager, chain = None, team_of(viewer)
    if not chain:
        return None
    coverage = Coverage.load(period.previous.first_day, utc_today())
    answers = stats_answers(chain, period, coverage)
    ranked = sorted(
        answers.values(),
        key=lambda a: (-a.current.totals.credits, a.employee.display_name.lower()),
    )
    everyone = ranked
    aggregate_only, floor = 0, None
    if viewer.is_analyst or policy_of(policy).works_council:
        visible = individually_visible(viewer, chain, policy)
        ranked = [a for a in everyone if a.employee.id in visible]
        aggregate_only = len(everyone) - len(ranked)
        if aggregate_only and not sum_shown(viewer, [p.id for p in chain], policy):
            floor, everyone = floor_of(policy).min_group_size, []
    record_views(viewer, [a.employee for a in ranked[:shown]], surface)
    return TeamUsage(
        period=period,
        rows=ranked[:shown],
        hidden=max(0, len(ranked) - shown),
        size=len(chain),
        total_credits=round(sum(a.current.totals.credits for a in everyone), 6),
        active_people=sum(1 for a in everyone if a.current.active_days),
        data_as_of=coverage.data_as_of,
        missing=coverage.missing(period),
        left_on={
            a.employee.id: a.employee.archived_on
            for a in ranked[:shown]
            if a.employee.archived_on is not None and is_archived(a.employee)
        },
        manager=manager,
        members=tuple(ranked),
        aggregate_only=aggregate_only,
        floor=floor,
    )


# --- One deciding function per request ---------------------------------------------------


def today_of(
    person: Employee | None, default_time_zone: str, now: dt.datetime | None = None
) -> LocalToday:
    """Today on `person`'s own calendar at `now` (aware; by default now), which every
    period they ask for counts back from (sync/org/time_zones.py decides their zone)."""
    return LocalToday.at(now or utc_now(), time_zone_of(person, default_time_zone))


def last_days_of(viewer: Viewer, days: int, default_time_zone: str = "UTC") -> Period:
    """The last `days` complete days on the viewer's own calendar, as a DM's "30d" and the
    Home tab count them: `/codex team`, `adoption` and `export` cover the same days as
    their asker's own stats."""
    return today_of(viewer.employee, default_time_zone).last_days(days)


def ask_stats(
    viewer: Viewer,
    find_target: Callable[[], Employee | None],
    period_for: PeriodFor,
    admin_emails: Collection[str],
    surface: str,
    default_time_zone: str = "UTC",
) -> StatsAnswer | Notice:
    """Someone's stats, for the period `period_for` names on the asker's calendar;
    `find_target` is only called for a viewer in the directory."""
    if viewer.employee is None:
        return NOT_IN_DIRECTORY
    today = today_of(viewer.employee, default_time_zone)
    period = period_for(today)
    target = find_target()
    answer = stats_for(
        viewer.employee, target, period, admin_emails, surface=surface, time_zone=today.time_zone
    )
    if answer is None:
        return refusal(viewer.employee, target, admin_emails)
    return answer


def refusal(viewer: Employee, target: Employee | None, admin_emails: Collection[str]) -> Notice:
    """Why `viewer` may not see `target`: an analyst is told so whoever they asked about
    (it reveals nobody); a manager in works-council mode is told that; anyone else gets
    the plain refusal that never tells whether someone exists."""
    floor = {"floor": policy_of(admin_emails).min_group_size}
    if viewer.is_analyst and has_access(viewer):
        return Notice("aggregates_only", {"reason": "analyst", **floor})
    if target is not None and aggregates_only(viewer, target, admin_emails):
        return Notice("aggregates_only", {"reason": "works_council", **floor})
    return REFUSED


def ask_stats_chart(
    viewer: Viewer,
    target_id: int,
    period: Period,
    admin_emails: Collection[str],
    default_time_zone: str = "UTC",
) -> StatsAnswer | Notice:
    """The "Send chart to my DM" button of a stats answer: the same person and days,
    access checked again (a button is pressed later, and can be crafted). Not logged
    here: the chart is, once Slack has taken it (bot/chart_delivery.py)."""
    employee = viewer.employee
    if employee is None:
        return NOT_IN_DIRECTORY
    target = Employee.get_or_none(Employee.id == target_id)
    if (
        period.days not in STATS_PERIOD_DAYS
        or target is None
        or not may_view(employee, target, admin_emails)
    ):
        return REFUSED
    zone = time_zone_of(employee, default_time_zone)
    return replace(stats_answer(target, period), time_zone=zone.key)


def ask_stats_by_email(
    viewer_email: str, target_email: str, days: int, today: dt.date, admin_emails=()
) -> StatsAnswer | None:
    """`codexbot stats TARGET --as VIEWER`: None for every refusal, as in Slack."""
    if days not in STATS_PERIOD_DAYS:
        raise ValueError(f"the period must be one of {STATS_PERIOD_DAYS} days")
    return stats_for(
        find_employee(viewer_email),
        find_employee(target_email),
        Period.ending_before(today, days),
        admin_emails,
        surface="cli",
    )


def ask_team(
    viewer: Viewer,
    period: Period,
    admin_emails: Collection[str] = (),
    find_manager: Callable[[], Employee | None] | None = None,
    *,
    everyone: bool = False,
) -> TeamUsage | OrganisationUsage | Notice:
    """`/codex team [@manager|all]`: the viewer's reporting line, or the named manager's
    for whoever may view that manager (refused as a stats mention is otherwise); for an
    admin asking for `all`, or with nobody below them, the whole organisation rolled up
    by branch."""
    employee = viewer.employee
    if employee is None:
        return NOT_IN_DIRECTORY
    if everyone:
        if not sees_organisation(viewer, admin_emails):
            return Notice("admins_only", {"action": "organisation"})
        return _organisation(viewer, period, admin_emails)
    if find_manager is not None:
        manager = find_manager()
        if manager is None or not (
            may_view(employee, manager, admin_emails)
            or aggregates_only(employee, manager, admin_emails)
        ):
            return REFUSED
        team = team_for(employee, period, manager=manager, policy=admin_emails)
        if team is None and manager.id != employee.id:
            return Notice("no_team_of", {"name": manager.display_name})
    else:
        team = team_for(employee, period, policy=admin_emails)
        if team is None and sees_organisation(viewer, admin_emails):
            return _organisation(viewer, period, admin_emails)
    return Notice("no_team") if team is None else team


def _organisation(
    viewer: Viewer, period: Period, admin_emails: Collection[str] = ()
) -> OrganisationUsage:
    """The organisation by branch. For an admin, its named people are logged as viewed (a
    branch of one, or a lone person at the top, is that person's own figures). For an
    analyst, the lines obey the group-size floor (sync/org/privacy.py): lines that are
    not whole cells are summed into one line naming nobody; nothing is logged, as no
    line is anyone's own figures."""
    employee = viewer.employee
    if viewer.is_admin(admin_emails) or employee is None:
        organisation = organisation_usage(period)
        if employee is not None:
            record_views(employee, organisation.named, "team")
        return organisation
    return _organisation_above_floor(
        employee, organisation_usage(period, shown=10**9), admin_emails
    )


def _organisation_above_floor(
    analyst: Employee, organisation: OrganisationUsage, admin_emails: Collection[str]
) -> OrganisationUsage:
    """`organisation` as an analyst may see it: only lines whose hidden people (everyone
    but the analyst) are whole cells of sync/org/privacy.py; the rest summed in one line,
    itself whole cells; nothing at all below the floor."""
    chart = load_org_chart()
    cells = sum_cells(analyst, admin_emails, chart)
    members = {branch.head.id: {branch.head.id} for branch in organisation.branches}
    for member, head in members_below([b.head for b in organisation.branches], chart).items():
        members[head].add(member)
    everyone = [id_ for (id_,) in Employee.select(Employee.id).tuples()]
    if not cells.shows(everyone):
        return replace(
            organisation,
            branches=[],
            hidden=0,
            top=[],
            top_usage=TeamRollup(0, 0, 0.0, 0.0),
            total_credits=0.0,
            active_people=0,
            floor=cells.floor.min_group_size,
        )
    shown = [b for b in organisation.branches if cells.shows(members[b.head.id])]
    listed = shown[:BRANCHES_SHOWN]  # the rest are summed with the small ones
    merged = [b.usage for b in organisation.branches if b not in listed]
    top_shown = cells.shows(person.id for person in organisation.top)
    if not top_shown:
        merged.append(organisation.top_usage)
    return replace(
        organisation,
        branches=listed,
        hidden=0,
        top=organisation.top if top_shown else [],
        others=_summed(merged) if merged else None,
    )


def _summed(rollups: list[TeamRollup]) -> TeamRollup:
    return TeamRollup(
        sum(r.people for r in rollups),
        sum(r.active_people for r in rollups),
        round(sum(r.credits for r in rollups), 6),
        round(sum(r.previous_credits for r in rollups), 6),
    )


def ask_digest_preview_by_email(
    manager_email: str,
    today: dt.date,
    period_days: int,
    policy: Collection[str] = (),
    adoption: AdoptionSettings | None = None,
) -> Digest | None:
    """`codexbot digest preview MANAGER`: None for someone not in the directory;
    `adoption` as for digest_for."""
    manager = find_employee(manager_email)
    return None if manager is None else digest_for(manager, today, period_days, policy, adoption)


_DIGEST_PREFERENCES = {
    "on": (Employee.digest_opt_out, False, "digest_on"),
    "off": (Employee.digest_opt_out, True, "digest_off"),
    "me on": (Employee.self_digest, True, "self_digest_on"),
    "me off": (Employee.self_digest, False, "self_digest_off"),
}


def ask_digest(viewer: Viewer, action: str, today: dt.date, settings: Settings) -> Digest | Notice:
    """`/codex digest preview|on|off|me on|me off`."""
    employee = viewer.employee
    if employee is None or not has_access(employee, today):
        return NOT_IN_DIRECTORY
    if action == "preview":
        policy = AccessPolicy.from_settings(settings)
        digest = digest_for(employee, today, settings.digest.period_days, policy, settings.adoption)
        if digest is None:
            return NOT_IN_DIRECTORY
        return replace(digest, time_zone=time_zone_of(employee, settings.digest.timezone).key)
    if not settings.digest.enabled:
        return Notice("digests_disabled")
    preference, value, kind = _DIGEST_PREFERENCES[action]
    Employee.update({preference: value}).where(Employee.id == employee.id).execute()
    return Notice(kind)


def ask_audit(
    viewer: Viewer, find_target: Callable[[], Employee | None], admin_emails
) -> AccessLogAnswer | Notice:
    """`/codex audit @person`: who viewed that person's stats, for admins only (nobody
    else causes a lookup of the person)."""
    if not viewer.is_admin(admin_emails):
        return Notice("admins_only", {"action": "audit"})
    target = find_target()
    if target is None:
        return Notice("unknown_person")
    views = views_of(target, DEFAULT_LOOKBACK_DAYS)
    return AccessLogAnswer(target, own=False, views=views, days=DEFAULT_LOOKBACK_DAYS)


def ask_status(viewer: Viewer, settings: Settings) -> Status | Notice:
    if not viewer.is_admin(settings.slack.admin_emails):
        return Notice("admins_only", {"action": "status"})
    return status_now(settings)


def status_now(settings: Settings) -> Status:
    """codexbot's state: `/codex status` for admins, `codexbot status` for operators."""
    today = utc_today()
    history = Period.ending_before(today, API_HISTORY_DAYS)
    coverage = Coverage.load(history.first_day, today)
    connection = connection_info()
    workspace_id = coverage.workspace_id
    since = previous = None
    if connection is not None:
        since = workspace_connected_at(connection.workspace_id)
        previous = previous_workspace_id(connection.workspace_id)
    last_run = (
        SyncRun.select()
        .where(SyncRun.workspace_id == workspace_id)
        .order_by(SyncRun.id.desc())
        .first()
    )
    return Status(
        connection=connection,
        workspace_since=since,
        previous_workspace=previous,
        last_run=last_run,
        next_sync=next_sync_at(settings.sync.interval_minutes),
        unmatched=count_unmatched_codex_users(),
        missing=coverage.missing(history) if last_run is not None else [],
        org_source=source_state(settings.org.source) if settings.org.source else None,
    )


def ask_disconnect(
    viewer: Viewer, admin_emails, *, forget: bool = False
) -> Notice | ForgetConfirmation:
    """`/codex disconnect` deletes the key and keeps the history; with `forget`, it first
    asks to confirm deleting the connected workspace's usage too (see forget_workspace)."""
    if not viewer.is_admin(admin_emails):
        return Notice("admins_only", {"action": "disconnect"})
    if forget:
        workspace_id = current_workspace_id()
        if workspace_id is None:
            return Notice("nothing_to_disconnect")
        rows, days = usage_held(workspace_id)
        return ForgetConfirmation(workspace_id, rows, days)
    return Notice("disconnected" if remove_connection() else "nothing_to_disconnect")


def forget_workspace(viewer: Viewer, workspace_id: str, admin_emails) -> Notice:
    """The confirmed half of `disconnect forget`: the connection (if it is to this
    workspace) and all the workspace's usage, ledger and runs are deleted."""
    if not viewer.is_admin(admin_emails):
        return Notice("admins_only", {"action": "disconnect"})
    return Notice(
        "forgotten", {"workspace_id": workspace_id, **disconnect_and_forget(workspace_id)}
    )


def ask_connect(viewer: Viewer, admin_emails) -> Notice | None:
    """Whether `/codex connect` may open its form: None if so, else the refusal."""
    return None if viewer.is_admin(admin_emails) else Notice("admins_only", {"action": "connect"})


def ask_home(
    viewer: Viewer,
    now: dt.datetime,
    admin_emails: Collection[str] = (),
    adoption: AdoptionSettings | None = None,
    default_time_zone: str = "UTC",
) -> Home:
    """The Home tab at `now` (aware): the viewer's own last 30 complete days on their own
    calendar, as a DM's "30d" counts them, and, for managers, their team over the same
    days (summed where works-council mode keeps people's own figures from them) and its
    adoption."""
    employee = viewer.employee
    answer = team = line = None
    today = now.astimezone(dt.UTC).date()
    if employee is not None:
        local = today_of(employee, default_time_zone, now)
        period = local.last_days(HOME_PERIOD_DAYS)
        answer = stats_for(employee, employee, period, surface="home", time_zone=local.time_zone)
        if answer:
            team = team_for(employee, period, HOME_TEAM_ROWS, surface="home", policy=admin_emails)
        if team is not None:
            line = adoption_answer(
                period,
                adoption or AdoptionSettings(),
                employee,
                admin_emails,
                manager=employee,
                names=False,
            )
    archived = employee is not None and not has_access(employee, today)
    return Home(answer, team, archived, line)


def ask_in_direct_message(
    event_id: str | None,
    viewer: Viewer,
    period_for: PeriodFor,
    *,
    wants_help: bool,
    wants_access_log: bool,
    default_time_zone: str = "UTC",
    wants_transparency: bool = False,
    admin_emails: Collection[str] = (),
) -> StatsAnswer | AccessLogAnswer | Transparency | Help | Notice | None:
    """A DM, always about its sender, for the period `period_for` names on their own
    calendar; None for an event already answered (Slack retries slow ones, and replicas
    share the work)."""
    if event_id and not claim_once(f"slack-event:{event_id}", EVENT_CLAIM_SECONDS):
        return None
    if wants_help:
        return Help()
    if viewer.employee is None:
        return NOT_IN_DIRECTORY
    if wants_access_log or wants_transparency:
        if not has_access(viewer.employee):  # nor do they see who viewed them
            return REFUSED
        views = views_of(viewer.employee, DEFAULT_LOOKBACK_DAYS)
        log = AccessLogAnswer(viewer.employee, own=True, views=views, days=DEFAULT_LOOKBACK_DAYS)
        return transparency(viewer.employee, log, admin_emails) if wants_transparency else log
    today = today_of(viewer.employee, default_time_zone)
    answer = stats_for(
        viewer.employee, viewer.employee, period_for(today), surface="dm", time_zone=today.time_zone
    )
    return REFUSED if answer is None else answer


def transparency(
    person: Employee, log: AccessLogAnswer, admin_emails: Collection[str]
) -> Transparency:
    """Who may see `person`'s figures under the policy, and who viewed them: the answer to
    "what can my manager see?" (sync/org/access.py decides; this only lists)."""
    policy = policy_of(admin_emails)
    above = manager_ids_above(person)
    managers = list(Employee.select().where(Employee.id.in_(list(above)))) if above else []
    # Nearest first: each manager's own manager follows them.
    by_id = {manager.id: manager for manager in managers}
    chain, boss_id = [], person.manager_id
    while boss_id in by_id and by_id[boss_id] not in chain:
        chain.append(by_id[boss_id])
        boss_id = by_id[boss_id].manager_id
    chain = [manager for manager in chain if has_access(manager)]
    analysts = (
        Employee.select()
        .where((Employee.role == ROLE_ANALYST) & (Employee.id != person.id))
        .where(Employee.archived_on.is_null() | (Employee.archived_on > utc_today()))
        .count()
    )
    return Transparency(
        person=person,
        managers=chain,
        individual_views=policy.shows_individually(person),
        admins=admins(policy),
        analysts=analysts,
        floor=policy.min_group_size,
        log=log,
    )

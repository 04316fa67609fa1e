"""The decisions behind every answer: look people up, ask the access policy, query.

Each surface (CLI, Slack) parses its request, calls one function here and renders what
it gets back through a template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from bot.rendering import render
from sync.org.access import is_archived, may_view, team_of
from sync.org.access_log import record_views
from sync.org.directory import find_employee
from sync.reports.digest import Digest, compose_digest
from sync.reports.periods import Period
from sync.reports.queries import StatsAnswer, data_as_of, stats_answer, stats_answers
from sync.store.models import Employee

ALLOWED_PERIOD_DAYS = (7, 30, 90)


@dataclass(frozen=True)
class TeamUsage:
    period: Period
    rows: list[StatsAnswer]  # the busiest first, cut to what a message can show
    hidden: int
    size: int
    total_credits: float
    active_people: int
    data_as_of: dt.datetime | None


def stats_for(
    viewer: Employee | None,
    target: Employee | None,
    period: Period,
    admin_emails: Collection[str] = (),
    *,
    surface: str,
) -> StatsAnswer | None:
    """`target`'s stats if `viewer` may see them; None alike for "no such person" and
    "not allowed", so a refusal never reveals whether someone exists or has data.
    Every answer about someone else goes into the access log."""
    if viewer is None or target is None or not may_view(viewer, target, admin_emails):
        return None
    answer = stats_answer(target, period)
    record_views(viewer, [target], surface)
    return answer


def digest_for(manager: Employee, today: dt.date, period_days: int) -> Digest | None:
    """A manager's digest, shown now (a preview); logged as a view of each report."""
    if is_archived(manager, today):
        return None
    digest = compose_digest(manager, today, period_days)
    record_views(manager, [entry.answer.employee for entry in digest.entries], "digest")
    return digest


def team_for(
    viewer: Employee, period: Period, shown: int = 900, *, surface: str = "team"
) -> TeamUsage | None:
    """Everyone in `viewer`'s reporting chain, by credits; None for someone with no reports."""
    chain = team_of(viewer)
    if not chain:
        return None
    as_of = data_as_of()
    answers = stats_answers(chain, period, as_of)
    ranked = sorted(
        answers.values(),
        key=lambda a: (-a.current.totals.credits, a.employee.display_name.lower()),
    )
    record_views(viewer, [a.employee for a in ranked[:shown]], surface)
    return TeamUsage(
        period=period,
        rows=ranked[:shown],
        hidden=max(0, len(ranked) - shown),
        size=len(ranked),
        total_credits=round(sum(a.current.totals.credits for a in ranked), 6),
        active_people=sum(1 for a in ranked if a.current.active_days),
        data_as_of=as_of,
    )


def stats_for_viewer(
    viewer_email: str,
    target_email: str,
    days: int,
    today: dt.date,
    admin_emails: Collection[str] = (),
) -> StatsAnswer | None:
    if days not in ALLOWED_PERIOD_DAYS:
        raise ValueError(f"the period must be one of {ALLOWED_PERIOD_DAYS} days")
    return stats_for(
        find_employee(viewer_email),
        find_employee(target_email),
        Period.ending_before(today, days),
        admin_emails,
        surface="cli",
    )


def stats_text(
    viewer_email: str,
    target_email: str,
    days: int,
    today: dt.date,
    admin_emails: Collection[str] = (),
) -> str | None:
    answer = stats_for_viewer(viewer_email, target_email, days, today, admin_emails)
    return None if answer is None else render("stats.txt.j2", answer=answer)


def digest_for_manager(manager_email: str, today: dt.date, period_days: int = 7) -> Digest | None:
    manager = find_employee(manager_email)
    return None if manager is None else digest_for(manager, today, period_days)


def digest_text(manager_email: str, today: dt.date, period_days: int = 7) -> str | None:
    digest = digest_for_manager(manager_email, today, period_days)
    return None if digest is None else render("digest.txt.j2", digest=digest)

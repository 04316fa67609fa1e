"""The decisions behind every answer: look people up, ask the access policy, query.

Each surface (CLI now, Slack next) parses its request, calls one function here and
renders what it gets back through a template.
"""

from __future__ import annotations

import datetime as dt

from sync.access import may_view
from sync.digest import Digest, compose_digest
from sync.directory import find_employee
from sync.queries import Period, StatsAnswer, stats_answer
from sync.render import render

ALLOWED_PERIOD_DAYS = (7, 30, 90)


def stats_for_viewer(
    viewer_email: str, target_email: str, days: int, today: dt.date
) -> StatsAnswer | None:
    """`target`'s stats if `viewer` may see them; None alike for "no such person" and
    "not allowed", so a refusal never reveals whether someone exists or has data."""
    if days not in ALLOWED_PERIOD_DAYS:
        raise ValueError(f"the period must be one of {ALLOWED_PERIOD_DAYS} days")
    viewer = find_employee(viewer_email)
    target = find_employee(target_email)
    if viewer is None or target is None or not may_view(viewer, target):
        return None
    return stats_answer(target, Period.ending_before(today, days))


def stats_text(viewer_email: str, target_email: str, days: int, today: dt.date) -> str | None:
    answer = stats_for_viewer(viewer_email, target_email, days, today)
    return None if answer is None else render("stats.txt.j2", answer=answer)


def digest_for_manager(manager_email: str, today: dt.date, period_days: int = 7) -> Digest | None:
    manager = find_employee(manager_email)
    if manager is None or manager.archived_on is not None:
        return None
    return compose_digest(manager, today, period_days)


def digest_text(manager_email: str, today: dt.date, period_days: int = 7) -> str | None:
    digest = digest_for_manager(manager_email, today, period_days)
    return None if digest is None else render("digest.txt.j2", digest=digest)

"""People's chat accounts as the workspace reports them: deactivated, back, or under a new
email. The caller has checked the account belongs to the installation; nothing here talks
to Slack, it only keeps the directory's link (`slack_user_id`) and access honest.

- Deactivated: the person loses every view at once (sync/org/access.has_access), before
  the directory archives them; their history still counts for their manager.
- Active again: access returns, unless the directory archived them meanwhile.
- A new email that is another person's directory email moves the link to that person
  (a renamed address after the directory caught up); one that matches nobody leaves the
  link alone: the directory may name the account explicitly, and an address alone never
  takes access away or hands it over.
- The profile's time zone is kept (`slack_timezone`) for whoever holds the account: it is
  their clock where the directory names none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sync.org.directory import find_employee, normalize_email
from sync.org.history import (
    ACTOR_SLACK,
    RELINKED,
    SLACK_DEACTIVATED,
    SLACK_REACTIVATED,
    record_change,
)
from sync.org.time_zones import remember_slack_time_zone
from sync.store.models import Employee, database


@dataclass(frozen=True)
class AccountState:
    """What the workspace says of one account (from a `user_change` or `team_join`)."""

    account_id: str
    email: str | None
    deactivated: bool
    # The profile's time zone (`tz`), kept for the person whose directory entry names
    # none (sync/org/time_zones.py); None says nothing about it.
    time_zone: str | None = None


def apply_account_state(state: AccountState, now: dt.datetime) -> list[str]:
    """Bring the directory in line with `state`, in one transaction; returns the actions
    recorded in the directory's history (empty when nothing changed)."""
    email = normalize_email(state.email) or None
    with database.atomic():
        linked = Employee.get_or_none(Employee.slack_user_id == state.account_id)
        person = linked or _unlinked_owner(email)
        if person is None:
            return []
        actions = []
        if state.deactivated and person.slack_deactivated_at is None:
            person.slack_deactivated_at = now
            person.save(only=[Employee.slack_deactivated_at])
            actions.append(SLACK_DEACTIVATED)
            record_change(ACTOR_SLACK, SLACK_DEACTIVATED, person.email, at=now)
        elif not state.deactivated and person.slack_deactivated_at is not None:
            person.slack_deactivated_at = None
            person.save(only=[Employee.slack_deactivated_at])
            actions.append(SLACK_REACTIVATED)
            record_change(ACTOR_SLACK, SLACK_REACTIVATED, person.email, at=now)
        holder = person
        if linked is not None and email and email != linked.email:
            moved_to = _relink(linked, email, state, now)
            if moved_to is not None:
                actions.append(RELINKED)
                holder = moved_to
        # Not the directory's history: where someone's laptop is set is no change of who
        # works here, and travel would drown the changes that are.
        remember_slack_time_zone(holder, state.time_zone)
        return actions


def _unlinked_owner(email: str | None) -> Employee | None:
    """The employee an account not linked yet would be matched to by email (as
    bot/identity.py does), if that employee is not linked to another account."""
    if not email:
        return None
    employee = find_employee(email)
    if employee is None or employee.slack_user_id is not None:
        return None
    return employee


def _relink(linked: Employee, email: str, state: AccountState, now: dt.datetime):
    """Move the account's link to the employee whose directory email is now its email,
    carrying its deactivation over; None when nobody (free) has that email."""
    target = find_employee(email)
    if target is None or target.slack_user_id is not None:
        return None
    deactivated_at = linked.slack_deactivated_at
    linked.slack_user_id = None
    linked.slack_deactivated_at = None
    linked.save(only=[Employee.slack_user_id, Employee.slack_deactivated_at])
    target.slack_user_id = state.account_id
    target.slack_deactivated_at = deactivated_at
    target.save(only=[Employee.slack_user_id, Employee.slack_deactivated_at])
    record_change(ACTOR_SLACK, RELINKED, target.email, {"from": linked.email}, at=now)
    return target

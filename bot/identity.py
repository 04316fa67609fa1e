"""Who a Slack user is in codexbot's directory, and whether they are an admin."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.installation import Installation
from sync.org.access import Viewer, is_admin
from sync.org.directory import find_employee, normalize_email
from sync.org.time_zones import remember_slack_time_zone
from sync.store.models import Employee
from sync.store.prepared import Prepared

log = logging.getLogger(__name__)

# Asked at every request: its SQL is built once (sync/store/prepared.py).
_BY_SLACK_ID = Prepared(
    lambda slack_user_id: Employee.select().where(Employee.slack_user_id == slack_user_id).limit(1)
)


@dataclass(frozen=True)
class SlackPerson:
    slack_user_id: str
    email: str | None
    employee: Employee | None
    is_admin: bool

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.employee, self.email)


def identify(client: WebClient, slack_user_id: str, context) -> SlackPerson:
    """Map a Slack user to an employee: by the directory's slack_user_id, else by the email
    Slack holds for them (remembered on the employee, so the lookup happens once). The
    request's context gives the installation (bot/installation.py) and the settings."""
    installation: Installation = context["installation"]
    admin_emails = context["settings"].slack.admin_emails
    sql, params = _BY_SLACK_ID.sql(slack_user_id)
    employee = next(iter(Employee.raw(sql, *params)), None)
    email = employee.email if employee else None
    if employee is None:
        profile = _slack_profile(client, slack_user_id, installation)
        email = normalize_email(profile.get("email")) or None
        employee = find_employee(email) if email else None
        if employee is not None and employee.slack_user_id not in (None, slack_user_id):
            # That employee is someone else in Slack: a second account with the same email
            # (a guest, another Grid org) must not inherit what they may see.
            log.warning("Slack user %s shares an email with another account", slack_user_id)
            employee = email = None
        elif employee is not None:
            employee.slack_user_id = slack_user_id
            employee.save(only=[Employee.slack_user_id])
            remember_slack_time_zone(employee, profile.get("tz"))
    return SlackPerson(slack_user_id, email, employee, is_admin(employee, email, admin_emails))


def learn_slack_time_zone(client: WebClient, employee: Employee) -> None:
    """Ask Slack for the time zone of someone the directory gives none and Slack's has not
    been stored for yet (people linked before codexbot kept it); stored for next time."""
    if employee.timezone or employee.slack_timezone or not employee.slack_user_id:
        return
    try:
        user = client.users_info(user=employee.slack_user_id)["user"]
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.info("users.info for %s failed: %s", employee.slack_user_id, exc)
        return
    remember_slack_time_zone(employee, user.get("tz"))


def _slack_profile(client: WebClient, slack_user_id: str, installation: Installation) -> dict:
    try:
        user = client.users_info(user=slack_user_id)["user"]
    except SlackApiError as exc:
        # An unknown or foreign user is simply nobody we know; say so, don't fail.
        log.info("users.info for %s failed: %s", slack_user_id, exc.response.get("error"))
        return {}
    if user.get("deleted"):
        return {}
    return {"email": matchable_email(user, installation), "tz": user.get("tz")}


def matchable_email(user: Mapping[str, Any], installation: Installation) -> str | None:
    """The email a Slack user object (users.info, a user_change event) may be matched to
    an employee by, or None. Guests and people from other teams or organisations (Slack
    Connect, whatever its is_stranger says) never are: an address alone must not hand them
    an employee's view, or make them an admin. The directory's slack_user_id can still
    name a guest explicitly."""
    outsider = (
        user.get("is_restricted")
        or user.get("is_ultra_restricted")
        or user.get("is_stranger")
        or not installation.admits_user(user)
    )
    if user.get("is_bot") or outsider:
        return None
    profile = user.get("profile")
    email = profile.get("email") if isinstance(profile, Mapping) else None
    return email if isinstance(email, str) else None

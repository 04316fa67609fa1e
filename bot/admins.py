"""Telling codexbot's admins something by DM: syncing has stopped, digests are late, the
HRIS file was refused."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.messages import render_message
from bot.slack import send_direct_message
from sync.clock import utc_today
from sync.config import Settings
from sync.notices import Notice
from sync.org.access import admins

log = logging.getLogger(__name__)


def tell_admins(client: WebClient, settings: Settings, notice: Notice) -> None:
    """DM every admin (sync/org/access.py decides who) the notice; one who cannot be
    reached is logged and skipped."""
    message = render_message("notice", notice=notice)
    for user_id in _admin_slack_ids(client, settings):
        try:
            send_direct_message(client, user_id, message)
        except (SlackApiError, SlackClientError, OSError):
            log.warning("could not tell admin %s: %s", user_id, notice.kind)


def _admin_slack_ids(client: WebClient, settings: Settings) -> list[str]:
    admin_list = admins(settings.slack.admin_emails, utc_today())
    ids = {e.slack_user_id for e in admin_list.employees if e.slack_user_id}
    emails = [e.email for e in admin_list.employees if not e.slack_user_id]
    for email in emails + admin_list.emails_outside_directory:
        try:
            ids.add(client.users_lookupByEmail(email=email)["user"]["id"])
        except (SlackApiError, SlackClientError, OSError):
            log.info("no Slack account for admin %s", email)
    return sorted(ids)

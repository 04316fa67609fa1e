"""Charts into a DM, the way Slack allows: the PNG (bot/charts.py) uploaded into the DM
with files_upload_v2, then shown with an image block that names the file
(`"slack_file": {"id": ...}`: Slack shows a file only to people it was shared with, so it
goes into the viewer's own DM first). Each chart shown is an access-log view of everyone
it draws, written once Slack has taken it.

Also the "Send chart to my DM" buttons' values: templates/slack/stats.json.j2 and
home.json.j2 write them, `parse_chart_request` reads them back.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.charts import Chart, digest_chart
from bot.messages import render_message
from bot.slack import send_direct_message, send_file_to_direct_message
from sync.org.access_log import record_views
from sync.reports.digest import Digest
from sync.reports.periods import MAX_PERIOD_DAYS, Period
from sync.store.models import Employee

log = logging.getLogger(__name__)

SEND_CHART_ACTION = "send_chart"
SLACK_ERRORS = (SlackApiError, SlackClientError, OSError)

_STATS_VALUE = re.compile(r"^stats (\d{1,12}) (\d{4}-\d{2}-\d{2}) (\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class ChartRequest:
    """What a pressed "Send chart to my DM" button asks for: `stats` (one person's days,
    as the answer that carried the button showed them) or `home` (the Home tab's team)."""

    kind: str
    target_id: int | None = None
    period: Period | None = None


def parse_chart_request(value: str) -> ChartRequest | None:
    """A button's value: "stats EMPLOYEE_ID FIRST_DAY LAST_DAY" or "home". None for
    anything else: a block action can be crafted, so its value is read like typed text."""
    if value == "home":
        return ChartRequest("home")
    match = _STATS_VALUE.match(value)
    if match is None:
        return None
    try:
        first, last = (dt.date.fromisoformat(day) for day in match.group(2, 3))
    except ValueError:
        return None
    period = Period(first, last)
    if not 1 <= period.days <= MAX_PERIOD_DAYS:
        return None
    return ChartRequest("stats", int(match.group(1)), period)


@dataclass(frozen=True)
class SharedChart:
    """A chart uploaded into someone's DM: templates/slack/_chart_image.json.j2 shows it."""

    chart: Chart
    file_id: str


def share_chart(client: WebClient, viewer: Employee, slack_user_id: str, chart: Chart) -> bool:
    """Upload `chart` into the viewer's DM and show it there with an image block; False
    when Slack did not take the upload (nothing was shown, nothing is logged)."""
    shared = upload_chart(client, viewer, slack_user_id, chart)
    if shared is None:
        return False
    try:
        send_direct_message(client, slack_user_id, render_message("chart", shared_chart=shared))
    except SLACK_ERRORS as exc:
        # The file itself is in the DM already: the chart was shown, only not framed.
        log.warning("chart %s uploaded, its message refused: %s", shared.file_id, exc)
    return True


def upload_chart(
    client: WebClient, viewer: Employee, slack_user_id: str, chart: Chart
) -> SharedChart | None:
    """The chart once it is in the viewer's DM (logged as a view of everyone it draws), or
    None when Slack did not take it."""
    try:
        file_id = send_file_to_direct_message(
            client,
            slack_user_id,
            filename=chart.filename,
            content=chart.png,
            title=chart.title,
            alt_text=chart.alt_text,
        )
    except SLACK_ERRORS as exc:
        log.warning("chart upload for %s refused: %s", slack_user_id, exc)
        return None
    record_views(viewer, chart.people, "chart")
    return SharedChart(chart, file_id)


def upload_digest_chart(
    client: WebClient, manager: Employee, slack_user_id: str, digest: Digest
) -> SharedChart | None:
    """The digest's small multiples, uploaded into the manager's DM for the digest to show;
    None when there is nobody to draw or Slack did not take it: the digest still goes,
    as text."""
    try:
        chart = digest_chart(digest)
    except Exception:  # noqa: BLE001 - a picture that fails to draw must not stop the digest
        log.exception("the digest chart of %s could not be drawn", manager.email)
        return None
    return None if chart is None else upload_chart(client, manager, slack_user_id, chart)

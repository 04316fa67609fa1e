"""The "Send chart to my DM" buttons: under a stats answer (that person's days) and in the
Home tab (the viewer's reporting line). Access is decided again when the button is
pressed: it may be pressed days later, by someone who has since lost access, or crafted."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.chart_delivery import parse_chart_request, share_chart, upload_chart
from bot.charts import stats_chart, team_chart
from bot.guard import listener
from bot.identity import SlackPerson, identify
from bot.messages import render_message, render_view
from bot.work import overflowing
from sync.clock import utc_now
from sync.config import Settings
from sync.notices import Notice
from sync.org.access import AccessPolicy
from sync.reports.answers import REFUSED, ask_home, ask_stats_chart
from sync.reports.queries import StatsAnswer

log = logging.getLogger(__name__)


def acknowledge(ack) -> None:
    ack()


@listener
def send_chart_to_dm(body, action, client: WebClient, respond, context) -> None:
    request = parse_chart_request(str(action.get("value") or ""))
    home = request is not None and request.kind == "home"
    if overflowing():  # pressed again later, it draws then
        log.info("too busy to draw a chart for %s", body["user"]["id"])
        if not home:  # a Home tab's button has no message to answer in
            _answer(respond, Notice("busy"))
        return
    person = identify(client, body["user"]["id"], context)
    settings = context["settings"]
    if home:
        _send_home_chart(client, person, settings)
        return
    answer: StatsAnswer | Notice
    if request is None or request.target_id is None or request.period is None:
        answer = REFUSED
    else:
        answer = ask_stats_chart(
            person.viewer,
            request.target_id,
            request.period,
            AccessPolicy.from_settings(settings),
            settings.digest.timezone,
        )
    if isinstance(answer, Notice):
        notice = answer
    else:
        assert person.employee is not None  # only someone in the directory gets an answer
        sent = share_chart(client, person.employee, person.slack_user_id, stats_chart(answer))
        notice = Notice("chart_sent" if sent else "chart_not_sent")
    _answer(respond, notice)


def _answer(respond, notice: Notice) -> None:
    message = render_message("notice", notice=notice)
    respond(response_type="ephemeral", replace_original=False, **message)


def _send_home_chart(client: WebClient, person: SlackPerson, settings: Settings) -> None:
    """The Home tab's team chart: into the DM, then shown in the tab as well (a Home tab
    action has no message to answer in). None of a team shown only in sums."""
    policy = AccessPolicy.from_settings(settings)
    home = ask_home(person.viewer, utc_now(), policy, settings.adoption, settings.digest.timezone)
    shared_chart = None
    if home.team is not None and not home.team.aggregate_only and person.employee is not None:
        chart = team_chart(home.team, home=True)
        shared_chart = upload_chart(client, person.employee, person.slack_user_id, chart)
    view = render_view("home", home=home, shared_chart=shared_chart)
    client.views_publish(user_id=person.slack_user_id, view=view)

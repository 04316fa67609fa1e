"""The Home tab: the viewer's own last 30 days and, for managers, their reporting line."""

from __future__ import annotations

from bot.guard import listener
from bot.identity import identify
from bot.messages import render_view
from sync.clock import utc_today
from sync.org.access import is_archived
from sync.reports.answers import stats_for, team_for
from sync.reports.periods import Period

HOME_TEAM_ROWS = 20


@listener
def publish_home(event, client, context) -> None:
    if event.get("tab", "home") != "home":
        return
    settings = context["settings"]
    person = identify(client, event["user"], settings.slack.admin_emails)
    period = Period.ending_before(utc_today(), 30)
    answer = team = None
    if person.employee is not None:
        answer = stats_for(person.employee, person.employee, period, surface="home")
        if answer:
            team = team_for(person.employee, period, HOME_TEAM_ROWS, surface="home")
    archived = person.employee is not None and is_archived(person.employee)
    view = render_view("home", answer=answer, team=team, archived=archived)
    client.views_publish(user_id=event["user"], view=view)

"""Block actions: buttons people press in codexbot's messages and Home tab. One confirms
deleting a workspace's usage (forget_workspace.py); one sends a chart to the presser's DM
(send_chart.py), drawn after a lazy acknowledgement, since a chart takes longer than
Slack waits for one."""

from slack_bolt import App

from bot.chart_delivery import SEND_CHART_ACTION
from bot.listeners.actions.forget_workspace import confirm_forget_workspace
from bot.listeners.actions.send_chart import acknowledge, send_chart_to_dm


def register(app: App) -> None:
    app.action("forget_workspace")(confirm_forget_workspace)
    app.action(SEND_CHART_ACTION)(ack=acknowledge, lazy=[send_chart_to_dm])

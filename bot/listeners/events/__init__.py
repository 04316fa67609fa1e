"""Events API callbacks: DMs to the bot (direct_message.py), the Home tab (app_home.py)
and accounts that change (account_change.py)."""

from slack_bolt import App

from bot.listeners.events.account_change import follow_account_change
from bot.listeners.events.app_home import publish_home
from bot.listeners.events.direct_message import answer_direct_message


def acknowledge(ack) -> None:
    ack()


def register(app: App) -> None:
    # Acknowledged at once; the answer is lazy work on the bounded pool (bot/work.py).
    app.event("message")(ack=acknowledge, lazy=[answer_direct_message])
    app.event("app_home_opened")(ack=acknowledge, lazy=[publish_home])
    app.event("user_change")(ack=acknowledge, lazy=[follow_account_change])
    app.event("team_join")(ack=acknowledge, lazy=[follow_account_change])

"""Events API callbacks: DMs to the bot (direct_message.py) and the Home tab (app_home.py)."""

from slack_bolt import App

from bot.listeners.events.app_home import publish_home
from bot.listeners.events.direct_message import answer_direct_message


def acknowledge(ack) -> None:
    ack()


def register(app: App) -> None:
    # Acknowledged at once; the answer is lazy work on the bounded pool (bot/work.py).
    app.event("message")(ack=acknowledge, lazy=[answer_direct_message])
    app.event("app_home_opened")(ack=acknowledge, lazy=[publish_home])

"""Events API callbacks: DMs to the bot (direct_message.py) and the Home tab (app_home.py)."""

from slack_bolt import App

from bot.listeners.events.app_home import publish_home
from bot.listeners.events.direct_message import answer_direct_message


def register(app: App) -> None:
    app.event("message")(answer_direct_message)
    app.event("app_home_opened")(publish_home)

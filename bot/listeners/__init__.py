"""Listeners, grouped by the kind of Slack request they answer."""

from slack_bolt import App

from bot.listeners import commands, events, views


def register_listeners(app: App) -> None:
    commands.register(app)
    views.register(app)
    events.register(app)

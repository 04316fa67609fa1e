"""Listeners, grouped by the kind of Slack request they answer: `commands/` (/codex),
`views/` (the connect form's submission), `actions/` (buttons) and `events/` (DMs, the
Home tab). Each folder's `register(app)` wires its callbacks."""

from slack_bolt import App

from bot.listeners import actions, commands, events, views


def register_listeners(app: App) -> None:
    commands.register(app)
    views.register(app)
    actions.register(app)
    events.register(app)

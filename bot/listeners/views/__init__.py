"""View submissions: the connect form (connect_modal.py), whose field errors come back in
the acknowledgement and whose success starts the first sync."""

from slack_bolt import App

from bot.listeners.views.connect_modal import submit_connection


def register(app: App) -> None:
    app.view("codex_connect")(submit_connection)

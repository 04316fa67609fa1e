from slack_bolt import App

from bot.listeners.views.connect_modal import submit_connection


def register(app: App) -> None:
    app.view("codex_connect")(submit_connection)

"""Block actions: buttons people press in codexbot's messages. The one today confirms
deleting a workspace's usage (forget_workspace.py)."""

from slack_bolt import App

from bot.listeners.actions.forget_workspace import confirm_forget_workspace


def register(app: App) -> None:
    app.action("forget_workspace")(confirm_forget_workspace)

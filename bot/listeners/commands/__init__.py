"""Slash commands: `/codex` and its subcommands (codex.py). The acknowledgement opens the
connect form at once; everything else is answered privately by a lazy listener."""

from slack_bolt import App

from bot.listeners.commands.codex import acknowledge_codex, answer_codex


def register(app: App) -> None:
    # The ack opens the connect modal at once (its trigger id lives 3 s); everything
    # else is answered by the lazy listener through `respond`.
    app.command("/codex")(ack=acknowledge_codex, lazy=[answer_codex])

"""`codexbot`, the operators' command line: the Slack bot (`run`), and the commands that
work without Slack (`org`, `connect`, `sync`, `stats`, `digest`, `simulator`, `demo`, `try`).

`commands.py` holds the command group and the operator commands, `run.py` starts the bot,
`console.py` is what a terminal shows during a sync, `demo.py` is `codexbot demo`,
`try_it.py` is `codexbot try` (the bot on the simulator and `fake_slack.py`, in a terminal).
"""

from bot.cli import run as _run  # noqa: F401 - registers `codexbot run` on the group
from bot.cli import try_it as _try_it  # noqa: F401 - registers `codexbot try` on the group
from bot.cli.commands import cli


def main() -> None:
    cli(prog_name="codexbot")


__all__ = ["cli", "main"]

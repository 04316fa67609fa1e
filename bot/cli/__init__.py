"""`codexbot`, the operators' command line: the Slack bot (`run`), and the commands that
work without Slack (`org`, `connect`, `sync`, `stats`, `digest`, `simulator`, `demo`).

`commands.py` holds the command group and the operator commands, `run.py` starts the bot,
`console.py` is what a terminal shows during a sync, `demo.py` is `codexbot demo`.
"""

from bot.cli import run as _run  # noqa: F401 - registers `codexbot run` on the group
from bot.cli.commands import cli


def main() -> None:
    cli(prog_name="codexbot")


__all__ = ["cli", "main"]

"""`codexbot run --http` as operators start it: a real process against the fake Slack."""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.cli.fake_slack import SIGNING_SECRET, FakeSlack


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningBot:
    base_url: str
    port: int
    listening_line: str  # the log line that said it was listening


@contextlib.contextmanager
def codexbot_run_http(tmp_path: Path, **environment: str) -> Iterator[RunningBot]:
    """Start `codexbot run --http` on a free port with a fresh SQLite file and the fake
    Slack (`environment` adds or overrides variables); yield once it logs that it
    listens, within 60 s (bounded: never hangs the suite); stop it afterwards."""
    slack = FakeSlack().start()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        **environment,
    }
    command = [sys.executable, "-c", "from bot.cli import main; main()", "run", "--http"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stderr = process.stderr
    threading.Thread(target=lambda: [lines.put(x) for x in stderr], daemon=True).start()
    try:
        while "listening on" not in (line := lines.get(timeout=60)):
            pass
        yield RunningBot(f"http://127.0.0.1:{port}", port, line)
    finally:
        process.terminate()
        process.wait(timeout=10)
        slack.stop()

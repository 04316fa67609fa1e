"""`codexbot run --http` as operators start it: a real process, Slack requests and /healthz."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading

import httpx
from fake_slack import SIGNING_SECRET, FakeSlack


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_run_http_serves_healthz_and_refuses_unsigned_requests(tmp_path):
    slack = FakeSlack().start()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "SLACK_APP_TOKEN": "xapp-ignored-with-http",
    }
    command = [sys.executable, "-c", "from bot.cli import main; main()", "run", "--http"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stderr], daemon=True).start()
    try:
        while "listening on" not in lines.get(timeout=60):  # bounded: never hangs the suite
            pass
        base = f"http://127.0.0.1:{port}"
        health = httpx.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200
        assert health.json() == {"database": "ok", "last_sync": None}
        unsigned = httpx.post(f"{base}/slack/events", content=b"command=/codex", timeout=10)
        assert unsigned.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
        slack.stop()


def test_run_without_a_bot_token_says_which_variable(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SLACK_BOT_TOKEN": ""}
    result = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "run", "--http"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr

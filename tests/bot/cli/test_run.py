"""`codexbot run --http` as operators start it: a real process, Slack requests and /healthz."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from running_process import codexbot_run_http


def test_run_http_serves_healthz_and_refuses_unsigned_requests(tmp_path):
    with codexbot_run_http(tmp_path, SLACK_APP_TOKEN="xapp-ignored-with-http") as bot:
        health = httpx.get(f"{bot.base_url}/healthz", timeout=10)
        assert health.status_code == 200
        assert health.json() == {"database": "ok", "last_sync": None}
        unsigned = httpx.post(f"{bot.base_url}/slack/events", content=b"command=/codex", timeout=10)
        assert unsigned.status_code == 401


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

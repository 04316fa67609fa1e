"""Talking to the real Bolt app as Slack does: signed, timestamped requests over HTTP to
the app served in HTTP mode, its Web API client pointed at the fake Slack."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from urllib.parse import urlencode

import httpx
from fake_slack import SIGNING_SECRET, TEAM_ID, FakeSlack
from slack_sdk.signature import SignatureVerifier

from bot.app import build_app
from bot.server import create_http_server
from bot.slack import web_client
from sync.config import load_settings

_ids = itertools.count(1)


def bot_settings(slack: FakeSlack, codex_base_url: str, secret_key: str):
    """Settings for the bot under test: its Web API client pointed at the fake Slack."""
    return load_settings(
        None,
        environ={
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "CODEX_API_BASE_URL": codex_base_url,
            "CODEXBOT_SECRET_KEY": secret_key,
        },
    )


class SleepRecorder(list):
    """A sleep for the bot's Slack client: returns at once and records each delay asked for
    (a Retry-After or a backoff), so retries cost a test no time and can be asserted."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    def __deepcopy__(self, memo):
        # Bolt deep-copies each request, its client and retry handlers too, for the lazy
        # listeners: like time.sleep itself, the copy must be this very recorder.
        return self


@contextlib.contextmanager
def running_bot(settings, slack: FakeSlack, sleep=None, scim=None):
    """The app in HTTP mode on a free loopback port, and a sender for it. Its Slack client
    retries as in production but waits through `sleep` (by default, not at all). `scim`:
    the SCIM endpoint it serves at /scim/v2 (bot/scim_endpoint.py), if any."""
    client = web_client(settings, sleep=SleepRecorder() if sleep is None else sleep)
    app = build_app(settings, client)
    server = create_http_server(app, "127.0.0.1", 0, settings.slack.max_body_bytes, scim=scim)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    sender = SlackSender(f"http://127.0.0.1:{server.effective_port}", slack)
    try:
        yield sender
    finally:
        sender.http.close()
        # Request threads first: one still finishing an answer when the server closes
        # would pull a trigger already closed (EBADF), or one the next test owns.
        server.task_dispatcher.shutdown(cancel_pending=False)
        # Closed from the server's own loop (waitress's trigger runs it there), so no
        # socket is closed under a running select(); the loop ends once nothing is open.
        # OSError: the loop ran the thunk (on a byte an earlier pull left unread) and closed
        # the trigger before this pull wrote its own byte; the server is closing anyway.
        with contextlib.suppress(OSError):
            server.trigger.pull_trigger(server.close)
        thread.join(5)
        assert not thread.is_alive()


class SlackSender:
    """Sends what Slack sends: form-encoded, signed, timestamped."""

    def __init__(self, base_url: str, slack: FakeSlack) -> None:
        self.url = f"{base_url}/slack/events"
        self.slack = slack
        self.http = httpx.Client(timeout=10)

    def post(self, body: str, content_type: str, *, timestamp=None, signature=None, headers=None):
        timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
        if signature is None:
            signature = SignatureVerifier(SIGNING_SECRET).generate_signature(
                timestamp=timestamp, body=body
            )
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
            **(headers or {}),
        }
        return self.http.post(self.url, content=body.encode(), headers=sent)

    def command(self, user_id: str, text: str, team_id: str = TEAM_ID, **signing):
        n = next(_ids)
        body = urlencode(
            {
                "token": "legacy",
                "team_id": team_id,
                "team_domain": "acme",
                "channel_id": "C1",
                "user_id": user_id,
                "user_name": user_id.lower(),
                "command": "/codex",
                "text": text,
                "api_app_id": "A1",
                "response_url": f"{self.slack.base_url}/response/{n}",
                "trigger_id": f"trigger-{n}",
            }
        )
        return self.post(body, "application/x-www-form-urlencoded", **signing)

    def view_submission(self, user_id: str, api_key: str, workspace_id: str, **signing):
        payload = {
            "type": "view_submission",
            "team": {"id": "T1"},
            "user": {"id": user_id},
            "api_app_id": "A1",
            "trigger_id": f"trigger-{next(_ids)}",
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": "codex_connect",
                "state": {
                    "values": {
                        "api_key": {"value": {"type": "plain_text_input", "value": api_key}},
                        "workspace_id": {
                            "value": {"type": "plain_text_input", "value": workspace_id}
                        },
                    }
                },
            },
        }
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **signing)

    def event(self, event: dict, event_id: str | None = None, headers=None, **signing):
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T1",
                "api_app_id": "A1",
                "type": "event_callback",
                "event_id": event_id or f"Ev{next(_ids):08d}",
                "event_time": int(time.time()),
                "event": event,
            }
        )
        return self.post(body, "application/json", headers=headers, **signing)

    def dm(self, user_id: str, text: str, **extra):
        event = {
            "type": "message",
            "channel": f"D{user_id}",
            "channel_type": "im",
            "user": user_id,
            "text": text,
            "ts": f"{time.time():.6f}",
            **extra,
        }
        return self.event(event)

    def block_action(self, user_id: str, action_id: str, value: str, **signing):
        """A button pressed in a message the bot sent in answer to a slash command."""
        n = next(_ids)
        payload = {
            "type": "block_actions",
            "team": {"id": "T1"},
            "user": {"id": user_id},
            "api_app_id": "A1",
            "trigger_id": f"trigger-{n}",
            "response_url": f"{self.slack.base_url}/response/{n}",
            "container": {"type": "message", "is_ephemeral": True},
            "actions": [
                {"type": "button", "action_id": action_id, "block_id": "b1", "value": value}
            ],
        }
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **signing)

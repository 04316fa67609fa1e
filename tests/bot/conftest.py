"""Drive the Bolt app as Slack does: signed HTTP requests to the app in HTTP mode, with its
Web API client pointed at a fake Slack on loopback."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.fernet import Fernet
from factories import person, usage
from fake_slack import SIGNING_SECRET, FakeSlack
from slack_sdk.signature import SignatureVerifier

from bot.app import build_app
from bot.server import create_http_server, stop_http_server
from sync.clock import utc_today
from sync.config import load_settings
from sync.simulator import Simulator
from sync.store import upsert_usage

SECRET_KEY = Fernet.generate_key().decode()
_ids = itertools.count(1)


@pytest.fixture
def slack():
    fake = FakeSlack().start()
    yield fake
    fake.assert_blocks_valid()
    fake.stop()


@pytest.fixture(scope="session")
def simulator():
    with Simulator(employees=20, days=30, seed=3) as sim:
        yield sim


@pytest.fixture
def settings(slack, simulator, sqlite_db):
    settings = load_settings(
        None,
        environ={
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "CODEX_API_BASE_URL": simulator.base_url,
            "CODEXBOT_SECRET_KEY": SECRET_KEY,
        },
    )
    settings.slack.admin_emails = ["config.admin@example.com"]
    return settings


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

    def command(self, user_id: str, text: str, **signing):
        n = next(_ids)
        body = urlencode(
            {
                "token": "legacy",
                "team_id": "T1",
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


@pytest.fixture
def bot(settings, slack):
    app = build_app(settings)
    server = create_http_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    sender = SlackSender(f"http://127.0.0.1:{server.effective_port}", slack)
    yield sender
    sender.http.close()
    stop_http_server(server)
    thread.join(5)
    assert not thread.is_alive()


@pytest.fixture
def org(slack, sqlite_db):
    """A small org; some people known to the directory by Slack id, some only by email."""
    today = utc_today()  # read per test: a run may cross midnight
    admin = person("admin@example.com", "Ada Admin", role="admin")
    ceo = person("ceo@example.com", "Cleo Chief")
    mgr = person("mgr@example.com", "Max Manager", manager=ceo)
    rep = person("rep@example.com", "Remy Report", manager=mgr)
    peer = person("peer@example.com", "Pia Peer", manager=mgr)
    stranger = person("stranger@example.com", "Sol Stranger", manager=ceo)
    archived = person(
        "archived@example.com",
        "Arlo Archived",
        manager=ceo,
        archived_on=today - dt.timedelta(days=40),
    )
    people = {
        "admin": admin,
        "ceo": ceo,
        "mgr": mgr,
        "rep": rep,
        "peer": peer,
        "stranger": stranger,
        "archived": archived,
    }
    for key, employee in people.items():
        user_id = "U" + key.upper()
        if key in ("admin", "ceo", "mgr"):
            employee.slack_user_id = user_id
            employee.save()
        # Slack's profile email may differ in case from the directory's.
        slack.add_user(user_id, employee.email.title())
    slack.add_user("UOUTSIDER", "outsider@example.com")
    slack.add_user("UCONFIGADMIN", "config.admin@example.com")
    slack.add_user("UBOTUSER", None, is_bot=True)
    records = []
    for key in people:
        for offset in range(1, 8):
            day = today - dt.timedelta(days=offset)
            records.append(usage(f"codex-{key}", day, email=f"{key}@example.com", credits=1.5))
    upsert_usage(records, 1)
    return people

"""The HTTP tests' checks, through Socket Mode where they apply.

The real app, built as the HTTP tests build it (bot.slack.web_client, bot.app.build_app), is
served by `bot.server.serve_socket_mode`, as `codexbot run` serves it when SLACK_APP_TOKEN
is set: slack_sdk's built-in Socket Mode client asks the fake Slack Web API
(bot/cli/fake_slack.py) for a WebSocket URL with apps.connections.open, connects to a local
Socket Mode server on loopback (tests/socket_mode_server.py), and gets Slack's envelopes
from it; the app's Web API calls go to the fake Slack, as in the HTTP tests.

What applies, and where its HTTP version is:
- Outsiders (test_outsiders.py): a foreign team in the envelope's payload gets one neutral
  sentence, in the acknowledgement, and causes no lookup; a profile from another team is
  never matched by email nor made an admin; the real admin still works afterwards.
- A DM thread reply is answered in the thread whatever conversations.replies says
  (listeners/events/test_direct_message.py).
- A big digest preview posts to the response_url at most 5 times, the rest in the DM
  (listeners/commands/test_codex.py).
- Acknowledgements never wait behind work (test_busy.py): in Socket Mode every envelope
  must be acknowledged on the socket, with its envelope_id, within Slack's 3 seconds, and
  the acknowledgement carries what HTTP puts in the response body (a refusal, a form's
  field errors).

What does not apply: Socket Mode has no HTTP request from Slack to the app. There is no
X-Slack-Signature to forge or replay and no signing secret in play (test_server.py's
signature tests), no X-Slack-Request-Timestamp to be stale or malformed, and no request
body whose size, Content-Length or UTF-8 encoding bot/server.py screens before Bolt sees
it (test_server.py's 4xx tests); /healthz and /metrics are HTTP mode's only. Instead the
app authenticates itself: its app-level token opens the connection (checked below), and
each envelope arrives as JSON on that connection. Hostile text (test_hostile_input.py),
Slack or the database going away (test_resilience.py) and posting within Slack's budgets
(test_slack_client.py) concern the text and the Web API calls, which are the same once
Bolt has the payload, whichever way it came.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time

import pytest
from slack_requests import SleepRecorder, add_reports, assert_long_preview_moved_to_dm
from slack_sdk.models.blocks import Block
from socket_mode_server import APP_ID, Ack, SocketModeServer

from bot.app import build_app
from bot.cli.fake_slack import (
    TEAM_ID,
    FakeSlack,
    block_action_payload,
    view_submission_payload,
)
from bot.server import serve_socket_mode
from bot.slack import web_client
from sync.store.models import Connection, DailyUsage, Employee

APP_TOKEN = "xapp-1-A1-test-app-token"
OTHER_TEAM = "T2OTHERORG"
# Slack shows an error when an envelope is not acknowledged within 3 seconds.
ACK_DEADLINE = 3.0
_ids = itertools.count(1)


class SocketModeSender:
    """Sends what Slack sends in Socket Mode: the payloads of bot/cli/fake_slack.SlackSender's
    requests, as JSON in envelopes; returns each envelope's id."""

    def __init__(self, server: SocketModeServer, slack: FakeSlack) -> None:
        self.server = server
        self.slack = slack

    def ack(self, envelope_id: str, timeout: float = 10.0) -> Ack:
        return self.server.wait_for_ack(envelope_id, timeout)

    def command(self, user_id: str, text: str, team_id: str = TEAM_ID) -> str:
        n = next(_ids)
        payload = {
            "token": "legacy",
            "team_id": team_id,
            "team_domain": "acme",
            "channel_id": "C1",
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": "/codex",
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": f"{self.slack.base_url}/response/{n}",
            "trigger_id": f"trigger-{n}",
        }
        return self.server.send("slash_commands", payload, accepts_response_payload=True)

    def event(self, event: dict, team_id: str = TEAM_ID) -> str:
        payload = {
            "token": "legacy",
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(_ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": "UCODEXBOT",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": team_id != TEAM_ID,
        }
        return self.server.send("events_api", payload, accepts_response_payload=False)

    def dm(self, user_id: str, text: str, team_id: str = TEAM_ID, **extra) -> str:
        event = {
            "type": "message",
            "channel": f"D{user_id}",
            "channel_type": "im",
            "user": user_id,
            "text": text,
            "ts": f"{time.time():.6f}",
            "team": team_id,
            **extra,
        }
        return self.event(event, team_id)

    def block_action(self, user_id: str, action_id: str, value: str, team_id=TEAM_ID) -> str:
        response_url = f"{self.slack.base_url}/response/{next(_ids)}"
        payload = block_action_payload(user_id, action_id, value, response_url, team_id, APP_ID)
        return self.server.send("interactive", payload, accepts_response_payload=False)

    def view_submission(self, user_id: str, api_key: str, workspace_id: str, team_id=TEAM_ID):
        payload = view_submission_payload(user_id, api_key, workspace_id, team_id, APP_ID)
        return self.server.send("interactive", payload, accepts_response_payload=True)


def _socket_mode_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started since `before` and still running, but for those the HTTP tests
    leave too: the app's work pool (bot/work.py) and the fake Slack's request threads."""
    return [
        thread
        for thread in threading.enumerate()
        if thread not in before
        and not thread.name.startswith("codexbot-work")
        and "process_request_thread" not in thread.name
    ]


@contextlib.contextmanager
def socket_mode_bot(settings, slack: FakeSlack, sleep=None):
    """The app served in Socket Mode by serve_socket_mode, connected to a local Socket
    Mode server; a sender for it. On the way out: the client is closed (serve_socket_mode
    returns), then the server; every envelope must have had exactly one acknowledgement,
    and no thread of theirs may be left running."""
    before = set(threading.enumerate())
    server = SocketModeServer().start()
    slack.socket_mode_url = server.url
    client = web_client(settings, sleep=SleepRecorder() if sleep is None else sleep)
    app = build_app(settings, client)
    stop = threading.Event()
    failed: list[BaseException] = []

    def serve() -> None:
        try:
            serve_socket_mode(app, APP_TOKEN, stop)
        except BaseException as exc:
            failed.append(exc)

    serving = threading.Thread(target=serve, name="serve-socket-mode", daemon=True)
    serving.start()
    try:
        server.wait_connected()
        yield SocketModeSender(server, slack)
    finally:
        # About a second: slack_sdk's client polls its message queue once a second.
        stop.set()
        serving.join(10)
        still_serving = serving.is_alive()
        server.stop()
        if failed:
            raise AssertionError("serve_socket_mode failed") from failed[0]
    assert not still_serving, "serve_socket_mode did not return once stopped"
    assert _socket_mode_threads(before) == []
    assert server.unacknowledged() == []
    acknowledged = [ack.envelope_id for ack in server.ack_log]
    assert sorted(acknowledged) == sorted(server.sent), "an envelope was acknowledged twice"
    for ack in server.ack_log:
        for block in (ack.payload or {}).get("blocks", []):
            parsed = Block.parse(block)
            assert parsed is not None and parsed.to_dict() == block, block


@pytest.fixture
def socket_bot(settings, slack):
    with socket_mode_bot(settings, slack) as sender:
        yield sender


def calls_about(slack, user_id: str) -> list:
    return [c for c in slack.calls if user_id in str(c.params)]


def test_the_app_token_opens_the_connection_slack_hands_out(socket_bot, slack):
    (opened,) = slack.calls_to("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"  # not the bot token
    assert socket_bot.server.paths == ["/link/?ticket=local-ticket&app_id=A1"]


def test_an_outsider_with_an_admins_email_gets_nothing_and_changes_nothing(
    socket_bot, slack, org, settings, simulator
):
    from factories import WORKSPACE

    from sync.codex.connection import store_connection

    store_connection(simulator.workspace_id, simulator.api_key, settings.security.secret_key)
    stored = DailyUsage.select().count()
    outsider = "UOUTSIDE"  # the admin's email, from another organisation's team
    slack.add_user(outsider, "admin@example.com", team_id=OTHER_TEAM, is_stranger=False)
    for text in ("disconnect", "disconnect forget", "status", "stats", "audit <@UREP>", "connect"):
        ack = socket_bot.ack(socket_bot.command(outsider, text, team_id=OTHER_TEAM))
        assert ack.payload is not None, text  # refused in the acknowledgement itself
        assert ack.payload["response_type"] == "ephemeral"
        assert "installed in only" in ack.payload["text"]
    # A DM, a crafted button and a crafted form from their team: acknowledged, bare.
    quiet = [
        socket_bot.dm(outsider, "who viewed my stats?", team_id=OTHER_TEAM, user_team=OTHER_TEAM),
        socket_bot.event({"type": "app_home_opened", "user": outsider}, team_id=OTHER_TEAM),
        socket_bot.block_action(outsider, "forget_workspace", WORKSPACE, team_id=OTHER_TEAM),
        socket_bot.view_submission(outsider, "sk-evil", simulator.workspace_id, OTHER_TEAM),
    ]
    assert [socket_bot.ack(envelope_id).payload for envelope_id in quiet] == [None] * 4
    assert Connection.select().count() == 1  # nothing was disconnected
    assert DailyUsage.select().count() == stored  # nor forgotten
    assert calls_about(slack, outsider) == []  # nobody looked them up or wrote to them
    assert slack.calls_to("response_url") == [] and slack.calls_to("views.open") == []

    # In a shared channel the envelope names our team, but the profile says where they
    # belong: a config admin's email or an employee's from there is nobody here.
    slack.add_user("UCONNECT", "config.admin@example.com", team_id=OTHER_TEAM)
    slack.add_user("UCONNECT2", "peer@example.com", team_id=OTHER_TEAM, is_stranger=False)
    socket_bot.ack(socket_bot.command("UCONNECT", "disconnect"))
    (denied,) = slack.wait_for("response_url")
    assert "Only codexbot admins can disconnect Codex" in denied.params["text"]
    socket_bot.ack(socket_bot.dm("UCONNECT2", "usage"))
    (answer,) = slack.wait_for("chat.postMessage")
    assert "not in codexbot's directory" in answer.params["text"]
    assert Employee.get(Employee.email == "peer@example.com").slack_user_id is None
    assert Employee.get(Employee.email == "admin@example.com").slack_user_id == "UADMIN"
    assert Connection.select().count() == 1

    # The real admin still works afterwards, and their disconnect is one.
    socket_bot.ack(socket_bot.command("UADMIN", "status"))
    status = slack.wait_for("response_url", 2)[1]
    assert f"workspace `{simulator.workspace_id}`" in status.params["text"]
    socket_bot.ack(socket_bot.command("UADMIN", "disconnect"))
    assert "disconnected" in slack.wait_for("response_url", 3)[2].params["text"]
    assert Connection.select().count() == 0


def test_a_question_in_a_dm_thread_is_answered_in_the_thread_whatever_replies_says(
    socket_bot, slack, org
):
    slack.fail_next("conversations.replies", 200, {"ok": False, "error": "ratelimited"}, {})
    socket_bot.ack(socket_bot.dm("UREP", "my usage", thread_ts="1700000000.000100"))
    (answer,) = slack.wait_for("chat.postMessage")
    assert answer.params["channel"] == "DUREP"
    assert answer.params["thread_ts"] == "1700000000.000100"
    assert answer.params["text"].startswith("Codex usage for Remy Report")


def test_a_2000_report_digest_preview_posts_to_the_response_url_at_most_5_times(
    socket_bot, slack, org
):
    add_reports(org["mgr"])
    ack = socket_bot.ack(socket_bot.command("UMGR", "digest preview"))
    assert ack.payload is None  # acknowledged bare; the preview follows
    assert_long_preview_moved_to_dm(slack)


def test_every_envelope_is_acknowledged_at_once_while_its_work_waits_on_slack(
    socket_bot, slack, org, simulator
):
    from factories import WORKSPACE

    stuck = slack.hold("users.info")  # the answers wait on a slow Slack
    sent = {
        "command": socket_bot.command("UREP", "stats"),
        "dm": socket_bot.dm("UPEER", "usage"),
        "home": socket_bot.event({"type": "app_home_opened", "user": "UREP", "tab": "home"}),
        "button": socket_bot.block_action("UMGR", "forget_workspace", WORKSPACE),
        "form": socket_bot.view_submission("UMGR", simulator.api_key, simulator.workspace_id),
    }
    # Every acknowledgement arrives while the work behind them is stuck: Slack's answer
    # to users.info is held until `stuck` is set, below.
    acks = {name: socket_bot.ack(envelope_id, ACK_DEADLINE) for name, envelope_id in sent.items()}
    slack.wait_for("users.info")
    server = socket_bot.server
    for name, ack in acks.items():
        assert ack.received_at - server.sent[ack.envelope_id] < ACK_DEADLINE, name
    # What HTTP answers in the response body rides on the acknowledgement.
    assert acks["form"].payload is not None
    assert acks["form"].payload["response_action"] == "errors"
    assert "Only codexbot admins" in acks["form"].payload["errors"]["api_key"]
    assert [acks[name].payload for name in ("command", "dm", "home")] == [None] * 3

    stuck.set()
    answers = {c.params["text"] for c in slack.wait_for("response_url", 2)}
    assert any(text.startswith("Codex usage for Remy Report") for text in answers)
    assert any("Only codexbot admins can disconnect Codex" in text for text in answers)
    (posted,) = slack.wait_for("chat.postMessage")
    assert posted.params["channel"] == "DUPEER"
    assert posted.params["text"].startswith("Codex usage for Pia Peer")
    (published,) = slack.wait_for("views.publish")
    assert published.params["user_id"] == "UREP"
    assert Connection.select().count() == 0  # the crafted form stored nothing

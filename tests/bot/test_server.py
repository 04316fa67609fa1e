"""Only requests signed by Slack, recently, are run; /healthz tells operators the state."""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import urlencode

import httpx
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from waitress.channel import HTTPChannel

from bot.cli.fake_slack import SIGNING_SECRET
from bot.server import HEALTH_PATH, create_http_server
from sync.store.models import SyncRun


def nothing_ran(slack) -> bool:
    return all(call.method == "auth.test" for call in slack.calls)


def test_a_forged_signature_is_refused(bot, slack, org):
    response = bot.command("UADMIN", "connect", signature="v0=" + "0" * 64)
    assert response.status_code == 401
    assert nothing_ran(slack)


def test_a_signature_made_with_another_secret_is_refused(bot, slack, org):
    body = urlencode({"command": "/codex", "text": "stats", "user_id": "UREP"})
    timestamp = str(int(time.time()))
    forged = SignatureVerifier("not-the-secret").generate_signature(timestamp=timestamp, body=body)
    response = bot.post(
        body, "application/x-www-form-urlencoded", timestamp=timestamp, signature=forged
    )
    assert response.status_code == 401
    assert nothing_ran(slack)


def test_missing_headers_are_refused(bot, slack, org):
    response = bot.http.post(
        bot.url,
        content=urlencode({"command": "/codex", "text": "stats"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401
    assert nothing_ran(slack)


def test_a_request_over_five_minutes_old_is_refused(bot, slack, org):
    stale = int(time.time()) - 6 * 60
    response = bot.command("UREP", "stats", timestamp=stale)  # correctly signed, but old
    assert response.status_code == 401
    assert nothing_ran(slack)


def test_a_replayed_body_with_a_new_timestamp_is_refused(bot, slack, org):
    body = urlencode({"command": "/codex", "text": "stats", "user_id": "UREP"})
    old = str(int(time.time()) - 600)
    old_signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=old, body=body)
    response = bot.post(
        body,
        "application/x-www-form-urlencoded",
        timestamp=int(time.time()),
        signature=old_signature,
    )
    assert response.status_code == 401
    assert nothing_ran(slack)


def test_healthz_reports_database_and_last_sync(bot, org):
    url = bot.url.replace("/slack/events", HEALTH_PATH)
    SyncRun.delete().execute()  # the org fixture's usage came with a sync: none, here
    before = httpx.get(url).json()
    assert before == {"database": "ok", "last_sync": None}
    SyncRun.create(
        started_at="2026-11-25 08:00:00",
        finished_at="2026-11-25 08:01:00",
        window_start="2026-11-20",
        window_end="2026-11-25",
        outcome="ok",
    )
    after = httpx.get(url)
    assert after.status_code == 200
    assert after.json()["last_sync"] == {"finished_at": "2026-11-25T08:01:00Z", "outcome": "ok"}


def test_bodies_that_are_not_utf8_or_too_large_and_bad_timestamps_get_4xx_and_no_traceback(
    bot, slack, org, caplog
):
    caplog.set_level(logging.DEBUG)
    not_utf8 = b"text=%FF&user_id=UREP" + b"\xff\xfe"
    refused = bot.http.post(
        bot.url,
        content=not_utf8,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=" + "0" * 64,
        },
    )
    assert refused.status_code == 400
    stale = bot.command("UREP", "stats", timestamp="abc")
    assert stale.status_code == 401
    huge = "payload=" + "x" * (2 * 1024 * 1024)
    too_large = bot.post(huge, "application/x-www-form-urlencoded")
    assert too_large.status_code == 413
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Traceback" not in logged and "xxxxxxxx" not in logged
    assert not any(record.exc_info for record in caplog.records)
    # And the bot still answers a good request.
    assert bot.command("UREP", "stats").status_code == 200
    assert "Codex usage for Remy Report" in slack.wait_for("response_url")[0].params["text"]


def test_connections_opened_together_are_all_accepted_in_one_turn_of_the_loop(slack):
    """In a burst, a connection accepted a turn later waited for the interpreter at every
    turn before it (bot/server.py): all those waiting are taken at once."""
    app = App(client=WebClient(token="xoxb-test", base_url=slack.api_url), signing_secret="s")
    server = create_http_server(app, "127.0.0.1", 0, 1 << 20)
    clients = [socket.create_connection(("127.0.0.1", server.effective_port)) for _ in range(5)]
    try:
        server.handle_accept()  # what one turn does with the listening socket readable
        channels = [c for c in server._map.values() if isinstance(c, HTTPChannel)]
        assert len(channels) == 5
        server.handle_accept()  # none left: returns at once
    finally:
        for client in clients:
            client.close()
        server.task_dispatcher.shutdown(cancel_pending=False)
        server.close()

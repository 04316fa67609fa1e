"""Talking to the real Bolt app as Slack does: signed, timestamped requests over HTTP
(bot/cli/fake_slack.py's SlackSender) to the app served in HTTP mode, its Web API client
pointed at the fake Slack."""

from __future__ import annotations

import contextlib
import threading

from bot.app import build_app
from bot.cli.fake_slack import SIGNING_SECRET, FakeSlack, SlackSender
from bot.server import create_http_server
from bot.slack import web_client
from sync.config import load_settings


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


LONG_PREVIEW_REPORTS = 2000


def ephemeral_answer(slack: FakeSlack, count: int = 1) -> dict:
    """The `count`-th answer posted to a slash command's response_url, seen only by its
    asker (every answer is private to the asker)."""
    answer = slack.wait_for("response_url", count)[count - 1].params
    assert answer["response_type"] == "ephemeral"
    return answer


def add_reports(manager, count: int = LONG_PREVIEW_REPORTS) -> None:
    """`count` direct reports for `manager` (Report 0000, ...), without usage."""
    from sync.store.models import Employee

    Employee.insert_many(
        [(f"r{i:04d}@example.com", f"Report {i:04d}", manager.id) for i in range(count)],
        fields=[Employee.email, Employee.name, Employee.manager],
    ).execute()


def assert_long_preview_moved_to_dm(slack: FakeSlack, dm_channel: str = "DUMGR") -> None:
    """A digest preview of `add_reports`' 2,000 people: at most 5 posts to the
    response_url (Slack's budget), the rest in the asker's DM, nobody left out."""
    import re

    in_place = slack.wait_for("response_url", 5)
    note = in_place[-1].params["text"]
    assert "is in your DM with codexbot" in note
    moved = int(re.search(r"\((\d+) more messages\)", note).group(1))
    assert moved > 30
    in_dm = slack.wait_for("chat.postMessage", moved)
    assert len(slack.calls_to("response_url")) == 5
    assert {post.params["channel"] for post in in_dm} == {dm_channel}
    shown = str([c.params["blocks"] for c in in_place[:4]] + [p.params["blocks"] for p in in_dm])
    assert all(f"Report {i:04d}" in shown for i in range(0, LONG_PREVIEW_REPORTS, 97))
    assert f"Report {LONG_PREVIEW_REPORTS - 1}" in shown

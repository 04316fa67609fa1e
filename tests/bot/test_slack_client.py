"""Posting within Slack's budgets (one message a second in a channel, whoever posts), over
connections kept alive, failing and retrying as slack_sdk's own urlopen did."""

from __future__ import annotations

import threading
from urllib.error import URLError

import pytest
from slack_requests import SleepRecorder
from slack_sdk.errors import SlackApiError

from bot.slack import PacedWebClient, retry_handlers


def test_posts_to_one_channel_are_a_second_apart_and_other_channels_do_not_wait(slack):
    now = [100.0]
    slept = SleepRecorder()
    client = PacedWebClient(slept, token="xoxb-test", base_url=slack.api_url, clock=lambda: now[0])
    for channel in ("D1", "D1", "D2", "D1"):
        client.chat_postMessage(channel=channel, text="hello")
    # D1's second post waits its second, D2 goes at once, D1's third waits two.
    assert slept == [1.0, 2.0]
    now[0] += 5.0  # later on, D1 has its turn again at once
    client.chat_postMessage(channel="D1", text="hello")
    assert slept == [1.0, 2.0]
    assert [c.params["channel"] for c in slack.calls_to("chat.postMessage")] == [
        "D1",
        "D1",
        "D2",
        "D1",
        "D1",
    ]


def test_threads_posting_to_one_channel_take_turns(slack):
    slept = SleepRecorder()
    client = PacedWebClient(slept, token="xoxb-test", base_url=slack.api_url, clock=lambda: 0.0)
    threads = [
        threading.Thread(target=client.chat_postMessage, kwargs={"channel": "D1", "text": "x"})
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(slept) == [1.0, 2.0, 3.0, 4.0]  # each its own turn, none shared


def test_calls_from_one_thread_share_one_kept_alive_connection(slack):
    client = PacedWebClient(SleepRecorder(), token="xoxb-test", base_url=slack.api_url)
    before = slack.connections_accepted
    for n in range(10):
        client.chat_postMessage(channel=f"D{n}", text="hello")
        client.post_to_response_url(f"{slack.base_url}/response/{n}", {"text": "hi"})
    assert slack.connections_accepted == before + 1
    assert len(slack.calls_to("chat.postMessage")) == len(slack.calls_to("response_url")) == 10


def test_a_kept_alive_connection_fails_and_retries_as_urlopen_did(slack):
    slept = SleepRecorder()
    client = PacedWebClient(
        slept, token="xoxb-test", base_url=slack.api_url, retry_handlers=retry_handlers(slept)
    )
    client.chat_postMessage(channel="D1", text="hello")  # the connection is open now
    slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "7"})
    assert client.chat_postMessage(channel="D2", text="hello")["ok"]
    assert 7.0 <= slept[-1] < 8.0  # Retry-After's seconds and up to a second of jitter
    slack.fail_next("chat.postMessage", 500, body={"ok": False, "error": "fatal_error"})
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="D3", text="hello")
    assert refused.value.response.status_code == 500
    assert refused.value.response["error"] == "fatal_error"


def test_slack_going_down_closes_the_kept_alive_connection_and_coming_back_reopens_it(slack):
    slept = SleepRecorder()
    client = PacedWebClient(
        slept, token="xoxb-test", base_url=slack.api_url, retry_handlers=retry_handlers(slept)
    )
    client.chat_postMessage(channel="D1", text="hello")
    slack.go_down()
    with pytest.raises(URLError):
        client.chat_postMessage(channel="D2", text="hello")
    assert len(slept) == 1  # the refused connection was retried once, after a backoff
    slack.come_back()
    assert client.chat_postMessage(channel="D3", text="hello")["ok"]
    assert [c.params["channel"] for c in slack.calls_to("chat.postMessage")] == ["D1", "D3"]


def test_a_call_after_slack_restarted_reaches_it_on_a_new_connection(slack):
    slept = SleepRecorder()
    client = PacedWebClient(
        slept, token="xoxb-test", base_url=slack.api_url, retry_handlers=retry_handlers(slept)
    )
    client.chat_postMessage(channel="D1", text="hello")
    slack.go_down()  # its end of the kept-alive connection is closed
    slack.come_back()
    assert client.chat_postMessage(channel="D2", text="hello")["ok"]
    assert [c.params["channel"] for c in slack.calls_to("chat.postMessage")] == ["D1", "D2"]
    assert len(slept) <= 1  # at most slack_sdk's one retry of a dropped connection

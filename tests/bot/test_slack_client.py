"""Posting within Slack's budgets: one message a second in a channel, whoever posts."""

from __future__ import annotations

import threading

from slack_requests import SleepRecorder

from bot.slack import PacedWebClient


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

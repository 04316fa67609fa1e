"""Acknowledgements never wait behind work: the work has a bounded pool and queue, and
when both are full people are told the bot is busy at once, not left waiting."""

from __future__ import annotations

import threading
import time

from slack_requests import running_bot

from bot.work import WorkPool, overflowing


def test_work_beyond_the_pool_and_queue_runs_on_its_own_thread_marked_as_overflow():
    pool = WorkPool(workers=1, queue=1)
    release = threading.Event()
    seen = []

    def work(name):
        seen.append((name, overflowing()))
        release.wait(5)

    running, waiting = pool.submit(work, "running"), pool.submit(work, "waiting")
    # No room: not queued behind them, and not run in the caller's (the request's) thread.
    overflow = pool.submit(lambda: (overflowing(), threading.current_thread()))
    marked, thread = overflow.result(5)
    assert marked is True and thread is not threading.current_thread()
    release.set()
    running.result(5), waiting.result(5)
    assert sorted(seen) == [("running", False), ("waiting", False)]
    assert pool.submit(lambda: overflowing()).result(5) is False  # room again
    pool.shutdown()


def test_overflow_beyond_its_own_queue_is_dropped_and_counted_never_run_in_the_caller():
    pool = WorkPool(workers=1, queue=0, overflow_queue=0)
    release = threading.Event()
    caller = threading.current_thread()
    ran_in = []

    def work():
        ran_in.append(threading.current_thread())
        release.wait(5)

    running, busy = pool.submit(work), pool.submit(work)  # the worker, then the busy thread
    dropped = pool.submit(work)
    assert dropped.done() and dropped.result() is None and pool.dropped == 1
    release.set()
    running.result(5), busy.result(5)
    assert len(ran_in) == 2 and caller not in ran_in
    pool.shutdown()


def test_a_burst_beyond_the_pool_is_told_busy_and_acknowledged_at_once(settings, slack, org):
    settings.slack.workers, settings.slack.queued_work = 1, 0
    with running_bot(settings, slack) as bot:
        stuck = slack.hold("users.info")  # Remy's answer waits on a slow Slack
        started = time.monotonic()
        first = bot.dm("UREP", "usage")
        slack.wait_for("users.info")  # the one worker is busy with Remy
        second = bot.dm("UPEER", "usage")
        acknowledged = time.monotonic() - started
        assert first.status_code == second.status_code == 200
        assert acknowledged < 1.0
        (busy,) = slack.wait_for("chat.postMessage")
        assert busy.params["channel"] == "DUPEER"
        assert "codexbot is busy" in busy.params["text"]
        stuck.set()
        answers = slack.wait_for("chat.postMessage", 2)
        assert answers[1].params["channel"] == "DUREP"
        assert answers[1].params["text"].startswith("Codex usage for Remy Report")

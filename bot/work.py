"""The pool that does codexbot's slow work (answers, DMs, the Home tab), apart from the
acknowledgements Slack waits for.

Acknowledgements run in the request thread, at once; the work behind them is queued here,
on a bounded number of threads with a bounded queue. When the queue is full, the work is
not queued behind the rest: it runs on a thread of its own, marked as overflow, where the
listener only tells the person the bot is busy (one Slack call, no database) instead of
leaving them waiting behind a queue that grows without end. That thread has a bounded
queue too; beyond it (a flood no person could be answered in), the work is dropped and
logged. Nothing here runs in the request thread, so an acknowledgement never waits for
Slack or the database.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

_overflow = contextvars.ContextVar("codexbot_overflow", default=False)

# "Busy" notices waiting for the overflow thread: each is one quick Slack call.
OVERFLOW_QUEUE = 1000


def overflowing() -> bool:
    """True inside work the pool had no room for: say "busy", do nothing slow."""
    return _overflow.get()


@contextlib.contextmanager
def _as_overflow() -> Iterator[None]:
    token = _overflow.set(True)
    try:
        yield
    finally:
        _overflow.reset(token)


class WorkPool(Executor):
    """At most `workers` tasks run and `queue` wait; beyond that, submit() hands the task
    to the overflow thread, marked as overflow (see the module docstring)."""

    def __init__(self, workers: int, queue: int, overflow_queue: int = OVERFLOW_QUEUE) -> None:
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codexbot-work")
        self._room = threading.BoundedSemaphore(workers + queue)
        self._overflow = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codexbot-busy")
        self._overflow_room = threading.BoundedSemaphore(1 + overflow_queue)
        self.dropped = 0  # overflow beyond the overflow queue: nobody was told

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._room.acquire(blocking=False):
            return self._run_on(self._threads, self._room, fn, *args, **kwargs)
        if self._overflow_room.acquire(blocking=False):
            return self._run_on(
                self._overflow, self._overflow_room, _overflowed, fn, *args, **kwargs
            )
        self.dropped += 1
        log.warning("work dropped: the work queue and the busy notices are all full")
        dropped: Future = Future()
        dropped.set_result(None)
        return dropped

    @staticmethod
    def _run_on(
        threads: ThreadPoolExecutor,
        room: threading.BoundedSemaphore,
        fn: Callable[..., Any],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Future:
        try:
            future = threads.submit(fn, *args, **kwargs)
        except BaseException:
            room.release()
            raise
        future.add_done_callback(lambda _: room.release())
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._threads.shutdown(wait=wait, cancel_futures=cancel_futures)
        self._overflow.shutdown(wait=wait, cancel_futures=cancel_futures)


def _overflowed(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    with _as_overflow():
        return fn(*args, **kwargs)

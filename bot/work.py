"""The pool that does codexbot's slow work (answers, DMs, the Home tab), apart from the
acknowledgements Slack waits for.

Acknowledgements run in the request thread, at once; the work behind them is queued here,
on a bounded number of threads with a bounded queue. When the queue is full, the work is
not queued at all: it runs at once in the caller's thread, marked as overflow, and the
listener only tells the person the bot is busy (one quick Slack call) instead of leaving
them waiting behind a queue that grows without end.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

_overflow = contextvars.ContextVar("codexbot_overflow", default=False)


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
    """At most `workers` tasks run and `queue` wait; beyond that, submit() runs the task
    as overflow in the caller's thread (see the module docstring)."""

    def __init__(self, workers: int, queue: int) -> None:
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codexbot-work")
        self._room = threading.BoundedSemaphore(workers + queue)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if not self._room.acquire(blocking=False):
            done: Future = Future()
            with _as_overflow():
                try:
                    done.set_result(fn(*args, **kwargs))
                except Exception as exc:  # noqa: BLE001 - handed back as the future's outcome
                    done.set_exception(exc)
            return done
        try:
            future = self._threads.submit(fn, *args, **kwargs)
        except BaseException:
            self._room.release()
            raise
        future.add_done_callback(lambda _: self._room.release())
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._threads.shutdown(wait=wait, cancel_futures=cancel_futures)

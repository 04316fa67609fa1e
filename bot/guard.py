"""Every listener runs inside this guard: a database connection (work_connection: on
SQLite the thread keeps its own; a broken one is never reused), and "temporarily
unavailable" instead of a stack trace when the database is down or its schema is not
this code's. Work the pool had no room for (bot/work.py) only says the bot is busy: it
runs without the database."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from peewee import InterfaceError, OperationalError

from bot.connecting import API_KEY_BLOCK
from bot.messages import render_field_errors, render_message
from bot.work import overflowing
from sync.notices import Notice
from sync.store.database import schema_state, work_connection
from sync.store.models import database

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)


class SchemaGate:
    """Whether the database's schema is this code's, checked at most every RECHECK_SECONDS:
    a database left behind (`database.auto_upgrade = false`) or moved ahead by a newer
    replica is not served until it matches again."""

    RECHECK_SECONDS = 30.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._checked_at: float | None = None
        self._problem: Notice | None = None

    def problem(self) -> Notice | None:
        """None when the schema matches; else why not (worded in templates/_notices.j2).
        Call it with a database connection open."""
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= self.RECHECK_SECONDS:
            state = schema_state(database.obj)
            self._problem = None
            if state.current != state.needed:
                kind = "schema_ahead" if state.current > state.needed else "schema_behind"
                self._problem = Notice(kind, {"current": state.current, "needed": state.needed})
            self._checked_at = now
        return self._problem


schema_gate = SchemaGate()


def listener(function):
    """A listener that, when the pool has no room (bot/work.py), only says it is busy: it
    then runs without opening the database."""
    return _guarded(function, busy_without_database=True)


def essential_listener(function):
    """A listener whose work must happen even in a burst (an account deactivated): when
    the pool has no room it still runs, database and all, on the busy thread."""
    return _guarded(function, busy_without_database=False)


def _guarded(function, busy_without_database: bool):
    @functools.wraps(function)
    def guarded(**kwargs):
        if busy_without_database and overflowing():
            return function(**kwargs)
        try:
            with work_connection():
                if schema_gate.problem() is not None:
                    _tell_unavailable(kwargs)
                    return None
                return function(**kwargs)
        except DATABASE_ERRORS as exc:
            log.error("database unavailable in %s: %s", function.__name__, type(exc).__name__)
            _tell_unavailable(kwargs)

    return guarded


def _tell_unavailable(kwargs) -> None:
    unavailable = Notice("unavailable")
    message = render_message("notice", notice=unavailable)
    ack, respond, say = kwargs.get("ack"), kwargs.get("respond"), kwargs.get("say")
    if ack is not None and ack.response is None and "view" in kwargs:
        ack(response_action="errors", errors=render_field_errors({API_KEY_BLOCK: unavailable}))
    elif ack is not None and ack.response is None:
        ack(response_type="ephemeral", **message)
    elif respond is not None:
        respond(response_type="ephemeral", replace_original=False, **message)
    elif say is not None:
        say(**message)

"""Every listener runs inside this guard: its own database connection, closed afterwards
(a broken connection is never reused), and "temporarily unavailable" instead of a stack
trace when the database is down."""

from __future__ import annotations

import functools
import logging

from peewee import InterfaceError, OperationalError

from bot.connecting import API_KEY_BLOCK
from bot.messages import render_field_errors, render_message
from sync.notices import Notice
from sync.store.models import database

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)


def listener(function):
    @functools.wraps(function)
    def guarded(**kwargs):
        try:
            with database.connection_context():
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

"""When the database is down, people get "temporarily unavailable", never a stack trace."""

from __future__ import annotations

import functools
import logging

from peewee import InterfaceError, OperationalError

from bot.messages import render_message

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)


def answer_unavailable_on_database_errors(listener):
    """Wrap a lazy listener that answers through `respond`."""

    @functools.wraps(listener)
    def wrapper(*args, respond, **kwargs):
        try:
            return listener(*args, respond=respond, **kwargs)
        except DATABASE_ERRORS as exc:
            log.error("database unavailable while answering: %s", type(exc).__name__)
            respond(
                response_type="ephemeral",
                replace_original=False,
                **render_message("notice", kind="unavailable"),
            )

    return wrapper

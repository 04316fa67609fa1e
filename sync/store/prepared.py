"""Queries a hot path runs again and again with other values, their SQL built once.

Peewee builds a query's SQL anew at every run, walking the whole expression tree: for
the short lookups behind a DM's answer that took longer than running them (about 2 of
a DM answer's 5 ms of CPU, measured with bench/slack_load.py's org). A `Prepared` query
is built by peewee once per database engine and shape (how many values each list has),
with markers where the values go; each later run only binds the values. The query is
still written with peewee, once, in the function given; lists longer than
`LONGEST_PREPARED_LIST` are built afresh every time, so the cache stays small.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from peewee import SQL, Database, Query

from sync.store.models import database

LONGEST_PREPARED_LIST = 8

_MARKER = "__codexbot_value_{}_{}__"
_MARKERS = re.compile(r"__codexbot_value_(\d+)_(-?\d+)__")

# Where a parameter comes from: the n-th value (-1 for a single value, else the index in
# that list), or a constant peewee put in the query (a LIMIT, a literal).
_Slot = tuple[int, int] | tuple[None, Any]


class Prepared:
    """`build(*values)` is the query, written with peewee; `execute(*values)` runs it.
    A value is a single value, or a list (for `in_`)."""

    def __init__(self, build: Callable[..., Query]) -> None:
        self._build = build
        self._built: dict[tuple, tuple[str, list[_Slot]]] = {}
        self._lock = threading.Lock()

    @property
    def shapes(self) -> list[tuple]:
        """The shapes whose SQL is kept, in the order they were first asked for."""
        return [shape for _, shape in self._built]

    def sql(self, *values: Any) -> tuple[str, list]:
        """The query's SQL and parameters for these values, on the bound database."""
        db: Database = database.obj
        shape = tuple(len(v) if isinstance(v, list | tuple) else None for v in values)
        if any(n is not None and n > LONGEST_PREPARED_LIST for n in shape):
            return db.get_sql_context().sql(self._build(*values)).query()
        key = (type(db), shape)
        built = self._built.get(key)
        if built is None:
            built = _prepare(db, self._build, shape)
            with self._lock:
                self._built[key] = built
        sql, slots = built
        return sql, [
            given if n is None else values[n] if given == -1 else values[n][given]
            for n, given in slots
        ]

    def execute(self, *values: Any):
        """The driver's cursor over the rows, as peewee's `database.execute` gives."""
        sql, params = self.sql(*values)
        return database.execute_sql(sql, params)


def _prepare(db: Database, build: Callable[..., Query], shape: Sequence[int | None]):
    markers = [
        SQL(_MARKER.format(n, -1))
        if size is None
        else [SQL(_MARKER.format(n, index)) for index in range(size)]
        for n, size in enumerate(shape)
    ]
    sql, constants = db.get_sql_context().sql(build(*markers)).query()
    slots: list[_Slot] = []
    remaining = iter(constants)
    parts = re.split(f"({_MARKERS.pattern}|{re.escape(db.param)})", sql)
    text = []
    # re.split with groups: text, whole match, value number, index, text, ...
    for n in range(0, len(parts), 4):
        text.append(parts[n])
        if n + 1 >= len(parts):
            break
        if parts[n + 2] is not None:
            slots.append((int(parts[n + 2]), int(parts[n + 3])))
        else:
            slots.append((None, next(remaining)))
        text.append(db.param)
    if next(remaining, _MARKERS) is not _MARKERS:
        raise ValueError("a prepared query's parameters did not match its placeholders")
    return "".join(text), slots

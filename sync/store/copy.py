"""Copying everything from one database to another: moving from the embedded SQLite file
to PostgreSQL without losing the history the API no longer serves (usage older than 90
days, every workspace's), the directory, aliases, access log, digest deliveries and the
connection, its key still encrypted.

The target must be migrated to this code's schema and empty. Rows keep their ids; values
go through the models' own conversions (SQLite's text dates and 0/1 booleans become
PostgreSQL dates and booleans). Claims are not copied: they are the source's replicas'
business. Stop codexbot while it runs, so the copy is a snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from peewee import CompositeKey, Database, Model, PostgresqlDatabase

from sync.notices import Problem
from sync.store.database import schema_state
from sync.store.models import (
    AccessLog,
    CodexUser,
    Connection,
    DailyUsage,
    DigestDelivery,
    DigestSchedule,
    DirectoryChange,
    EmailAlias,
    Employee,
    OneOnOne,
    OrgSource,
    SyncedDay,
    SyncRun,
    Workspace,
)
from sync.store.rollups import forget_rollups

# Parents before the rows that refer to them.
COPIED = (
    Employee,
    EmailAlias,
    CodexUser,
    Workspace,
    DailyUsage,
    SyncedDay,
    SyncRun,
    Connection,
    DigestDelivery,
    AccessLog,
    DirectoryChange,
    OrgSource,
    DigestSchedule,
    OneOnOne,
)
BATCH_ROWS = 5000


class CopyRefusedError(Problem):
    """The target is not ready: `kind` says why (copy_target_not_migrated, _not_empty)."""

    def __init__(self, kind: str, **details: object) -> None:
        self.kind = kind
        super().__init__(**details)


@dataclass(frozen=True)
class CopiedTable:
    table: str
    rows: int


def rows_to_copy(source: Database) -> int:
    return sum(_count(source, model) for model in COPIED)


def copy_database(
    source: Database, target: Database, progress: Callable[[int], None] = lambda rows: None
) -> list[CopiedTable]:
    """Copy every table of COPIED from `source` to `target`, batch by batch, reporting
    rows as they go; then check each table's count on both sides."""
    _check_target(target)
    copied = []
    for model in COPIED:
        with target.atomic():
            for batch in _batches(source, model):
                _insert(target, model, batch)
                progress(len(batch))
            if model is Employee:  # managers point at employees: set once all exist
                _link_managers(source, target)
        if isinstance(target, PostgresqlDatabase):
            _continue_ids(target, model)
        rows = _count(source, model)
        if _count(target, model) != rows:
            raise CopyRefusedError(
                "copy_count_mismatch", table=model._meta.table_name, expected=rows
            )
        copied.append(CopiedTable(model._meta.table_name, rows))
    # Roll-ups are not copied: the target builds its own from the rows it now holds.
    forget_rollups(target)
    return copied


def _check_target(target: Database) -> None:
    state = schema_state(target)
    if state.current != state.needed:
        raise CopyRefusedError(
            "copy_target_not_migrated", current=state.current, needed=state.needed
        )
    filled = [model._meta.table_name for model in COPIED if _count(target, model)]
    if filled:
        raise CopyRefusedError("copy_target_not_empty", tables=", ".join(filled))


def _columns(model: type[Model]) -> list:
    return list(model._meta.sorted_fields)


def _quoted(name: str) -> str:
    return f'"{name}"'


def _count(db: Database, model: type[Model]) -> int:
    return db.execute_sql(f"SELECT COUNT(*) FROM {_quoted(model._meta.table_name)}").fetchone()[0]


def _batches(source: Database, model: type[Model]) -> Iterator[list[tuple]]:
    """The model's rows in key order, converted to Python values by its fields."""
    fields = _columns(model)
    names = ", ".join(_quoted(f.column_name) for f in fields)
    key = ", ".join(_quoted(f.column_name) for f in _key_fields(model))
    sql = f"SELECT {names} FROM {_quoted(model._meta.table_name)} ORDER BY {key}"
    cursor = source.execute_sql(sql)
    while rows := cursor.fetchmany(BATCH_ROWS):
        yield [
            tuple(
                None if value is None else field.python_value(value)
                for field, value in zip(fields, row, strict=True)
            )
            for row in rows
        ]


def _key_fields(model: type[Model]) -> list:
    key = model._meta.primary_key
    if isinstance(key, CompositeKey):
        return [model._meta.fields[name] for name in key.field_names]
    return [key]


def _insert(target: Database, model: type[Model], rows: list[tuple]) -> None:
    fields = _columns(model)
    names = ", ".join(_quoted(f.column_name) for f in fields)
    if model is Employee:  # managers are linked afterwards
        manager = next(i for i, field in enumerate(fields) if field is Employee.manager)
        rows = [(*row[:manager], None, *row[manager + 1 :]) for row in rows]
    table = _quoted(model._meta.table_name)
    values = [
        tuple(None if v is None else f.db_value(v) for f, v in zip(fields, row, strict=True))
        for row in rows
    ]
    cursor = target.cursor()
    if isinstance(target, PostgresqlDatabase):  # many rows a statement, not a round trip each
        from psycopg2.extras import execute_values

        execute_values(cursor, f"INSERT INTO {table} ({names}) VALUES %s", values)
    else:
        marks = ", ".join([target.param] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)


def _link_managers(source: Database, target: Database) -> None:
    pairs = source.execute_sql(
        'SELECT "manager_id", "id" FROM "employee" WHERE "manager_id" IS NOT NULL'
    ).fetchall()
    sql = f'UPDATE "employee" SET "manager_id" = {target.param} WHERE "id" = {target.param}'
    target.cursor().executemany(sql, pairs)


def _continue_ids(target: Database, model: type[Model]) -> None:
    """After rows came with their ids, PostgreSQL's sequence must go on after them."""
    key = model._meta.primary_key
    if getattr(key, "field_type", None) != "AUTO":
        return
    table, column = model._meta.table_name, key.column_name
    target.execute_sql(
        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
        f'COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1, false)'
    )

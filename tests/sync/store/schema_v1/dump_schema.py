"""How schema_v1/*.sql were made: the DDL commit f327c5b's models create, as peewee
issued it on each engine. Kept so the fixture can be checked or made again:

    python tests/sync/store/schema_v1/dump_schema.py sqlite > tests/sync/store/schema_v1/sqlite.sql
    python tests/sync/store/schema_v1/dump_schema.py postgresql > .../postgresql.sql

It checks f327c5b out into a temporary git worktree and imports that version's models
(PostgreSQL: the `test` database on 127.0.0.1, left empty afterwards).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile

FIRST_RELEASE = "f327c5b"


def main(engine: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        checkout = f"{scratch}/v1"
        subprocess.run(["git", "worktree", "add", "-q", checkout, FIRST_RELEASE], check=True)
        try:
            print(dump(checkout, engine))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", checkout], check=True)


def dump(checkout: str, engine: str) -> str:
    sys.path.insert(0, checkout)
    from peewee import PostgresqlDatabase, SqliteDatabase
    from sync.models import ALL_MODELS, database  # f327c5b's layout

    if engine == "sqlite":
        db = SqliteDatabase(":memory:")
    else:
        db = PostgresqlDatabase("test", host="127.0.0.1", user="postgres")
    database.initialize(db)
    db.connect()
    db.drop_tables(ALL_MODELS)
    issued: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record):
            issued.append(record.msg[0])

    peewee_log = logging.getLogger("peewee")
    peewee_log.setLevel(logging.DEBUG)
    handler = Capture()
    peewee_log.addHandler(handler)
    db.create_tables(ALL_MODELS)
    peewee_log.removeHandler(handler)
    db.drop_tables(ALL_MODELS)
    name = "SQLite" if engine == "sqlite" else "PostgreSQL"
    first = "-- The schema codexbot created at version 1 (commit f327c5b), as peewee issued it"
    lines = [f"{first} on {name}."]
    lines += [statement.rstrip(";") + ";" for statement in issued]
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1])

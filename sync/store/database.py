"""Opening the database named by a URL and bringing its schema up to date."""

from __future__ import annotations

import datetime as dt
import sqlite3

from peewee import Database
from playhouse.db_url import connect

from sync.clock import utc_timestamp
from sync.store.migrations import MIGRATIONS, SCHEMA_VERSION
from sync.store.models import ALL_MODELS, SchemaVersion, database


def open_database(url: str) -> Database:
    """Connect to `url`, bind the models to it and create or migrate the tables."""
    db = connect(url)
    if db.__class__.__name__.startswith("Sqlite"):
        # Days are stored as ISO text, as sqlite3's default adapter did before it was
        # deprecated (Python 3.12): said once here rather than at every insert.
        sqlite3.register_adapter(dt.date, dt.date.isoformat)
        # WAL lets the bot's readers run while a sync writes; foreign keys are off by default.
        db.init(
            db.database,
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000},
        )
    database.initialize(db)
    db.connect(reuse_if_open=True)
    migrate(db)
    return db


def migrate(db: Database) -> int:
    with db.atomic():
        if not SchemaVersion.table_exists():
            db.create_tables(ALL_MODELS)
            SchemaVersion.create(version=SCHEMA_VERSION, applied_at=utc_timestamp())
            return SCHEMA_VERSION
        current = (
            SchemaVersion.select(SchemaVersion.version)
            .order_by(SchemaVersion.version.desc())
            .scalar()
            or 0
        )
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"the database is at schema version {current}, newer than this codexbot "
                f"({SCHEMA_VERSION}); upgrade codexbot"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version](db)
            SchemaVersion.create(version=version, applied_at=utc_timestamp())
    return SCHEMA_VERSION

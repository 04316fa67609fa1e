"""Opening the database named by a URL, and bringing its schema up to date.

Upgrades run under a database-wide lock (a PostgreSQL advisory lock, an exclusive SQLite
transaction), so replicas starting together wait for one another and exactly one applies
each migration. With `database.auto_upgrade = false`, a database behind this code is not
touched: codexbot refuses to serve until `codexbot db upgrade` has run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from peewee import Database, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import parse as parse_url
from playhouse.pool import PooledPostgresqlDatabase

from sync.clock import utc_timestamp
from sync.config import DatabaseSettings
from sync.notices import Problem
from sync.store.migrations import MIGRATIONS, SCHEMA_VERSION
from sync.store.models import ALL_MODELS, SchemaVersion, database

# Any constant both processes agree on: the key of the advisory lock schema changes take.
SCHEMA_LOCK_KEY = 0x636F646578626F74  # "codexbot"
DEFAULT_POOL_SIZE = DatabaseSettings().pool_size
_pools: dict[str, PooledPostgresqlDatabase] = {}
_pools_lock = threading.Lock()


class SchemaMismatchError(Problem):
    """The database's schema is not the one this code needs: `kind` says which way."""

    def __init__(self, kind: str, current: int, needed: int) -> None:
        self.kind = kind  # schema_behind or schema_ahead
        super().__init__(current=current, needed=needed)


@dataclass(frozen=True)
class SchemaState:
    current: int  # 0 for a database with no codexbot tables yet
    needed: int
    pending: list[tuple[int, str]]  # (version, what it changes) still to apply


def open_database(
    url: str, *, upgrade: bool = True, pool_size: int = DEFAULT_POOL_SIZE
) -> Database:
    """Connect to `url` and bind the models to it. With `upgrade`, create or migrate the
    tables first; without, refuse (SchemaMismatchError) a schema that is not this code's."""
    db = connect_database(url, pool_size)
    if upgrade:
        migrate(db)
    else:
        state = schema_state(db)
        if state.current != state.needed:
            kind = "schema_ahead" if state.current > state.needed else "schema_behind"
            raise SchemaMismatchError(kind, state.current, state.needed)
    return db


def connect_database(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> Database:
    """Connect and bind the models, without looking at the schema (see connect_unbound)."""
    db = connect_unbound(url, pool_size)
    database.initialize(db)
    db.connect(reuse_if_open=True)
    return db


def connect_unbound(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> Database:
    """A database the models are not bound to (the target of a copy), connected.

    PostgreSQL: a bounded pool of connections, one per thread while in use, shared by
    every open_database of the same URL in this process (a new connection costs a few
    milliseconds, and each listener and job takes one). SQLite: one file, written by
    several processes at once; every write transaction begins IMMEDIATE, so a writer
    waits for another (up to busy_timeout) rather than failing with "database is locked"
    when its read transaction would have had to become a write.
    """
    if url.startswith("sqlite:///"):
        path = parse_url(url)["database"]
        _create_private(path)
        # Days are stored as ISO text, as sqlite3's default adapter did before it was
        # deprecated (Python 3.12): said once here rather than at every insert.
        sqlite3.register_adapter(dt.date, dt.date.isoformat)
        # WAL lets readers run while a sync writes; foreign keys are off by default. In
        # WAL, synchronous=NORMAL syncs at checkpoints rather than at every commit (FULL
        # would fsync at each of a sync's commits). Durability stays at a page's
        # granularity: a commit is in the WAL file, so it survives the process
        # crashing; a power cut or OS crash may lose the last commits but never corrupts
        # the file, and it loses them in order, so a day the coverage ledger marks
        # (committed after its rows) never lacks its rows; the next sync re-reads any
        # window left unfinished. synchronous=OFF could corrupt the file on a power cut.
        db: Database = _SerializedSqliteDatabase(
            path,
            pragmas={
                # 64 KiB pages, SQLite's largest (its default is 4 KiB): a sync's upserts
                # land all over the usage key's index, and with larger pages SQLite has far
                # fewer of them to change and write. Plain sqlite3 stored 3.6M rows in
                # 20.9 s against 32.6 s, the full-density backfill took 57.9 s against
                # 76.5 s, and answers read as fast (issue 15). Only a new database takes it
                # (it must come before the first table and WAL); an existing one keeps its
                # pages, until `codexbot db copy` into a new file.
                "page_size": 65536,
                "journal_mode": "wal",
                "synchronous": "normal",
                "foreign_keys": 1,
                "busy_timeout": 10000,
            },
            lock_type="IMMEDIATE",
        )
    else:
        with _pools_lock:
            if url not in _pools:
                # Waits up to `timeout` seconds for a connection when all are in use.
                _pools[url] = PooledPostgresqlDatabase(
                    **parse_url(url), max_connections=pool_size, stale_timeout=300, timeout=10
                )
            db = _pools[url]
    db.connect(reuse_if_open=True)
    return db


# SQLite's page cache for a sync's connection while it writes (the default is 2 MB).
BULK_WRITE_CACHE_KIB = 64 * 1024


@contextlib.contextmanager
def work_connection() -> Iterator[None]:
    """A database connection for one piece of a thread's work.

    PostgreSQL: taken from the pool, given back after. SQLite: the thread's own, left open
    for its next piece of work (opening one applies its pragmas and reads the schema
    again: under a burst of Slack requests, answered on SQLite, a py-spy profile put a
    third of the bot's samples in opening and closing them); closed after any error, so
    a broken connection is never reused."""
    if not isinstance(database.obj, SqliteDatabase):
        with database.connection_context():
            yield
        return
    database.connect(reuse_if_open=True)
    try:
        yield
    except BaseException:
        database.close()
        raise


@contextlib.contextmanager
def bulk_writing(db: Database | None = None) -> Iterator[None]:
    """This thread's connection set up for a sync's writes, then as it was.

    SQLite: a page cache of BULK_WRITE_CACHE_KIB. A transaction of a sync's pages changes
    a leaf of the usage key's index for each person in them, tens of MB at 10k people:
    with the default 2 MB, SQLite wrote changed pages out to the WAL before the commit
    (and again when changed again), and read back leaves it had just dropped. Only this
    connection and only while it writes: every thread of the bot has a connection of its
    own, and the cache is memory it keeps. PostgreSQL: nothing to change.
    """
    db = db or database
    if not isinstance(getattr(db, "obj", db), SqliteDatabase):
        yield
        return
    (previous,) = db.execute_sql("PRAGMA cache_size").fetchone()
    db.execute_sql(f"PRAGMA cache_size = -{BULK_WRITE_CACHE_KIB}")
    try:
        yield
    finally:
        db.execute_sql(f"PRAGMA cache_size = {int(previous)}")


class _SerializedSqliteDatabase(SqliteDatabase):
    """SQLite has one writer at a time. Threads of this process take turns at a lock
    before BEGIN IMMEDIATE, so the next writer starts the moment the last one commits;
    SQLite's own busy handler (which sleeps up to 100 ms between tries) is left to
    waiting for other processes. Measured under a burst of DMs (bench/slack_load.py),
    workers spent two thirds of their time in those sleeps."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._writer = threading.Lock()
        self._writing = threading.local()

    def begin(self, lock_type: str | None = None) -> None:
        self._writer.acquire()
        self._writing.held = True
        try:
            super().begin(lock_type)
        except BaseException:
            self._release_writer()
            raise

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release_writer()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release_writer()

    def _close(self, conn) -> None:
        # A connection closed inside a transaction (its thread failed) gives the turn back.
        try:
            super()._close(conn)
        finally:
            self._release_writer()

    def _release_writer(self) -> None:
        if getattr(self._writing, "held", False):
            self._writing.held = False
            self._writer.release()


def schema_state(db: Database) -> SchemaState:
    current = _current_version(db)
    pending = [
        (version, _first_sentence(MIGRATIONS[version].__doc__ or ""))
        for version in range(max(current, 1) + 1, SCHEMA_VERSION + 1)
        if current
    ]
    return SchemaState(current, SCHEMA_VERSION, pending)


def _first_sentence(docstring: str) -> str:
    """What a migration changes, for `codexbot db status`: its docstring's first sentence,
    without the "Version N:" the listing already shows."""
    text = " ".join(docstring.split())
    text = re.sub(r"^Version \d+:\s*", "", text)
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def migrate(db: Database) -> int:
    """Create the tables (a new database) or apply the pending migrations, under the
    schema lock; returns the version the database is at."""
    with _schema_lock(db):
        current = _current_version(db)
        if current == 0:
            db.create_tables(ALL_MODELS)
            SchemaVersion.create(version=SCHEMA_VERSION, applied_at=utc_timestamp())
            return SCHEMA_VERSION
        if current > SCHEMA_VERSION:
            raise SchemaMismatchError("schema_ahead", current, SCHEMA_VERSION)
        for version in range(current + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version](db)
            SchemaVersion.create(version=version, applied_at=utc_timestamp())
    return SCHEMA_VERSION


def _current_version(db: Database) -> int:
    """The version `db` is at, read from `db` itself (it may not be the models' database)."""
    table = SchemaVersion._meta.table_name
    if not db.table_exists(table):
        return 0
    row = db.execute_sql(f'SELECT MAX("version") FROM "{table}"').fetchone()
    return row[0] or 0


@contextlib.contextmanager
def _schema_lock(db: Database) -> Iterator[None]:
    """One transaction that no other process can run beside: the others wait for it."""
    if isinstance(db, PostgresqlDatabase):
        with db.atomic():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            yield
    else:
        with db.atomic("EXCLUSIVE"):
            yield


def _create_private(path: str) -> None:
    """The database holds names, emails, the reporting chain and who viewed whom: a new
    file is created readable by its owner only (SQLite gives its -wal and -shm files the
    database file's permissions)."""
    if path and path != ":memory:" and not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))

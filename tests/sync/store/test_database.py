"""Opening the database: replicas starting together on a new database, a private file."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading

import pytest
from databases import POSTGRES_URL, drop_every_table, postgres_param
from peewee import SqliteDatabase

from sync.store.database import connect_unbound, open_database, work_connection
from sync.store.migrations import SCHEMA_VERSION
from sync.store.models import SchemaVersion, SyncRun, database

OPEN = "import sys; from sync.store.database import open_database; open_database(sys.argv[1])"


@pytest.fixture(params=["sqlite", postgres_param()])
def new_url(request, tmp_path):
    """A database with nothing in it yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.db'}"
        return
    drop_every_table(POSTGRES_URL)
    yield POSTGRES_URL
    drop_every_table(POSTGRES_URL)


def test_replicas_starting_together_on_a_new_database_all_start_and_create_it_once(new_url):
    replicas = [
        subprocess.Popen([sys.executable, "-c", OPEN, new_url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [replica.communicate(timeout=60)[1] for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0, 0], errors
    db = open_database(new_url)
    assert [v for (v,) in SchemaVersion.select(SchemaVersion.version).tuples()] == [SCHEMA_VERSION]
    db.close()


def test_a_new_sqlite_file_and_its_wal_and_shm_are_readable_by_their_owner_only(tmp_path):
    path = tmp_path / "codexbot.db"
    db = open_database(f"sqlite:///{path}")
    SchemaVersion.select().count()  # the WAL and shared-memory files exist once read
    for name in ("codexbot.db", "codexbot.db-wal", "codexbot.db-shm"):
        mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
        assert mode == 0o600, f"{name}: {oct(mode)}"
    db.close()


def test_a_new_sqlite_file_has_64_kib_pages_and_an_older_one_keeps_its_own(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'new.db'}")
    assert db.execute_sql("PRAGMA page_size").fetchone() == (65536,)
    db.close()
    # A database made before, with SQLite's default 4 KiB pages, opens and works as it is.
    older = tmp_path / "older.db"
    made = sqlite3.connect(older)
    made.execute("PRAGMA journal_mode = wal")
    made.execute("CREATE TABLE kept (n INTEGER)")
    made.close()
    db = open_database(f"sqlite:///{older}")
    assert db.execute_sql("PRAGMA page_size").fetchone() == (4096,)
    assert SchemaVersion.select(SchemaVersion.version).scalar() == SCHEMA_VERSION
    db.close()


def test_work_keeps_its_threads_sqlite_connection_gives_postgresql_back_and_drops_a_broken_one(
    db,
):
    sqlite = isinstance(database.obj, SqliteDatabase)
    database.close()
    with work_connection():
        first = database.connection()
        SyncRun.select().count()
    # SQLite: left open for the thread's next work; PostgreSQL: back in the pool.
    assert database.is_closed() is not sqlite
    with work_connection():
        assert (database.connection() is first) or not sqlite
    with pytest.raises(RuntimeError), work_connection():
        raise RuntimeError("the work failed")
    assert database.is_closed()  # never reused after an error
    with work_connection():
        assert SyncRun.select().count() == 0
        assert database.connection() is not first or not sqlite


WRITER = """
import sys
from sync.store.claims import claim_once, held_claim
from sync.store.database import open_database
from sync.store.models import SyncRun, database
import datetime as dt

open_database(sys.argv[1])
for n in range(150):
    with held_claim("sync", sys.argv[2], 60) as held:
        claim_once(f"slack-event:{sys.argv[2]}-{n}", 60)
        with database.atomic():  # reads, then writes: the transaction must become a write
            SyncRun.select().count()
            run = SyncRun.create(
                started_at=dt.datetime(2026, 11, 25), window_start=dt.date(2026, 11, 20),
                window_end=dt.date(2026, 11, 25),
            )
            SyncRun.update(rows=n).where(SyncRun.id == run.id).execute()
"""


def test_two_replicas_writing_one_sqlite_file_wait_for_each_other_instead_of_failing(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    open_database(url).close()
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, name], stderr=subprocess.PIPE, text=True
        )
        for name in ("replica-a", "replica-b")
    ]
    errors = [replica.communicate(timeout=120)[1] for replica in replicas]
    assert "database is locked" not in "".join(errors)
    assert [replica.returncode for replica in replicas] == [0, 0], errors
    db = open_database(url)
    assert SyncRun.select().count() == 300
    db.close()


def test_threads_of_one_process_take_turns_at_sqlite_writes_without_its_busy_handler(tmp_path):
    # With SQLite's busy handler off (busy_timeout 0), a second writer fails at once with
    # "database is locked" unless the process makes it wait its turn.
    db = connect_unbound(f"sqlite:///{tmp_path / 'turns.db'}")
    assert db.execute_sql("PRAGMA synchronous").fetchone() == (1,)  # NORMAL: no fsync a commit
    db.execute_sql('CREATE TABLE "t" ("n" INTEGER)')
    db.close()
    holding, outcome = threading.Event(), {}

    def second_writer():
        db.connect(reuse_if_open=True)
        db.execute_sql("PRAGMA busy_timeout = 0")
        holding.wait(5)
        try:
            with db.atomic():
                db.execute_sql('INSERT INTO "t" VALUES (2)')
            outcome["second"] = "written"
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcome["second"] = repr(exc)
        finally:
            db.close()

    thread = threading.Thread(target=second_writer)
    thread.start()
    db.connect(reuse_if_open=True)
    with db.atomic():
        db.execute_sql('INSERT INTO "t" VALUES (1)')
        holding.set()
        # Commit only once the second writer waits for its turn (or has already failed).
        waiting = threading.Event()
        for _ in range(1000):
            frame = sys._current_frames().get(thread.ident)
            names = set()
            while frame is not None:
                names.add(frame.f_code.co_name)
                frame = frame.f_back
            if "begin" in names or not thread.is_alive():
                break
            waiting.wait(0.005)
    thread.join(5)
    assert outcome == {"second": "written"}
    assert [n for (n,) in db.execute_sql('SELECT "n" FROM "t" ORDER BY "n"')] == [1, 2]
    db.close()

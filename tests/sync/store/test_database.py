"""Opening the database: replicas starting together on a new database, a private file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from databases import POSTGRES_URL, drop_every_table, postgres_param

from sync.store.database import open_database
from sync.store.migrations import SCHEMA_VERSION
from sync.store.models import SchemaVersion

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

"""Shared fixtures. Store tests take `db`, which runs them on SQLite and, where
TEST_DATABASE_URL names a reachable PostgreSQL, on PostgreSQL as well."""

from __future__ import annotations

import pytest
from databases import POSTGRES_URL, drop_every_table, postgres_param

from sync.store.database import open_database
from sync.store.models import ALL_MODELS


@pytest.fixture(params=["sqlite", postgres_param()])
def db(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'codexbot.db'}"
    else:
        url = POSTGRES_URL
        drop_every_table(url)
    opened = open_database(url)
    yield opened
    if request.param == "postgresql":
        opened.drop_tables(ALL_MODELS)
    opened.close()


@pytest.fixture
def sqlite_db(tmp_path):
    """For tests that exercise logic, not the engine: SQLite only."""
    opened = open_database(f"sqlite:///{tmp_path / 'codexbot.db'}")
    yield opened
    opened.close()

"""The engines store tests run on: SQLite always, PostgreSQL where TEST_DATABASE_URL names
one (CI sets it); without it those cases are skipped, saying so."""

from __future__ import annotations

import os

import pytest
from playhouse.db_url import connect

from sync.store.models import database

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")


def postgres_param():
    if not POSTGRES_URL:
        reason = "PostgreSQL store tests need TEST_DATABASE_URL (CI sets it)"
        return pytest.param("postgresql", marks=pytest.mark.skip(reason=reason))
    return pytest.param("postgresql", marks=pytest.mark.postgresql)


def drop_every_table(url: str) -> None:
    """Leave the PostgreSQL test database empty, whatever schema a test left in it."""
    raw = connect(url)
    try:
        raw.connect()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not reachable"
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is not reachable: {exc}")
    for table in raw.get_tables():
        raw.execute_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    raw.close()
    database.initialize(None)

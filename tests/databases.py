"""The engines store tests run on: SQLite always, PostgreSQL where TEST_DATABASE_URL names
one (CI sets it); without it those cases are skipped, saying so."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from playhouse.db_url import connect

from sync.store.models import database


def _own_database(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets a database of its own beside the one named
    (test -> test_gw0, test_gw1), made on first use: the store tests drop every table."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_{worker}"
    try:
        admin = psycopg2.connect(url)
    except psycopg2.Error:
        return url  # not reachable: the tests that need it say so and skip
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


POSTGRES_URL = _own_database(os.environ.get("TEST_DATABASE_URL"))


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

"""Shared fixtures. Store tests take `db`, which runs them on SQLite and, where
TEST_DATABASE_URL names a reachable PostgreSQL, on PostgreSQL as well."""

from __future__ import annotations

import os

import pytest

from sync.store.database import open_database
from sync.store.models import ALL_MODELS, database

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")


def _postgres_param():
    if not POSTGRES_URL:
        reason = "PostgreSQL store tests need TEST_DATABASE_URL (CI sets it)"
        return pytest.param("postgresql", marks=pytest.mark.skip(reason=reason))
    return pytest.param("postgresql", marks=pytest.mark.postgresql)


@pytest.fixture(params=["sqlite", _postgres_param()])
def db(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'codexbot.db'}"
    else:
        url = POSTGRES_URL
        _drop_all(url)
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


def _drop_all(url: str) -> None:
    try:
        opened = open_database(url)
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not reachable"
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is not reachable: {exc}")
    opened.drop_tables(ALL_MODELS)
    opened.close()
    database.initialize(None)

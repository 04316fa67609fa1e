"""Upgrading: a database made by the previous release opens with today's code, migrates
in place and keeps every row, on both engines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from databases import POSTGRES_URL, drop_every_table, postgres_param
from playhouse.db_url import connect

from sync.codex.connection import load_api_key
from sync.store.claims import try_claim
from sync.store.database import open_database
from sync.store.migrations import SCHEMA_VERSION
from sync.store.models import ALL_MODELS, Claim, Connection, DigestDelivery, Employee, SchemaVersion

SCHEMAS = Path(__file__).parent / "schema_v1"
SECRET = Fernet.generate_key().decode()


@pytest.fixture(params=["sqlite", postgres_param()])
def blank_url(request, tmp_path):
    """An empty database: nothing in it, not even today's schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    drop_every_table(POSTGRES_URL)
    yield POSTGRES_URL
    drop_every_table(POSTGRES_URL)


def create_version_1(url: str) -> None:
    """The tables commit f327c5b created, with a little of everything in them."""
    engine = "sqlite" if url.startswith("sqlite") else "postgresql"
    raw = connect(url)
    with raw.atomic():
        lines = (SCHEMAS / f"{engine}.sql").read_text().splitlines()
        for statement in "\n".join(x for x in lines if not x.startswith("--")).split(";\n"):
            if statement.strip():
                raw.execute_sql(statement)
        rows = {
            "schema_version": [("version", 1), ("applied_at", dt.datetime(2026, 11, 1))],
            "employee": [
                ("email", "ada@example.com"),
                ("name", "Ada"),
                ("role", "admin"),
                ("digest_opt_out", False),
                ("self_digest", True),
            ],
            "connection": [
                ("id", 1),
                ("workspace_id", "0f8fad5b-d9cb-469f-a165-70867728950e"),
                ("api_key_encrypted", Fernet(SECRET).encrypt(b"sk-old-release-key").decode()),
                ("key_last4", "-key"),
                ("connected_at", dt.datetime(2026, 11, 1)),
                ("active", True),
            ],
            "lease": [
                ("name", "sync"),
                ("holder", "other-host:1:abcd"),
                ("expires_at", dt.datetime(2030, 1, 1)),
            ],
            "handled_event": [("event_id", "Ev1"), ("handled_at", dt.datetime(2026, 11, 1))],
            "digest_delivery": [
                ("kind", "manager"),
                ("employee_id", 1),
                ("period_end", dt.date(2026, 11, 1)),
                ("status", "sent"),
                ("attempts", 0),
                ("claimed_at", dt.datetime(2026, 11, 2, 9)),
            ],
        }
        for table, values in rows.items():
            columns = ", ".join(f'"{name}"' for name, _ in values)
            marks = ", ".join([raw.param] * len(values))
            raw.execute_sql(
                f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', [v for _, v in values]
            )
    raw.close()


def test_a_version_1_database_is_migrated_in_place_and_keeps_its_data(blank_url):
    create_version_1(blank_url)
    db = open_database(blank_url)
    try:
        versions = [v for (v,) in SchemaVersion.select(SchemaVersion.version).tuples()]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        # Every table and column is what today's models expect, and nothing else is left.
        assert sorted(db.get_tables()) == sorted(m._meta.table_name for m in ALL_MODELS)
        for model in ALL_MODELS:
            columns = {column.name for column in db.get_columns(model._meta.table_name)}
            assert columns == {f.column_name for f in model._meta.sorted_fields}, model
        # The data came along: the people, the key (still decrypting), the held lease,
        # the record of a sent digest.
        assert Employee.get().email == "ada@example.com" and Employee.get().self_digest
        assert load_api_key(SECRET) == (Connection.get().workspace_id, "sk-old-release-key")
        assert Claim.get().name == "sync" and not try_claim("sync", "new-replica", 60)
        assert DigestDelivery.get().status == DigestDelivery.STATUS_SENT
    finally:
        db.close()
    # Opening it again changes nothing.
    db = open_database(blank_url)
    assert SchemaVersion.select().count() == SCHEMA_VERSION
    db.close()


def test_a_database_newer_than_this_code_is_refused(blank_url):
    db = open_database(blank_url)
    SchemaVersion.create(version=SCHEMA_VERSION + 1, applied_at=dt.datetime(2030, 1, 1))
    db.close()
    with pytest.raises(RuntimeError, match="newer than this codexbot"):
        open_database(blank_url)

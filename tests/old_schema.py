"""A database as the first release (commit f327c5b) left it, for upgrade tests: its DDL
(tests/sync/store/schema_v1/, made by dump_schema.py there) and a little of everything in
it, written with plain SQL as that release wrote it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.fernet import Fernet
from playhouse.db_url import connect

SCHEMAS = Path(__file__).parent / "sync" / "store" / "schema_v1"
SECRET = Fernet.generate_key().decode()


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

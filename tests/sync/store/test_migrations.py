"""Upgrading: a database made by the previous release opens with today's code, migrates
in place and keeps every row, on both engines."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from databases import POSTGRES_URL, drop_every_table, postgres_param
from freezegun import freeze_time
from old_schema import SECRET, create_version_1
from peewee import PostgresqlDatabase
from playhouse.db_url import connect
from wording import raises_saying

from sync.codex.connection import load_api_key
from sync.store.claims import try_claim
from sync.store.database import SchemaMismatchError, open_database, schema_state
from sync.store.migrations import SCHEMA_VERSION
from sync.store.models import ALL_MODELS, Claim, Connection, DigestDelivery, Employee, SchemaVersion


@pytest.fixture(params=["sqlite", postgres_param()])
def blank_url(request, tmp_path):
    """An empty database: nothing in it, not even today's schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    drop_every_table(POSTGRES_URL)
    yield POSTGRES_URL
    drop_every_table(POSTGRES_URL)


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
    with raises_saying(SchemaMismatchError, "newer than this codexbot"):
        open_database(blank_url)


def structure(db) -> dict:
    """Every table's columns (name, type, null), indexes (columns, unique), foreign keys
    and CHECK constraints, as comparable values; names the engine chose are left out."""
    tables = {}
    for table in sorted(db.get_tables()):
        columns = sorted(
            (c.name, c.data_type.lower(), bool(c.null), bool(c.primary_key))
            for c in db.get_columns(table)
        )
        indexes = sorted((tuple(i.columns), bool(i.unique)) for i in db.get_indexes(table))
        keys = sorted((k.column, k.dest_table, k.dest_column) for k in db.get_foreign_keys(table))
        tables[table] = {"columns": columns, "indexes": indexes, "foreign keys": keys}
        tables[table]["checks"] = checks(db, table)
    return tables


def checks(db, table: str) -> list[str]:
    if isinstance(db, PostgresqlDatabase):
        query = (
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'c'"
        )
        return sorted(row[0] for row in db.execute_sql(query, (f'"{table}"',)).fetchall())
    (sql,) = db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return sorted(re.findall(r"CHECK \(([^)]*)\)", sql))


def test_the_migrated_schema_is_the_one_a_new_database_gets(blank_url):
    """Fails for any model change that ships without its migration."""
    create_version_1(blank_url)
    db = open_database(blank_url)
    migrated = structure(db)
    db.drop_tables(ALL_MODELS)
    assert db.get_tables() == []
    db.close()
    db = open_database(blank_url)  # created new, at the head version
    fresh = structure(db)
    db.close()
    assert migrated.keys() == fresh.keys()
    for table in fresh:
        assert migrated[table] == fresh[table], table


def add_version_1_usage(url: str, today: dt.date) -> None:
    """Known usage in version 1's shape: Bo reports to Ada and used the CLI every day of
    the ten before `today` (1.5 credits a day) and the IDE once (3 credits); one sync ran."""
    raw = connect(url)
    with raw.atomic():

        def insert(table, **values):
            columns = ", ".join(f'"{name}"' for name in values)
            marks = ", ".join([raw.param] * len(values))
            raw.execute_sql(
                f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', list(values.values())
            )

        insert(
            "employee",
            email="bo@example.com",
            name="Bo",
            manager_id=1,
            role="employee",
            digest_opt_out=False,
            self_digest=False,
        )
        insert("codex_user", user_id="u-bo", email="bo@example.com")
        usage = dict(threads=1, turns=2, input_tokens=100, output_tokens=50, total_tokens=150)
        for n in range(1, 11):
            insert(
                "daily_usage",
                codex_user_id="u-bo",
                day=today - dt.timedelta(days=n),
                client_id="CODEX_CLI",
                credits=1.5,
                sync_run=1,
                **usage,
            )
        insert(
            "daily_usage",
            codex_user_id="u-bo",
            day=today - dt.timedelta(days=2),
            client_id="CODEX_IDE_VSCODE",
            credits=3.0,
            sync_run=1,
            **usage,
        )
        started = dt.datetime.combine(today, dt.time(6))
        insert(
            "sync_run",
            started_at=started,
            finished_at=started + dt.timedelta(minutes=2),
            window_start=today - dt.timedelta(days=10),
            window_end=today,
            pages=1,
            rows=11,
            outcome="ok",
        )
    raw.close()


def test_answers_from_an_upgraded_database_are_the_known_figures(blank_url):
    from sync.reports.periods import Period
    from sync.reports.queries import stats_answer

    today = dt.date(2026, 11, 25)
    create_version_1(blank_url)
    add_version_1_usage(blank_url, today)
    db = open_database(blank_url)
    try:
        bo = Employee.get(Employee.email == "bo@example.com")
        with freeze_time("2026-11-25 12:00:00"):
            answer = stats_answer(bo, Period.ending_before(today, 7))
    finally:
        db.close()
    assert answer.current.totals.credits == 7 * 1.5 + 3.0
    assert {s: stats.credits for s, stats in answer.current.by_surface.items()} == {
        "IDE": 3.0,
        "CLI": 10.5,
    }
    assert answer.previous.totals.credits == 3 * 1.5
    assert answer.data_as_of == dt.datetime(2026, 11, 25, 6, 2)
    # The ledger came from the sync that ran: its days are covered, the days before it
    # are said to be missing, not shown as zeros.
    assert answer.current.missing == []
    assert answer.previous.missing == [(dt.date(2026, 11, 11), dt.date(2026, 11, 14))]


def migrate_raw_to(url: str, version: int) -> None:
    """Run the steps after version 1 up to `version` as that release's code did, on a
    connection of its own: the database is then exactly at `version`."""
    from sync.store.migrations import MIGRATIONS

    raw = connect(url)
    with raw.atomic():
        for step in range(2, version + 1):
            MIGRATIONS[step](raw)
            raw.execute_sql(
                f'INSERT INTO "schema_version" ("version", "applied_at") VALUES ({raw.param}, '
                f"{raw.param})",
                (step, dt.datetime(2026, 11, 20)),
            )
    raw.close()


def insert_ada_usage(raw, today: dt.date, *, cached_input_tokens: int | None) -> None:
    """Ada's Codex account and one CLI row on each of the 3 days before `today`, written
    with plain SQL as an older schema holds them: without the cached-tokens column when
    `cached_input_tokens` is None (before version 6), else with that count."""
    from factories import WORKSPACE

    raw.execute_sql(
        f'INSERT INTO "codex_user" ("user_id", "email") VALUES ({raw.param}, {raw.param})',
        ("u-ada", "ada@example.com"),
    )
    columns = ["workspace_id", "codex_user_id", "day", "client_id", "threads", "turns"]
    columns += ["credits", "input_tokens", "output_tokens", "total_tokens", "sync_run"]
    counts: tuple = (1, 3, 2.5, 1000, 100, 1100, 1)
    if cached_input_tokens is not None:
        columns.append("cached_input_tokens")
        counts += (cached_input_tokens,)
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join([raw.param] * len(columns))
    for n in range(1, 4):
        raw.execute_sql(
            f'INSERT INTO "daily_usage" ({names}) VALUES ({marks})',
            (WORKSPACE, "u-ada", today - dt.timedelta(days=n), "CODEX_CLI", *counts),
        )


def test_a_version_5_database_gains_cached_tokens_unknown_and_keeps_its_usage(blank_url):
    from factories import WORKSPACE, usage, usage_dump

    from sync.ingest.writer import upsert_usage
    from sync.reports.periods import Period
    from sync.reports.queries import stats_answer

    today = dt.date(2026, 11, 25)
    create_version_1(blank_url)
    migrate_raw_to(blank_url, 5)
    raw = connect(blank_url)
    assert "cached_input_tokens" not in {c.name for c in raw.get_columns("daily_usage")}
    insert_ada_usage(raw, today, cached_input_tokens=None)
    raw.close()

    db = open_database(blank_url)
    try:
        assert schema_state(db).current == SCHEMA_VERSION
        days = [today - dt.timedelta(days=n) for n in (3, 2, 1)]
        # Every row intact, the new count unknown (NULL), never 0.
        assert usage_dump() == [
            ("u-ada", day, "CODEX_CLI", 1, 3, 2.5, 1000, 100, 1100, None) for day in days
        ]
        ada = Employee.get(Employee.email == "ada@example.com")
        with freeze_time("2026-11-25 12:00:00"):
            before = stats_answer(ada, Period.ending_before(today, 7)).current.totals
        assert (before.input_tokens, before.cached_input_tokens, before.cache_share) == (
            3000,
            None,
            None,
        )
        # The trailing window's re-read fills in the recent days; one older day stays
        # unknown, so the period's cache share does too (a part would be a wrong share).
        upsert_usage(
            [
                usage(
                    "u-ada",
                    d,
                    threads=1,
                    turns=3,
                    credits=2.5,
                    input_tokens=1000,
                    output_tokens=100,
                    cached_input_tokens=600,
                )
                for d in days[1:]
            ],
            2,
            WORKSPACE,
        )
        with freeze_time("2026-11-25 12:00:00"):
            mixed = stats_answer(ada, Period.ending_before(today, 7)).current.totals
            recent = stats_answer(ada, Period.ending_before(today, 2)).current.totals
        assert (mixed.cached_input_tokens, mixed.cache_share) == (None, None)
        assert (recent.input_tokens, recent.cached_input_tokens) == (2000, 1200)
        assert recent.cache_share == 0.6
    finally:
        db.close()


def test_a_version_6_database_gains_empty_adoption_rollups_built_from_its_usage(blank_url):
    from factories import store_usage, usage

    from sync.config import AdoptionSettings
    from sync.org.access import Viewer
    from sync.reports.adoption import AdoptionAnswer, ask_adoption
    from sync.reports.periods import Period
    from sync.store.models import AdoptionRollup, AdoptionRollupLine
    from sync.store.rollups import usage_revision

    today = dt.date(2026, 11, 25)
    create_version_1(blank_url)
    migrate_raw_to(blank_url, 6)
    raw = connect(blank_url)
    assert "adoption_rollup" not in raw.get_tables()
    insert_ada_usage(raw, today, cached_input_tokens=600)
    raw.close()

    db = open_database(blank_url)
    try:
        assert schema_state(db).current == SCHEMA_VERSION
        assert (AdoptionRollup.select().count(), usage_revision()) == (0, 0)
        ada = Employee.get(Employee.email == "ada@example.com")
        with freeze_time("2026-11-25 12:00:00"):
            store_usage([])  # the workspace connected and synced, as after a sync
            period = Period.ending_before(today, 7)
            answer = ask_adoption(
                Viewer(ada, ada.email), period, AdoptionSettings(), whole_organisation=True
            )
            assert isinstance(answer, AdoptionAnswer)
            assert (answer.current.active, answer.current.active_person_days) == (1, 3)
            assert answer.current.credits == 7.5
            assert AdoptionRollupLine.select().count() == 1  # built from the old rows
            # The first write after the upgrade moves the revision on from 0.
            store_usage([usage("u-ada", today - dt.timedelta(days=1), credits=4.0)])
            assert usage_revision() == 1
            again = ask_adoption(
                Viewer(ada, ada.email), period, AdoptionSettings(), whole_organisation=True
            )
        assert isinstance(again, AdoptionAnswer)
        assert again.current.credits == 9.0
    finally:
        db.close()

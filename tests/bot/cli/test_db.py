"""`codexbot db status|upgrade`, and what a database behind the code does when it is not
upgraded by itself (`database.auto_upgrade = false`)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from databases import POSTGRES_URL, drop_every_table, postgres_param
from factories import WORKSPACE, person, store_usage, usage
from old_schema import SECRET, create_version_1

from bot.cli import cli
from bot.guard import SchemaGate
from bot.server import health
from sync.codex.connection import load_api_key, store_connection
from sync.org.access_log import record_views
from sync.org.directory import add_alias
from sync.reports.periods import Period
from sync.reports.queries import stats_answer
from sync.store.copy import COPIED
from sync.store.database import open_database
from sync.store.migrations import SCHEMA_VERSION
from sync.store.models import (
    ALL_MODELS,
    Claim,
    Connection,
    DigestDelivery,
    DirectoryChange,
    Employee,
    OrgSource,
    SchemaVersion,
    UsageRevision,
    database,
)
from sync.store.rollups import ROLLUP_MODELS


def first_release(tmp_path) -> str:
    """A database as the first release left it: every migration still to run."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    create_version_1(url)
    return url


def invoke(url, *args, auto_upgrade=True, env=None):
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "codexbot.toml"
        config.write_text(f"[database]\nauto_upgrade = {'true' if auto_upgrade else 'false'}\n")
        return CliRunner().invoke(
            cli,
            ["--config", str(config), *args],
            env={"DATABASE_URL": url, "CODEXBOT_CONFIG": "", **(env or {})},
            catch_exceptions=False,
        )


def test_status_lists_what_is_pending_and_upgrade_applies_it_once(tmp_path):
    url = first_release(tmp_path)
    status = invoke(url, "db", "status")
    assert status.exit_code == 0
    assert f"Schema version 1; this codexbot needs {SCHEMA_VERSION}" in status.output
    lines = status.output.splitlines()
    for version in range(2, SCHEMA_VERSION + 1):
        # Each pending step once, as a whole sentence, not a docstring's first line.
        (line,) = [line for line in lines if line.startswith(f"  {version}  ")]
        assert line.endswith(".") and "Version" not in line and len(line) > 40
    upgraded = invoke(url, "db", "upgrade")
    assert f"from version 1 to {SCHEMA_VERSION}" in upgraded.output
    again = invoke(url, "db", "upgrade")
    assert "already at version" in again.output
    assert "up to date" in invoke(url, "db", "status").output


def test_without_auto_upgrade_a_database_behind_is_refused_until_upgraded(tmp_path):
    url = first_release(tmp_path)
    refused = invoke(url, "org", "unmatched", auto_upgrade=False)
    assert refused.exit_code == 1
    assert "Run `codexbot db upgrade`" in refused.output
    assert "schema version 1;" in refused.output

    # A running bot in that state: /healthz says 503 and why, until the upgrade.
    seconds = [0.0]
    gate = SchemaGate(clock=lambda: seconds[0])
    from bot import guard, server

    guard.schema_gate, server.schema_gate = gate, gate
    try:
        from sync.store.database import connect_database

        connect_database(url)
        status, body = health()
        assert status == 503 and "codexbot db upgrade" in body["schema"]
        assert invoke(url, "db", "upgrade", auto_upgrade=False).exit_code == 0
        connect_database(url)
        seconds[0] += SchemaGate.RECHECK_SECONDS
        assert health()[0] == 200
    finally:
        guard.schema_gate = server.schema_gate = SchemaGate()
        database.close()


@pytest.fixture(params=["sqlite", postgres_param()])
def empty_target(request, tmp_path):
    """An empty database migrated to this code's schema, as `codexbot db upgrade` makes it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'target.db'}"
    else:
        drop_every_table(POSTGRES_URL)
        url = POSTGRES_URL
    open_database(url)
    database.close()
    yield url
    if request.param == "postgresql":
        drop_every_table(POSTGRES_URL)


def filled_source(tmp_path) -> str:
    """A SQLite database with a little of everything, two workspaces' usage included."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    open_database(url)
    boss = person("boss@example.com", "Bea Boss")
    rep = person("rep@example.com", "Rex Report", manager=boss, archived_on=dt.date(2026, 11, 20))
    Employee.update(self_digest=True).where(Employee.id == rep.id).execute()
    add_alias("rex@old.example.com", "rep@example.com")
    store_usage([usage("u-old", dt.date(2026, 8, 1), email="rep@example.com")], "old-ws")
    rex = "rex@old.example.com"
    store_usage([usage("u-rep", dt.date(2026, 11, 19), email=rex, cached_input_tokens=40)])
    store_connection(WORKSPACE, "sk-copied-key-123456", SECRET)
    record_views(boss, [rep], "slash command")
    DigestDelivery.create(
        kind="manager",
        employee=boss,
        period_end=dt.date(2026, 11, 22),
        status="sent",
        claimed_at=dt.datetime(2026, 11, 23, 9),
    )
    DirectoryChange.create(
        changed_at=dt.datetime(2026, 11, 21, 9), actor="scim", action="updated", subject=rep.email
    )
    OrgSource.create(path="/srv/people.csv", fingerprint="0" * 64, imported_at=dt.datetime.now())
    database.close()
    return url


def test_the_copy_takes_every_table_but_the_schema_version_lapsing_claims_and_rollups():
    assert set(COPIED) == set(ALL_MODELS) - {SchemaVersion, Claim, UsageRevision, *ROLLUP_MODELS}


def test_copy_moves_everything_to_an_empty_database_and_answers_stay_the_same(
    tmp_path, empty_target
):
    source = filled_source(tmp_path)
    open_database(source)
    before = {
        table: model.select().count() for model in COPIED for table in [model._meta.table_name]
    }
    rep = Employee.get(Employee.email == "rep@example.com")
    period = Period.ending_before(dt.date(2026, 11, 25), 7)
    answer_before = stats_answer(rep, period)
    database.close()

    env = {"CODEXBOT_SECRET_KEY": SECRET}
    result = invoke(source, "db", "copy", "--to", empty_target, env=env)
    assert result.exit_code == 0, result.output
    assert f"Copied {sum(before.values()):,} rows" in result.output

    open_database(empty_target)
    try:
        after = {m._meta.table_name: m.select().count() for m in COPIED}
        assert after == before and before["daily_usage"] == 2
        rep = Employee.get(Employee.email == "rep@example.com")
        assert rep.manager.email == "boss@example.com" and rep.self_digest is True
        assert rep.archived_on == dt.date(2026, 11, 20)
        assert load_api_key(SECRET) == (WORKSPACE, "sk-copied-key-123456")  # still encrypted
        assert "sk-copied" not in Connection.get().api_key_encrypted
        answer_after = stats_answer(rep, period)
        assert answer_after.current.totals.cached_input_tokens == 40  # schema v6's column
        assert answer_after.current == answer_before.current
        assert answer_after.previous == answer_before.previous
        # New rows go on after the copied ids.
        assert person("new@example.com").id > rep.id
    finally:
        database.close()


def test_copy_refuses_a_target_that_is_not_empty_or_not_migrated(tmp_path):
    source = filled_source(tmp_path)
    not_migrated = f"sqlite:///{tmp_path / 'nothing.db'}"
    refused = invoke(source, "db", "copy", "--to", not_migrated)
    assert refused.exit_code == 1 and "run `codexbot db upgrade` against it first" in (
        refused.output
    )
    refused = invoke(source, "db", "copy", "--to", source)
    assert refused.exit_code == 1 and "is not empty" in refused.output

"""`codexbot db status|upgrade`, and what a database behind the code does when it is not
upgraded by itself (`database.auto_upgrade = false`)."""

from __future__ import annotations

from click.testing import CliRunner
from old_schema import create_version_1

from bot.cli import cli
from bot.guard import SchemaGate
from bot.server import health
from sync.store.migrations import SCHEMA_VERSION
from sync.store.models import database


def first_release(tmp_path) -> str:
    """A database as the first release left it: every migration still to run."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    create_version_1(url)
    return url


def invoke(url, *args, auto_upgrade=True):
    config = f"[database]\nauto_upgrade = {'true' if auto_upgrade else 'false'}\n"
    with CliRunner().isolated_filesystem():
        with open("codexbot.toml", "w") as file:
            file.write(config)
        return CliRunner().invoke(
            cli,
            ["--config", "codexbot.toml", *args],
            env={"DATABASE_URL": url, "CODEXBOT_CONFIG": ""},
            catch_exceptions=False,
        )


def test_status_lists_what_is_pending_and_upgrade_applies_it_once(tmp_path):
    url = first_release(tmp_path)
    status = invoke(url, "db", "status")
    assert status.exit_code == 0
    assert f"Schema version 1; this codexbot needs {SCHEMA_VERSION}" in status.output
    for version in range(2, SCHEMA_VERSION + 1):
        assert f"  {version}  Version {version}:" in status.output
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

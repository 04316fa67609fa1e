"""`codexbot org alias` is recorded in the directory's history as the CLI's change, as an
alias made from Slack is recorded as the admin's."""

from __future__ import annotations

from click.testing import CliRunner
from factories import person

from bot.cli import cli
from sync.org.history import recent_changes
from sync.store.models import EmailAlias, database


def test_an_alias_made_at_the_cli_is_recorded(sqlite_db):
    person("ada@example.com", "Ada")
    env = {"DATABASE_URL": f"sqlite:///{sqlite_db.database}", "CODEXBOT_CONFIG": ""}
    try:
        result = CliRunner().invoke(
            cli, ["org", "alias", "Ada@Old.example.com", "ada@example.com"], env=env
        )
        refused = CliRunner().invoke(
            cli, ["org", "alias", "ada@example.com", "ada@example.com"], env=env
        )
    finally:
        # The CLI opens its own connection and binds the models to it: bind them back.
        if database.obj is not sqlite_db:
            database.obj.close()
            database.initialize(sqlite_db)
    assert result.exit_code == 0, result.output
    assert "ada@old.example.com now counts as ada@example.com." in result.output
    assert refused.exit_code == 1
    assert "ada@example.com is Ada's directory email already" in refused.output
    assert EmailAlias.get().codex_email == "ada@old.example.com"
    (change,) = recent_changes()
    assert (change.actor, change.action, change.subject, change.detail) == (
        "cli",
        "alias added",
        "ada@example.com",
        {"codex_email": "ada@old.example.com"},
    )

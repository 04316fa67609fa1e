"""`codexbot org import [--dry-run]` with an HRIS export (BambooHR-like headers) as the
`[org] source`: the dry run's exact words, then the same import applied, on both engines."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from databases import POSTGRES_URL
from factories import person
from freezegun import freeze_time
from peewee import PostgresqlDatabase

from bot.cli import cli
from sync.store.models import DirectoryChange, Employee, database

NOW = "2026-11-25 10:30:00"
ALICE = "alice@example.com"

BAMBOO = (
    "Employee #,Full Name,Work Email,Manager Email,Department,Job Title,Termination Date\n"
    "1,Cleo Chief,ceo@example.com,,Executive,CEO,\n"
    "2,Alice Lead,alice@example.com,ceo@example.com,Platform,Staff Engineer,\n"
    "3,Bob Builder,Bob@Example.com,ceo@example.com,Platform,Engineering Manager,\n"
    "4,Carol Coder,carol@example.com,bob@example.com,Platform,Engineer,\n"
    "5,Dana Dev,dana@example.com,bob@example.com,Platform,Engineer,\n"
    "6,Frank Again,frank@example.com,alice@example.com,Platform,Engineer,\n"
)
CONFIG = """
[slack]
admin_emails = ["ops@example.com"]

[org]
source = "{source}"
archive_missing = {archive_missing}

[org.columns]
email = "Work Email"
name = "Full Name"
manager_email = "Manager Email"
department = "Department"
archived_on = "Termination Date"
"""


@pytest.fixture
def directory(db):
    """Before the export: Bob is in Apps, Carol reports to Alice, Eve has left (she is not
    in the export), Frank was archived by an earlier export and is back; Ops is a config
    admin and Sam came over SCIM, neither in the HRIS."""
    ceo = person("ceo@example.com", "Cleo Chief", role="admin")
    alice = person("alice@example.com", "Alice Lead", manager=ceo)
    bob = person("bob@example.com", "Bob Builder", manager=ceo)
    person("carol@example.com", "Carol Coder", manager=alice)
    person("eve@example.com", "Eve Leaver", manager=alice)
    person("frank@example.com", "Frank Again", manager=alice, archived_on=dt.date(2026, 10, 1))
    person("ops@example.com", "Otto Ops")
    Employee.create(email="sam@example.com", name="Sam", external_id="00u1sam")
    Employee.update(department="Platform").execute()
    Employee.update(department="Executive").where(Employee.id == ceo.id).execute()
    Employee.update(department="Apps").where(Employee.id == bob.id).execute()
    url = POSTGRES_URL if isinstance(db, PostgresqlDatabase) else f"sqlite:///{db.database}"
    yield url
    database.close()


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "bamboohr.csv"
    path.write_text(BAMBOO)
    return path


def org_import(url, tmp_path, export, *args, archive_missing=True):
    config = tmp_path / "codexbot.toml"
    archive = "true" if archive_missing else "false"
    config.write_text(CONFIG.format(source=export, archive_missing=archive))
    with freeze_time(NOW):
        return CliRunner().invoke(
            cli,
            ["--config", str(config), "org", "import", *args, str(export)],
            env={"DATABASE_URL": url, "CODEXBOT_CONFIG": ""},
            catch_exceptions=False,
        )


def employees() -> dict[str, tuple]:
    return {
        e.email: (e.name, e.manager.email if e.manager else None, e.department, e.archived_on)
        for e in Employee.select()
    }


def history() -> list[tuple]:
    rows = DirectoryChange.select().order_by(DirectoryChange.id)
    return [(r.actor, r.action, r.subject, json.loads(r.detail or "{}")) for r in rows]


DETAIL = (
    (
        "Columns: Full Name as name, Work Email as email, Manager Email as manager_email, "
        "Department as department, Termination Date as archived_on\n"
    )
    + """\
Ignored columns: Employee #, Job Title

Added (1):
  dana@example.com
Updated (1):
  bob@example.com: department
Manager changed (1):
  carol@example.com: from alice@example.com to bob@example.com
Archived (1):
  eve@example.com on 2026-11-25: missing from the file
Restored (1):
  frank@example.com
Kept, though missing from the file (2):
  ops@example.com: in slack.admin_emails, whom a file never archives
  sam@example.com: provisioned over SCIM, which archives them
"""
)
COUNTS = "1 added, 1 updated, 1 manager changed, 1 archived, 1 restored, 2 unchanged"


def test_a_dry_run_of_an_hris_export_says_everything_it_would_do_and_does_nothing(
    directory, tmp_path, export
):
    before, changes_before = employees(), history()

    result = org_import(directory, tmp_path, export, "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.output == f"Dry run of {export} (nothing was changed): {COUNTS}.\n" + DETAIL
    assert employees() == before and history() == changes_before


def test_the_same_import_applied_makes_exactly_those_changes_and_records_them(
    directory, tmp_path, export
):
    before = employees()

    result = org_import(directory, tmp_path, export)

    assert result.exit_code == 0, result.output
    assert result.output == f"Imported {export}: {COUNTS}.\n" + DETAIL
    today = dt.date(2026, 11, 25)
    assert employees() == {
        **before,
        "bob@example.com": ("Bob Builder", "ceo@example.com", "Platform", None),
        "carol@example.com": ("Carol Coder", "bob@example.com", "Platform", None),
        "dana@example.com": ("Dana Dev", "bob@example.com", "Platform", None),
        "eve@example.com": ("Eve Leaver", "alice@example.com", "Platform", today),
        "frank@example.com": ("Frank Again", "alice@example.com", "Platform", None),
    }
    counts = {"added": 1, "updated": 1, "manager_changed": 1, "archived": 1, "restored": 1}
    dana = {"name": "Dana Dev", "department": "Platform", "manager": "bob@example.com"}
    eve = {"archived_on": "2026-11-25", "reason": "missing from the file"}
    assert history()[:-1] == [
        ("cli", "created", "dana@example.com", dana),
        ("cli", "updated", "bob@example.com", {"department": "Platform"}),
        (
            "cli",
            "manager changed",
            "carol@example.com",
            {"manager": "bob@example.com", "previous_manager": ALICE},
        ),
        ("cli", "archived", "eve@example.com", eve),
        ("cli", "restored", "frank@example.com", {"archived_on": None}),
    ]
    actor, action, subject, detail = history()[-1]
    assert (actor, action, subject) == ("cli", "file imported", None)
    assert detail == {
        **counts,
        "unchanged": 2,
        "file": str(export),
        "fingerprint": detail["fingerprint"],
    }
    assert len(detail["fingerprint"]) == 64

    again = org_import(directory, tmp_path, export)  # nothing left to do
    assert again.output.startswith(
        f"Imported {export}: 0 added, 0 updated, 0 manager changed, 0 archived, 0 restored, "
        "6 unchanged.\n"
    )
    assert [row[1] for row in history()].count("file imported") == 2


def test_with_archive_missing_off_the_dry_run_says_who_is_left_alone(directory, tmp_path, export):
    result = org_import(directory, tmp_path, export, "--dry-run", archive_missing=False)

    assert result.exit_code == 0, result.output
    assert "Archived" not in result.output and "Kept" not in result.output
    assert result.output.endswith(
        "3 people in the directory are not in this file and are left alone: "
        "[org] archive_missing is off.\n"
    )


def test_a_refused_export_lists_its_problems_and_changes_nothing(directory, tmp_path, export):
    export.write_text(
        BAMBOO.replace("bob@example.com,Platform,Engineer,\n", "nobody@example.com,Platform,,\n")
        + "7,Bad Row,not-an-email,,,,\n"
    )
    before, changes_before = employees(), history()

    result = org_import(directory, tmp_path, export)

    assert result.exit_code == 1
    assert result.output == (
        f"Error: {export} was refused, nothing was changed (3 problems):\n"
        "  line 5: manager nobody@example.com is not in the directory or in this file\n"
        "  line 6: manager nobody@example.com is not in the directory or in this file\n"
        "  line 8: Work Email 'not-an-email' is not a valid email address\n"
    )
    assert employees() == before and history() == changes_before

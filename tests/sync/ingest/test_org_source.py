"""The `[org] source` HRIS file as the scheduled sync reads it: imported when its content
changed and only then, a refused or unreadable file recorded once while the usage sync
goes on, and what became of it said by the sync summary and the status."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.fernet import Fernet
from freezegun import freeze_time
from slack_sdk.models.blocks import Block

from bot.cli.console import sync_summary
from bot.messages import render_message
from bot.rendering import render
from sync.codex.connection import store_connection
from sync.codex.simulator import Simulator
from sync.config import load_settings
from sync.ingest.scheduled import run_scheduled_sync
from sync.notices import Notice
from sync.org.history import hris_actor
from sync.org.org_csv import fingerprint
from sync.org.source import source_state
from sync.reports.answers import status_now
from sync.store.models import DirectoryChange, Employee, OrgSource, SyncRun

NOW = "2026-11-25 10:30:00"
SECRET = Fernet.generate_key().decode()

# A Rippling-like export.
COLUMNS = {"email": "Work Email", "name": "Full Name", "manager_email": "Manager Email"}
V1 = (
    "Work Email,Full Name,Manager Email,Title\n"
    "boss@example.com,Bea Boss,,CEO\n"
    "dev@example.com,Dev One,boss@example.com,Engineer\n"
)
V2 = V1 + "new@example.com,Nia New,dev@example.com,Engineer\n"
# Bea now reports to Nia, who reports to Dev, who reports to Bea.
LOOP = V2.replace("boss@example.com,Bea Boss,,CEO", "boss@example.com,Bea Boss,new@example.com,CEO")
LOOP_PROBLEM = (
    "line 2: the manager chain loops: "
    "boss@example.com -> new@example.com -> dev@example.com -> boss@example.com"
)


@pytest.fixture
def sim():
    with freeze_time(NOW):
        simulator = Simulator(employees=20, days=10, seed=11, retry_after=0)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def source(db, sim, tmp_path):
    store_connection(sim.workspace_id, sim.api_key, SECRET)
    path = tmp_path / "people.csv"
    path.write_text(V1)
    return path


def settings_for(sim, source):
    settings = load_settings(None, environ={"CODEXBOT_SECRET_KEY": SECRET})
    settings.codex.api_base_url = sim.base_url
    settings.sync.backfill_days = 2
    settings.org.source = str(source)
    settings.org.columns = COLUMNS
    return settings


def file_records(source) -> list[tuple[str, dict]]:
    """The imports and refusals the history holds for the source file, oldest first."""
    rows = DirectoryChange.select().where(
        DirectoryChange.actor == hris_actor(str(source)), DirectoryChange.subject.is_null()
    )
    return [(row.action, json.loads(row.detail)) for row in rows.order_by(DirectoryChange.id)]


def directory() -> list[tuple]:
    return list(Employee.select().order_by(Employee.id).tuples())


class Hourly:
    """The scheduler's sync, an hour apart each time (the interval), on a frozen clock."""

    def __init__(self, settings, clock):
        self.settings, self.clock = settings, clock
        # What each sync gave the scheduler to tell the admins about the file.
        self.org_refused: list[Notice | None] = []

    def sync(self) -> SyncRun:
        outcome = run_scheduled_sync(self.settings, "replica-a")
        assert outcome.ran and outcome.run is not None
        self.org_refused.append(outcome.org_refused)
        self.clock.tick(dt.timedelta(hours=1))
        return outcome.run


def summary(settings, run) -> str:
    return sync_summary(run, source_state(settings.org.source))


def test_the_source_is_imported_once_then_again_only_when_it_changed(sim, source):
    settings = settings_for(sim, source)
    path = str(source)
    with freeze_time(NOW) as clock:
        hourly = Hourly(settings, clock)

        first = hourly.sync()
        assert [e.email for e in Employee.select().order_by(Employee.email)] == [
            "boss@example.com",
            "dev@example.com",
        ]
        assert [action for action, _ in file_records(source)] == ["file imported"]
        assert OrgSource.get_by_id(path).fingerprint == fingerprint(V1.encode())
        assert (
            f"  Org file {path}: imported at this sync: 2 added, 0 updated, 0 manager changed, "
            "0 archived, 0 restored, 0 unchanged\n"
        ) in summary(settings, first)

        unchanged = hourly.sync()
        assert unchanged.outcome == SyncRun.OUTCOME_OK
        assert len(file_records(source)) == 1
        assert (
            f"  Org file {path}: unchanged since it was imported 2026-11-25 10:30 UTC: 2 added"
        ) in summary(settings, unchanged)

        source.write_text(V2)
        hourly.sync()
        records = file_records(source)
        assert [action for action, _ in records] == ["file imported", "file imported"]
        assert records[1][1]["added"] == 1 and records[1][1]["unchanged"] == 2
        new = Employee.get(Employee.email == "new@example.com")
        assert (new.name, new.manager.email) == ("Nia New", "dev@example.com")
        created = DirectoryChange.get(DirectoryChange.subject == "new@example.com")
        assert (created.actor, created.action) == (f"file {path}", "created")


def test_a_refused_file_changes_nothing_is_recorded_once_and_the_usage_sync_goes_on(sim, source):
    settings = settings_for(sim, source)
    path = str(source)
    with freeze_time(NOW) as clock:
        hourly = Hourly(settings, clock)
        source.write_text(V2)
        hourly.sync()
        before = directory()

        source.write_text(LOOP)
        refused = hourly.sync()
        assert refused.outcome == SyncRun.OUTCOME_OK and refused.rows > 0
        assert directory() == before
        assert file_records(source)[-1] == (
            "file refused",
            {
                "file": path,
                "problems": 1,
                "first": [LOOP_PROBLEM],
                "fingerprint": fingerprint(LOOP.encode()),
            },
        )
        assert (
            f"  Org file {path}: refused at this sync, nothing changed: 1 problem "
            f"({LOOP_PROBLEM}); it is read again when it changes\n"
        ) in summary(settings, refused)

        again = hourly.sync()  # the same file: not read again, not recorded again
        assert again.outcome == SyncRun.OUTCOME_OK and again.rows > 0
        assert [action for action, _ in file_records(source)] == ["file imported", "file refused"]
        assert directory() == before
        # The admins are told at the sync that refused it, not at every sync after.
        assert hourly.org_refused == [
            None,
            Notice("org_source_refused", {"file": path, "problems": 1, "first": [LOOP_PROBLEM]}),
            None,
        ]
        status = status_now(settings)
        status_text = render("status.txt.j2", status=status)
        assert (
            f"Org file `{path}`: refused 2026-11-25 11:30 UTC, nothing changed: 1 problem ("
        ) in status_text
        for block in render_message("status", status=status)["blocks"]:
            assert Block.parse(block).to_dict() == block


def test_a_missing_source_is_reported_once_and_read_again_when_it_is_back(sim, source):
    settings = settings_for(sim, source)
    path = str(source)
    with freeze_time(NOW) as clock:
        hourly = Hourly(settings, clock)
        hourly.sync()
        before = directory()

        source.unlink()
        missing = hourly.sync()
        assert missing.outcome == SyncRun.OUTCOME_OK and missing.rows > 0
        hourly.sync()
        records = file_records(source)
        assert [action for action, _ in records] == ["file imported", "file refused"]
        assert records[1][1] == {
            "file": path,
            "problems": 1,
            "first": [f"cannot read {path}: No such file or directory"],
        }
        assert directory() == before

        source.write_text(V1)  # back as it was: read again, nothing to change
        hourly.sync()
        records = file_records(source)
        assert [action for action, _ in records][-1] == "file imported"
        assert records[-1][1]["unchanged"] == 2 and records[-1][1]["added"] == 0
        assert directory() == before
        unreadable = Notice("org_source_refused", records[1][1])
        assert hourly.org_refused == [None, unreadable, None, None]


def test_without_a_source_nothing_is_read_and_nothing_said(sim, source):
    settings = settings_for(sim, source)
    settings.org.source = None
    with freeze_time(NOW):
        run = run_scheduled_sync(settings, "replica-a").run
    assert Employee.select().count() == 0 and OrgSource.select().count() == 0
    assert run is not None and "Org file" not in sync_summary(run)
    assert "Org file" not in render("status.txt.j2", status=status_now(settings))

"""The usage revision (sync/store/rollups.py): every writer of usage moves it, in its own
transaction, and a copy into another database leaves no roll-up behind there."""

from __future__ import annotations

import datetime as dt

from factories import WORKSPACE, store_usage, usage
from freezegun import freeze_time

from sync.config import RetentionSettings
from sync.ingest.writer import delete_unreported_usage
from sync.store.copy import copy_database
from sync.store.database import open_database
from sync.store.models import AdoptionRollup, AdoptionRollupLine
from sync.store.retention import apply_retention
from sync.store.rollups import usage_revision
from sync.store.workspaces import forget_workspace

TODAY = dt.date(2026, 6, 15)


def test_every_writer_of_usage_moves_the_revision(db):
    with freeze_time("2026-06-15 12:00:00"):
        assert usage_revision() == 0  # a new database
        store_usage([usage("u-ada", TODAY - dt.timedelta(days=n)) for n in (1, 40)])
        assert usage_revision() == 1  # one page, one bump
        delete_unreported_usage(WORKSPACE, TODAY, TODAY, sync_run_id=0)
        assert usage_revision() == 2
        apply_retention(RetentionSettings(usage_days=30))
        assert usage_revision() == 3
        forget_workspace(WORKSPACE)
        assert usage_revision() == 4


def test_a_copy_leaves_no_rollup_in_its_target(db, tmp_path):
    """The target may hold roll-ups (a bot ran against it before its usage was emptied):
    none of them describes the copied rows."""
    AdoptionRollup.create(
        workspace_id=WORKSPACE,
        window_first=TODAY,
        previous_first=TODAY,
        first=TODAY,
        recent_first=TODAY,
        idle_first=TODAY,
        last_day=TODAY,
        revision=0,
        built_at=dt.datetime(2026, 6, 15),
    )
    AdoptionRollupLine.insert(
        rollup=1,
        codex_user_id="u-ada",
        cut_day=TODAY,
        last_row_day=TODAY,
        days=1,
        previous_days=0,
        recent_days=1,
        idle_window_days=1,
        credits=1.0,
        previous_credits=0.0,
        threads=1,
        previous_threads=0,
        turns=1,
        previous_turns=0,
    ).execute()
    target = db  # the models are bound to the source below; the target stays open
    source = open_database(f"sqlite:///{tmp_path / 'source.db'}")
    with freeze_time("2026-06-15 12:00:00"):
        store_usage([usage("u-ada", TODAY - dt.timedelta(days=1))])
    try:
        copy_database(source, target)
        assert target.execute_sql('SELECT COUNT(*) FROM "adoption_rollup"').fetchone()[0] == 0
        lines = target.execute_sql('SELECT COUNT(*) FROM "adoption_rollup_line"').fetchone()
        assert lines[0] == 0
        revision = target.execute_sql('SELECT "revision" FROM "usage_revision"').fetchone()
        assert revision[0] >= 1
        assert target.execute_sql('SELECT COUNT(*) FROM "daily_usage"').fetchone()[0] == 1
    finally:
        source.close()

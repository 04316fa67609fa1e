"""Faults and crashes: a flaky API and a killed process lose nothing and double nothing."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from factories import usage_dump
from freezegun import freeze_time

from sync.codex.connection import store_connection
from sync.codex.simulator import Simulator
from sync.config import load_settings
from sync.ingest.job import run_sync
from sync.store.database import open_database
from sync.store.models import DailyUsage, SyncRun, database

SECRET = Fernet.generate_key().decode()


def settings_for(sim, **codex):
    settings = load_settings(None, environ={"CODEXBOT_SECRET_KEY": SECRET})
    settings.codex.api_base_url = sim.base_url
    for key, value in codex.items():
        setattr(settings.codex, key, value)
    return settings


@freeze_time("2026-11-25 10:30:00")
def test_a_sync_through_20_percent_faults_stores_what_a_clean_sync_stores(db):
    with Simulator(employees=40, days=30, seed=21, retry_after=0, slow_seconds=0.6) as sim:
        store_connection(sim.workspace_id, sim.api_key, SECRET)
        run_sync(settings_for(sim, page_size=10), days=30)
        clean = usage_dump()
        DailyUsage.delete().execute()
        sim.request_log.clear()
        sim.fail_rate = 0.2
        # A 0.3 s time-out turns the simulator's 0.6 s answers into time-outs.
        faulty = settings_for(sim, page_size=10, timeout_seconds=0.3, max_attempts=30)
        run = run_sync(faulty, days=30, sleep=lambda seconds: None)
    assert run.outcome == SyncRun.OUTCOME_OK
    assert usage_dump() == clean and len(clean) > 300
    statuses = [status for _, _, status in sim.request_log]
    assert {429, 500} <= set(statuses)
    # Truncated and timed-out answers were logged as 200s: more than there were pages.
    assert statuses.count(200) > run.pages


KILLS = 20


def codexbot(*args, env):
    command = [sys.executable, "-c", "from bot.cli import main; main()", *args]
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def committed_pages(line: str) -> int | None:
    """The pages a sync's progress line says are stored ("page 12: ..."), else None."""
    found = re.search(r" page (\d+):", line)
    return int(found.group(1)) if found else None


# Slow (~13 s): 41 real `codexbot sync` processes, 20 of them SIGKILLed mid-sync.
@pytest.mark.slow
def test_sync_killed_at_20_random_points_then_rerun_loses_and_doubles_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    rng = random.Random(2026)
    with Simulator(employees=40, days=20, seed=5) as sim:
        env = {
            **os.environ,
            "CODEX_API_BASE_URL": sim.base_url,
            "CODEXBOT_SECRET_KEY": SECRET,
            "CODEXBOT_CONFIG": "",
        }
        config = tmp_path / "small-pages.toml"
        # Many pages, a few to a transaction: many commits to die between, and pages to
        # die within an open transaction.
        config.write_text("[codex]\npage_size = 10\n[sync]\ntransaction_rows = 25\n")
        env["CODEXBOT_CONFIG"] = str(config)
        for target in (reference_url, url):
            open_database(target)
            store_connection(sim.workspace_id, sim.api_key, SECRET)
            database.close()
        complete = codexbot("sync", "--days", "20", env={**env, "DATABASE_URL": reference_url})
        # A line after each commit, with the pages stored so far.
        committed = [page for page in map(committed_pages, complete.stderr) if page]
        assert complete.wait(60) == 0 and len(committed) > 10
        pages = committed[-1]
        assert pages > len(committed)  # some commits held several pages
        open_database(reference_url)
        reference = usage_dump()
        database.close()

        killed_midway = 0
        for _ in range(KILLS):
            victim = codexbot("sync", "--days", "20", env={**env, "DATABASE_URL": url})
            stop_after = rng.randrange(pages)
            for line in victim.stderr:
                if (committed_pages(line) or 0) > stop_after or "finished" in line:
                    break
            victim.send_signal(signal.SIGKILL)
            assert victim.wait(30) == -signal.SIGKILL
            open_database(url)
            # A kill after the last commit can land once the run has finished: then it is
            # a complete run, not one to count as killed.
            last = SyncRun.select().order_by(SyncRun.id.desc()).first()
            killed_midway += last.outcome != SyncRun.OUTCOME_OK
            database.close()
            rerun = codexbot("sync", "--days", "20", env={**env, "DATABASE_URL": url})
            rerun.stderr.read()
            assert rerun.wait(60) == 0
            open_database(url)
            assert usage_dump() == reference  # nothing lost, nothing doubled
            database.close()
    open_database(url)
    outcomes = [run.outcome for run in SyncRun.select().order_by(SyncRun.id)]
    database.close()
    assert outcomes.count(SyncRun.OUTCOME_OK) == 2 * KILLS - killed_midway
    assert outcomes.count(SyncRun.OUTCOME_INTERRUPTED) == killed_midway
    assert killed_midway >= KILLS - 3  # the kills did land midway, nearly all of them
    assert SyncRun.OUTCOME_RUNNING not in outcomes

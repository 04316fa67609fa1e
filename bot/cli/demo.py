"""`codexbot demo`: the whole data path on the embedded defaults, with no accounts.

It starts the simulator on a free loopback port, imports the simulated org, connects,
syncs, and prints what a manager and a stats question would get.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
from cryptography.fernet import Fernet

from bot.cli.console import run_sync_with_progress, sync_summary
from bot.rendering import render
from sync.clock import utc_today
from sync.codex.client import validate_connection
from sync.codex.connection import store_connection
from sync.codex.simulator import Simulator, write_org_csv
from sync.config import Settings
from sync.org.access import digest_recipients, is_archived
from sync.org.chart import direct_reports
from sync.org.importer import import_org_csv
from sync.reports.answers import ask_digest_preview_by_email, ask_stats_by_email
from sync.reports.periods import Period
from sync.reports.queries import stats_answers
from sync.store.database import open_database
from sync.store.models import Employee, database


def run_demo(settings: Settings, database_url: str, *, employees: int, days: int, seed: int):

    if database_url.startswith("sqlite:///"):
        _remove_sqlite_file(database_url.removeprefix("sqlite:///"))
    secret_key = settings.security.secret_key or Fernet.generate_key().decode()
    with Simulator(employees=employees, days=days, seed=seed) as sim:
        demo_settings = settings.model_copy(deep=True)
        demo_settings.database.url = database_url
        demo_settings.codex.api_base_url = sim.base_url
        demo_settings.security.secret_key = secret_key
        demo_settings.sync.backfill_days = days
        _say(f"Simulated Codex Analytics API at {sim.base_url} ({employees} employees)")

        open_database(database_url)
        with tempfile.TemporaryDirectory() as scratch:
            org_csv = Path(scratch) / "org.csv"
            write_org_csv(sim.org, org_csv)
            plan = import_org_csv(org_csv)
        _say(f"Imported the org directory: {plan.counts.added} people")

        validate_connection(sim.base_url, sim.api_key, sim.workspace_id)
        info = store_connection(sim.workspace_id, sim.api_key, secret_key, "demo")
        _say(f"Connected workspace {info.workspace_id} with key …{info.key_last4} (encrypted)")

        _say(f"Syncing {days} days")
        run = run_sync_with_progress(demo_settings, None)
        click.echo(sync_summary(run))

        today = utc_today()
        manager = _manager_with_most_reports()
        _say(f"What {manager.display_name} gets before their 1:1s: codexbot digest preview")
        period_days = demo_settings.digest.period_days
        digest = ask_digest_preview_by_email(manager.email, today, period_days)
        click.echo(render("digest.txt.j2", digest=digest))
        report = _busiest_report(manager)
        _say(f"{manager.display_name} asks: codexbot stats {report.email} --as {manager.email}")
        answer = ask_stats_by_email(manager.email, report.email, 30, today)
        click.echo(render("stats.txt.j2", answer=answer))
    _say(f"Done. The data stays in {database_url}; try `codexbot --help`.")
    database.close()


def _say(text: str) -> None:
    click.secho(f"==> {text}", bold=True, err=True)


def _remove_sqlite_file(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def _manager_with_most_reports() -> Employee:
    today = utc_today()

    def staying_reports(manager: Employee) -> int:
        return sum(not is_archived(r, today) for r in direct_reports(manager))

    return min(digest_recipients(today), key=lambda m: (-staying_reports(m), m.email))


def _busiest_report(manager: Employee) -> Employee:
    reports = list(manager.direct_reports)
    today = utc_today()
    answers = stats_answers(reports, Period.ending_before(today, 30))
    return max(reports, key=lambda r: (answers[r.id].current.totals.credits, r.email))

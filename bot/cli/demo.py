"""`codexbot demo`: the whole data path on the embedded defaults, with no accounts.

It starts the simulator on a free loopback port, imports the simulated org, connects,
syncs, and prints what a manager and a stats question would get. It also writes what
Slack would show them (the stats answer, the team answer, the digest and the Home tab as
Block Kit JSON, and the charts as PNG) into a folder, with a Block Kit Builder link for
each message, so a newcomer sees the Slack side without a workspace.

`simulated_workspace` (simulator, org, connection, sync) is also `codexbot try`'s data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import click
from cryptography.fernet import Fernet

from bot.charts import Chart, digest_chart, stats_chart, team_chart
from bot.cli.console import run_sync_with_progress, sync_summary
from bot.messages import render_message, render_messages, render_view
from bot.rendering import render
from sync.clock import utc_today
from sync.codex.client import validate_connection
from sync.codex.connection import store_connection
from sync.codex.simulator import Simulator, write_org_csv
from sync.config import Settings
from sync.org.access import Viewer, digest_recipients, is_archived
from sync.org.access_log import record_views
from sync.org.chart import direct_reports
from sync.org.importer import import_org_csv
from sync.reports.answers import (
    ask_digest_preview_by_email,
    ask_home,
    ask_stats_by_email,
    team_for,
)
from sync.reports.digest import Digest
from sync.reports.periods import Period
from sync.reports.queries import StatsAnswer, stats_answers
from sync.store.database import open_database
from sync.store.models import Employee, SyncRun, database

BLOCK_KIT_BUILDER = "https://app.slack.com/block-kit-builder/#"
STATS_DAYS = 30


@dataclass
class SimulatedWorkspace:
    simulator: Simulator
    settings: Settings  # pointed at the simulator and the database it filled
    sync_run: SyncRun


@contextlib.contextmanager
def simulated_workspace(
    settings: Settings, database_url: str, *, employees: int, days: int, seed: int
) -> Iterator[SimulatedWorkspace]:
    """The simulator on a free loopback port, and `database_url` filled from it as an
    operator would: the simulated org imported, the connection stored with its key
    encrypted, `days` of usage synced (a SQLite file is started afresh). The simulator
    stops when the block ends; the database stays open."""
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
        yield SimulatedWorkspace(sim, demo_settings, run)


def run_demo(
    settings: Settings,
    database_url: str,
    *,
    employees: int,
    days: int,
    seed: int,
    out: Path = Path("codexbot-demo"),
):
    with simulated_workspace(
        settings, database_url, employees=employees, days=days, seed=seed
    ) as workspace:
        click.echo(sync_summary(workspace.sync_run))

        today = utc_today()
        manager = manager_with_most_reports()
        _say(f"What {manager.display_name} gets before their 1:1s: codexbot digest preview")
        period_days = workspace.settings.digest.period_days
        digest = ask_digest_preview_by_email(
            manager.email, today, period_days, adoption=workspace.settings.adoption
        )
        click.echo(render("digest.txt.j2", digest=digest))
        report = busiest_report(manager)
        _say(f"{manager.display_name} asks: codexbot stats {report.email} --as {manager.email}")
        answer = ask_stats_by_email(manager.email, report.email, STATS_DAYS, today)
        click.echo(render("stats.txt.j2", answer=answer))
        assert digest is not None and answer is not None  # the manager is in the directory
        _say(f"What Slack would show {manager.display_name}, written into {out}/")
        click.echo(render("demo_slack.txt.j2", written=_write_slack_side(out, digest, answer)))
    click.secho(
        render("demo_done.txt.j2", database_url=database_url, codexbot=codexbot_command()),
        bold=True,
        err=True,
        nl=False,
    )
    database.close()


def codexbot_command() -> str:
    """How to run this very codexbot again: `codexbot` when the shell finds it, else the
    path it was started by (`make demo` runs .venv/bin/codexbot, which a shell without
    the environment activated does not find)."""
    started_as = sys.argv[0]
    if Path(started_as).name != "codexbot":  # python -m, a test's runner: say the name
        return "codexbot"
    on_path = shutil.which("codexbot")
    if on_path is not None and Path(on_path).resolve() == Path(started_as).resolve():
        return "codexbot"
    return started_as


def _write_slack_side(out: Path, digest: Digest, answer: StatsAnswer) -> list[tuple[str, str]]:
    """The digest's manager's messages, Home tab and charts, as files in `out`; for each
    file, its path and a Block Kit Builder link (for a PNG, what it shows)."""
    manager, today = digest.manager, digest.period.last_day + dt.timedelta(days=1)
    team = team_for(manager, Period.ending_before(today, STATS_DAYS))
    home = ask_home(Viewer(manager, manager.email), dt.datetime.combine(today, dt.time(), dt.UTC))
    slack_side: dict[str, dict] = {
        "stats": render_message("stats", answer=answer),
        "team": render_message("team", team=team),
    }
    for n, message in enumerate(render_messages("digest", digest=digest)):
        slack_side["digest" if n == 0 else f"digest-{n + 1}"] = message
    charts: dict[str, Chart | None] = {"stats": stats_chart(answer), "digest": digest_chart(digest)}
    if home.team is not None:
        charts["home-team"] = team_chart(home.team, home=True)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, message in slack_side.items():
        # What the Builder takes: the blocks alone ("text" is the notification's).
        written.append(_write_json(out / f"{name}.json", {"blocks": message["blocks"]}))
    written.append(_write_json(out / "home.json", render_view("home", home=home)))
    for name, chart in charts.items():
        if chart is not None:
            path = out / f"{name}.png"
            path.write_bytes(chart.png)
            # Drawn as the manager would see it in Slack: a view of everyone it shows.
            record_views(manager, chart.people, "chart")
            written.append((str(path), chart.title))
    return written


def _write_json(path: Path, payload: dict) -> tuple[str, str]:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return str(path), block_kit_builder_link(payload)


def block_kit_builder_link(payload: dict) -> str:
    """A link that opens `payload` (`{"blocks": [...]}` for a message, or a view) in the
    Block Kit Builder, drawn as Slack draws it (it needs a Slack login)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return BLOCK_KIT_BUILDER + quote(text, safe="")


def _say(text: str) -> None:
    click.secho(f"==> {text}", bold=True, err=True)


def _remove_sqlite_file(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def manager_with_most_reports() -> Employee:
    today = utc_today()

    def staying_reports(manager: Employee) -> int:
        return sum(not is_archived(r, today) for r in direct_reports(manager))

    return min(digest_recipients(today), key=lambda m: (-staying_reports(m), m.email))


def busiest_report(manager: Employee) -> Employee:
    reports = list(manager.direct_reports)
    today = utc_today()
    answers = stats_answers(reports, Period.ending_before(today, 30))
    return max(reports, key=lambda r: (answers[r.id].current.totals.credits, r.email))

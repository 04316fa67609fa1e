"""`codexbot`: the one command-line interface for operators."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from bot.rendering import render, words
from bot.telemetry import JsonLogFormatter
from sync.clock import utc_today
from sync.codex.client import validate_connection
from sync.codex.connection import InvalidWorkspaceIdError, parse_workspace_id, store_connection
from sync.config import API_HISTORY_DAYS, ConfigError, Settings, load_settings
from sync.notices import Notice, Problem
from sync.org.access import AccessPolicy
from sync.org.directory import DirectoryError
from sync.org.importer import OrgImportError
from sync.reports.periods import STATS_PERIOD_DAYS
from sync.store.database import open_database

log = logging.getLogger("codexbot")

# Failures an operator can act on: printed without a traceback, exit status 1. Problems
# (sync/notices.py) are worded by the templates; these carry an operator's message.
OPERATOR_ERRORS = (ConfigError, DirectoryError, OrgImportError)


class Context:
    def __init__(self, config_path: str | None, log_handler: logging.Handler | None = None):
        self.config_path = config_path
        self._settings: Settings | None = None
        # The CLI's own log handler: `logging.format` is applied to it once settings load.
        self.log_handler = log_handler

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
            if self._settings.logging.format == "json" and self.log_handler is not None:
                self.log_handler.setFormatter(JsonLogFormatter())
        return self._settings

    def open_database(self):
        """The configured database, migrated first unless `database.auto_upgrade` is false
        (then one that is behind is refused, naming `codexbot db upgrade`)."""
        database = self.settings.database
        return open_database(
            database.url, upgrade=database.auto_upgrade, pool_size=database.pool_size
        )


pass_context = click.make_pass_decorator(Context)


class OperatorErrors(click.Group):
    """Turns the errors an operator can act on into a message and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Problem as exc:
            raise click.ClickException(words(exc)) from None
        except OPERATOR_ERRORS as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=OperatorErrors)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="CODEXBOT_CONFIG",
    help="TOML config file (see config.example.toml); environment variables override it.",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
# The installed distribution's version (pyproject.toml), read through importlib.metadata.
@click.version_option(package_name="codexbot", prog_name="codexbot")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """codexbot: OpenAI Codex usage analytics for 1:1s."""
    # Text until the settings are read; then JSON if `logging.format` says so (Context).
    handler = logging.StreamHandler(sys.stderr)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
    )
    # httpx logs every request at INFO: one line a page is noise, not news.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Slack's libraries log whole payloads at DEBUG (the connect modal's holds the Codex API
    # key), and peewee logs every query's parameters (emails from SCIM bodies): they stay
    # at INFO even with --verbose.
    for name in ("slack_sdk", "slack_bolt", "peewee"):
        logging.getLogger(name).setLevel(logging.INFO)
    ctx.obj = Context(config_path, handler)


# ---------------------------------------------------------------------------- simulator


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--employees", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 365))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--fail-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1))
@click.option(
    "--slow-seconds",
    type=click.FloatRange(0, 600),
    help="Make some failures answers that take this long (past a client's time-out).",
)
@click.option(
    "--write-org",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the simulated organisation as an org CSV to this file.",
)
@click.option(
    "--quirk",
    "quirks",
    multiple=True,
    # The names of sync/codex/simulator/quirks.py's QUIRKS.
    type=click.Choice(["hostile_rows", "endless_pages", "more_without_token", "trickle"]),
    help="Serve a hostile shape (repeatable): bad rows, endless pages, has_more without "
    "a token, or a body trickled a few bytes at a time.",
)
@click.option(
    "--density",
    # sync/codex/simulator/server.py's DENSITIES.
    type=click.Choice(["realistic", "full"]),
    default="realistic",
    show_default=True,
    help="full: every employee on every day on each of four surfaces (the most rows an "
    "org of this size can have), for backfill benchmarks.",
)
def simulator(
    host, port, employees, days, seed, fail_rate, slow_seconds, write_org, quirks, density
) -> None:
    """Serve a simulated Codex Analytics API for a generated organisation."""
    from sync.codex.simulator import Simulator, write_org_csv

    sim = Simulator(
        employees=employees,
        days=days,
        seed=seed,
        fail_rate=fail_rate,
        host=host,
        port=port,
        slow_seconds=slow_seconds,
        quirks=quirks,
        density=density,
    )
    if write_org:
        write_org_csv(sim.org, write_org)
        click.echo(f"Wrote {len(sim.org.people)} people to {write_org}", err=True)
    base_url = sim.bind()
    click.echo(
        f"Simulated Codex Analytics API for {employees} employees, {days} days, seed {seed}\n"
        f"  CODEX_API_BASE_URL={base_url}\n"
        f"  CODEX_WORKSPACE_ID={sim.workspace_id}\n"
        f"  CODEX_API_KEY={sim.api_key}\n"
        f"  a workspace whose plan has no access: {sim.NO_ACCESS_WORKSPACE_ID}",
        err=True,
    )
    sim.serve_forever()


# ---------------------------------------------------------------------------- org


@cli.group()
def org() -> None:
    """The org directory: who is who, who reports to whom."""


@org.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print what the import would change; change nothing.")
@pass_context
def org_import(context: Context, csv_file: str, dry_run: bool) -> None:
    """Import or update employees from CSV_FILE (all or nothing).

    Headers are read through [org.columns]; with [org] archive_missing, importing the
    [org] source file archives the people it no longer lists.
    """
    from sync.org.history import ACTOR_CLI
    from sync.org.importer import import_org_csv
    from sync.org.source import archive_policy, is_source_file

    settings = context.settings
    context.open_database()
    try:
        plan = import_org_csv(
            csv_file,
            columns=settings.org.columns,
            archive_missing=archive_policy(settings, csv_file),
            actor=ACTOR_CLI,
            dry_run=dry_run,
        )
    except OrgImportError as exc:
        refusal = render("org_import_refused.txt.j2", file=csv_file, problems=exc.problems)
        raise click.ClickException(refusal.rstrip()) from None
    summary = render(
        "org_import.txt.j2",
        plan=plan,
        dry_run=dry_run,
        archive_missing=settings.org.archive_missing,
        is_source=is_source_file(settings, csv_file),
    )
    click.echo(summary, nl=False)


@org.command("alias")
@click.argument("codex_email")
@click.argument("employee_email")
@pass_context
def org_alias(context: Context, codex_email: str, employee_email: str) -> None:
    """Attribute the Codex account CODEX_EMAIL to the employee EMPLOYEE_EMAIL."""
    from sync.org.directory import add_alias

    context.open_database()
    alias = add_alias(codex_email, employee_email)
    click.echo(f"{alias.codex_email} now counts as {alias.employee.email}.")


@org.command("unmatched")
@pass_context
def org_unmatched(context: Context) -> None:
    """List Codex users who match no employee."""
    from sync.org.directory import unmatched_codex_users

    context.open_database()
    users = unmatched_codex_users()
    if not users:
        click.echo("Every Codex user matches an employee.")
        return
    click.echo(f"{'Codex user':40} {'last seen':10} {'credits':>10}")
    for user in users:
        last_seen = user.last_seen.isoformat() if user.last_seen else "-"
        click.echo(f"{user.label:40} {last_seen:10} {user.credits:>10,.1f}")
    click.echo(f"{len(users)} unmatched. Fix with: codexbot org alias CODEX_EMAIL EMPLOYEE_EMAIL")


# ---------------------------------------------------------------------------- connect, sync


@cli.command()
@click.option("--workspace", "workspace_id", required=True, help="ChatGPT Workspace ID (UUID).")
@pass_context
def connect(context: Context, workspace_id: str) -> None:
    """Validate and store the Codex connection (key from CODEX_API_KEY or a prompt)."""
    settings = context.settings
    try:
        workspace_id = parse_workspace_id(workspace_id)
    except InvalidWorkspaceIdError as exc:
        raise click.BadParameter(words(exc), param_hint="--workspace") from None
    api_key = settings.codex.api_key or click.prompt("Platform API key", hide_input=True)
    context.open_database()
    validate_connection(
        settings.codex.api_base_url,
        api_key,
        workspace_id,
        timeout_seconds=settings.codex.timeout_seconds,
        max_attempts=2,
    )
    info = store_connection(workspace_id, api_key, settings.security.secret_key, "cli")
    click.echo(f"Connected workspace {info.workspace_id} with key …{info.key_last4}.")


@cli.command()
@click.option(
    "--forget",
    is_flag=True,
    help="Also delete the workspace's usage, days synced and sync runs (asks first).",
)
@click.option("--yes", is_flag=True, help="With --forget: do not ask.")
@pass_context
def disconnect(context: Context, forget: bool, yes: bool) -> None:
    """Delete the stored API key; the usage history stays unless --forget."""
    from sync.codex.connection import disconnect_and_forget, remove_connection
    from sync.store.workspaces import current_workspace_id, usage_held

    context.open_database()
    if not forget:
        removed = remove_connection()
        notice = Notice("disconnected" if removed else "nothing_to_disconnect")
        click.echo(words(notice))
        return
    workspace_id = current_workspace_id()
    if workspace_id is None:
        click.echo(words(Notice("nothing_to_disconnect")))
        return
    rows, days = usage_held(workspace_id)
    if not yes:
        click.confirm(
            f"Delete all {rows:,} usage rows ({days} days) of workspace {workspace_id}?",
            abort=True,
        )
    forgotten = disconnect_and_forget(workspace_id)
    click.echo(words(Notice("forgotten", {"workspace_id": workspace_id, **forgotten})))


@cli.command()
@pass_context
def status(context: Context) -> None:
    """The connection, the last sync (and what it rejected), gaps, the next sync."""
    from sync.reports.answers import status_now

    context.open_database()
    click.echo(render("status.txt.j2", status=status_now(context.settings)), nl=False)


@cli.group("db")
def db_group() -> None:
    """The database's schema: its version, and upgrading it."""


@db_group.command("status")
@pass_context
def db_status(context: Context) -> None:
    """Print the schema version and the migrations still to apply (changes nothing)."""
    from sync.store.database import connect_database, schema_state

    state = schema_state(connect_database(context.settings.database.url))
    click.echo(render("schema_status.txt.j2", state=state), nl=False)


@db_group.command("upgrade")
@pass_context
def db_upgrade(context: Context) -> None:
    """Apply the pending migrations, under a lock other replicas wait on."""
    from sync.store.database import connect_database, migrate, schema_state

    db = connect_database(context.settings.database.url)
    before = schema_state(db)
    migrate(db)
    click.echo(render("schema_status.txt.j2", state=schema_state(db), before=before), nl=False)


@db_group.command("copy")
@click.option("--to", "target_url", required=True, help="The empty, migrated database to fill.")
@pass_context
def db_copy(context: Context, target_url: str) -> None:
    """Copy everything to another database (SQLite to PostgreSQL, say), history included.

    Make the target first with `DATABASE_URL=<target> codexbot db upgrade`, and stop
    codexbot while it copies.
    """
    from sync.store.copy import copy_database, rows_to_copy
    from sync.store.database import connect_unbound

    source = context.open_database()
    target = connect_unbound(target_url)
    with click.progressbar(
        length=rows_to_copy(source), label="Copying rows", file=sys.stderr
    ) as bar:
        copied = copy_database(source, target, bar.update)
    click.echo(render("copy_summary.txt.j2", copied=copied), nl=False)


@cli.command("rotate-secret")
@pass_context
def rotate_secret_command(context: Context) -> None:
    """Re-encrypt the stored API key under a new CODEXBOT_SECRET_KEY.

    Set CODEXBOT_SECRET_KEY to the new secret; the old one comes from
    CODEXBOT_OLD_SECRET_KEY or a prompt.
    """
    from sync.codex.connection import rotate_secret

    old_secret = os.environ.get("CODEXBOT_OLD_SECRET_KEY") or click.prompt(
        "Old CODEXBOT_SECRET_KEY", hide_input=True
    )
    context.open_database()
    info = rotate_secret(old_secret, context.settings.security.secret_key)
    click.echo(f"The key ending in …{info.key_last4} is now encrypted under the new secret.")


@cli.command("sync")
@click.option(
    "--days", type=click.IntRange(1, API_HISTORY_DAYS), help="Days to re-read, today included."
)
@pass_context
def sync_command(context: Context, days: int | None) -> None:
    """Run one sync now: a backfill the first time, then the trailing window."""
    from bot.cli.console import run_sync_with_progress, sync_summary
    from sync.ingest.job import SyncFailedError
    from sync.org.source import source_state

    context.open_database()
    try:
        run = run_sync_with_progress(context.settings, days)
    except SyncFailedError as exc:
        raise click.ClickException(
            f"sync stopped: {words(exc)} ({exc.run.rows} rows stored before it stopped are kept)"
        ) from None
    source = context.settings.org.source
    click.echo(sync_summary(run, source_state(source) if source else None), nl=False)


# ---------------------------------------------------------------------------- answers


@cli.command()
@click.argument("email")
@click.option("--as", "viewer_email", required=True, help="Who is asking (access is checked).")
@click.option(
    "--days",
    type=click.Choice([str(days) for days in STATS_PERIOD_DAYS]),
    default=str(STATS_PERIOD_DAYS[0]),
    show_default=True,
)
@pass_context
def stats(context: Context, email: str, viewer_email: str, days: str) -> None:
    """Print EMAIL's Codex usage, as VIEWER_EMAIL is allowed to see it."""
    from sync.reports.answers import ask_stats_by_email

    context.open_database()
    admin_emails = AccessPolicy.from_settings(context.settings)
    answer = ask_stats_by_email(viewer_email, email, int(days), utc_today(), admin_emails)
    if answer is None:
        raise click.ClickException(f"{viewer_email} may not see stats for {email}.")
    click.echo(render("stats.txt.j2", answer=answer), nl=False)


@cli.command()
@click.option("--as", "viewer_email", required=True, help="Who is asking (access is checked).")
@click.option("--manager", "manager_email", help="That manager's reporting line (default: yours).")
@click.option("--org", "whole_organisation", is_flag=True, help="The whole organisation.")
@click.option(
    "--days",
    type=click.Choice([str(days) for days in STATS_PERIOD_DAYS]),
    default=str(STATS_PERIOD_DAYS[1]),
    show_default=True,
)
@pass_context
def adoption(
    context: Context,
    viewer_email: str,
    manager_email: str | None,
    whole_organisation: bool,
    days: str,
) -> None:
    """Print how a reporting line (or the organisation) adopts Codex, as VIEWER_EMAIL may
    see it: `/codex adoption`'s figures."""
    from sync.org.access import Viewer
    from sync.org.directory import find_employee
    from sync.reports.adoption import ask_adoption
    from sync.reports.answers import last_days_of

    if manager_email and whole_organisation:
        raise click.UsageError("give --manager or --org, not both")
    context.open_database()
    viewer = Viewer(find_employee(viewer_email), viewer_email)
    answer = ask_adoption(
        viewer,
        last_days_of(viewer, int(days), context.settings.digest.timezone),  # as in Slack
        context.settings.adoption,
        AccessPolicy.from_settings(context.settings),
        (lambda: find_employee(manager_email)) if manager_email else None,
        whole_organisation=whole_organisation,
    )
    if isinstance(answer, Notice):
        raise click.ClickException(words(answer))
    click.echo(render("adoption.txt.j2", adoption=answer), nl=False)


@cli.command("export")
@click.argument("target", required=False)
@click.option("--as", "viewer_email", required=True, help="Who is asking (access is checked).")
@click.option(
    "--team",
    "whole_team",
    is_flag=True,
    help="Everyone below VIEWER_EMAIL (for an admin with nobody below them: everyone).",
)
@click.option(
    "--all", "everyone", is_flag=True, help="Everyone in the directory (VIEWER_EMAIL: an admin)."
)
@click.option(
    "--days",
    type=click.Choice([str(days) for days in STATS_PERIOD_DAYS]),
    default=str(STATS_PERIOD_DAYS[0]),
    show_default=True,
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The CSV file to write; it appears only once complete.",
)
@pass_context
def export_command(
    context: Context,
    target: str | None,
    viewer_email: str,
    whole_team: bool,
    everyone: bool,
    days: str,
    out_path: Path,
) -> None:
    """Write Codex usage as CSV, one line per person, UTC day and surface, as VIEWER_EMAIL
    may see it: TARGET's (an email), everyone below them with --team, everyone with --all,
    else their own. Streamed, so any size; each person in it is logged as viewed by
    VIEWER_EMAIL. The same file `/codex export` sends to a DM."""
    from bot.exporting import write_export_file
    from sync.org.access import Viewer
    from sync.org.directory import find_employee
    from sync.reports.answers import last_days_of
    from sync.reports.exports import ask_export

    if (target is not None) + whole_team + everyone > 1:
        raise click.UsageError("Give one of TARGET, --team and --all.")
    context.open_database()
    viewer = Viewer(find_employee(viewer_email), viewer_email)
    export = ask_export(
        viewer,
        None if target is None else lambda: find_employee(target),
        last_days_of(viewer, int(days), context.settings.digest.timezone),  # as in Slack
        AccessPolicy.from_settings(context.settings),
        whole_team=whole_team,
        everyone=everyone,
    )
    if isinstance(export, Notice):
        raise click.ClickException(words(export))
    try:
        lines = write_export_file(export, out_path)
    except OSError as exc:  # a folder that is not there, a full disk: said, not a traceback
        raise click.ClickException(f"could not write {out_path}: {exc.strerror}") from None
    click.echo(render("export.txt.j2", export=export, lines=lines, path=out_path), nl=False)


@cli.group()
def digest() -> None:
    """1:1-prep digests for managers."""


@digest.command("preview")
@click.argument("manager_email")
@pass_context
def digest_preview(context: Context, manager_email: str) -> None:
    """Print MANAGER_EMAIL's digest of their direct reports now."""
    from sync.reports.answers import ask_digest_preview_by_email

    context.open_database()
    period_days = context.settings.digest.period_days
    policy = AccessPolicy.from_settings(context.settings)
    digest = ask_digest_preview_by_email(
        manager_email, utc_today(), period_days, policy, context.settings.adoption
    )
    if digest is None:
        raise click.ClickException(f"{manager_email} is not in the directory.")
    click.echo(render("digest.txt.j2", digest=digest), nl=False)


# ---------------------------------------------------------------------------- demo


def simulated_organisation_options(command: Callable) -> Callable:
    """--employees, --days and --seed: the simulated organisation `demo` and `try` run on."""
    options = (
        click.option(
            "--employees", default=200, show_default=True, type=click.IntRange(2, 100_000)
        ),
        click.option(
            "--days",
            default=API_HISTORY_DAYS,
            show_default=True,
            type=click.IntRange(1, API_HISTORY_DAYS),
        ),
        click.option("--seed", default=7, show_default=True, type=int),
    )
    for option in reversed(options):
        command = option(command)
    return command


@cli.command()
@simulated_organisation_options
@click.option(
    "--database",
    "database_url",
    default="sqlite:///demo.db",
    show_default=True,
    help="The demo's own database; a SQLite demo file is started afresh.",
)
@click.option(
    "--out",
    default="codexbot-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the Slack messages (Block Kit JSON) and charts (PNG) it would send go.",
)
@pass_context
def demo(
    context: Context, employees: int, days: int, seed: int, database_url: str, out: Path
) -> None:
    """Simulator, org import, connect, 90-day sync, a digest and a stats answer: no accounts.
    Also writes what Slack would show into --out, with a Block Kit Builder link for each."""
    from bot.cli.demo import run_demo

    run_demo(context.settings, database_url, employees=employees, days=days, seed=seed, out=out)

"""`codexbot run`: the Slack bot, with its scheduler, in Socket Mode or HTTP mode."""

from __future__ import annotations

import logging
import sys

import click

from bot.cli.commands import Context, cli, pass_context
from sync.store.database import connect_database, migrate, schema_state

log = logging.getLogger("codexbot")

# Seconds a thread may hold the GIL before another runnable one gets it (Python's default
# is 0.005); see run() for why the bot's is shorter.
ACK_FRIENDLY_SWITCH_INTERVAL = 0.001


@cli.command()
@click.option("--http", "http_mode", is_flag=True, help="HTTP mode even if SLACK_APP_TOKEN is set.")
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP mode: address to bind.")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535))
@pass_context
def run(context: Context, http_mode: bool, host: str, port: int) -> None:
    """Run the Slack bot: Socket Mode when SLACK_APP_TOKEN is set, else HTTP."""
    from bot.app import build_app
    from bot.scheduler import Scheduler
    from bot.scim_endpoint import SCIM_PATH, ScimEndpoint
    from bot.server import create_http_server, serve_socket_mode

    # Acknowledgements wait for the GIL behind the answer threads, which are CPU-bound in
    # a burst: at Python's default 5 ms switch interval an ack that needs the interpreter a
    # dozen times waits up to 5 ms x threads each time. 1 ms lets it through: in
    # bench/slack_load.py (SQLite, 8 workers) the acks' p100 went from 1.68-1.74 s (two
    # runs) to 0.41-1.43 s (three runs) and DM answers' p99 from 7.2-7.3 s to 4.8-6.1 s.
    sys.setswitchinterval(ACK_FRIENDLY_SWITCH_INTERVAL)
    settings = context.settings
    slack = settings.slack
    if not slack.bot_token:
        raise click.ClickException("SLACK_BOT_TOKEN is not set (slack.bot_token).")
    app_token = None if http_mode else slack.app_token
    if not app_token and not slack.signing_secret:
        raise click.ClickException(
            "HTTP mode needs SLACK_SIGNING_SECRET (slack.signing_secret) to verify requests."
        )
    db = connect_database(settings.database.url, settings.database.pool_size)
    if settings.database.auto_upgrade:
        migrate(db)
    else:
        # Served anyway: /healthz says 503 and why, Slack hears "temporarily unavailable",
        # and it all comes up by itself once `codexbot db upgrade` has run.
        state = schema_state(db)
        if state.current != state.needed:
            log.warning(
                "schema version %s, this codexbot needs %s: run `codexbot db upgrade`",
                state.current,
                state.needed,
            )
    app = build_app(settings)
    scheduler = Scheduler(settings, app.client)
    scheduler.start()
    log.info("scheduler started as %s", scheduler.holder)
    try:
        if app_token:
            log.info("codexbot running in Socket Mode")
            if settings.scim.bearer_token:
                log.warning("SCIM is served in HTTP mode only (codexbot run --http): not here")
            serve_socket_mode(app, app_token)
            return
        scim = ScimEndpoint(settings.scim.bearer_token, public_url=settings.scim.public_url)
        server = create_http_server(app, host, port, slack.max_body_bytes, scheduler, scim)
        log.info("codexbot listening on http://%s:%s/slack/events", host, port)
        if scim.enabled:
            log.info("SCIM provisioning at http://%s:%s%s", host, port, SCIM_PATH)
            if settings.scim.public_url:
                log.info("SCIM locations start with %s", settings.scim.public_url)
        server.run()
    finally:
        scheduler.stop()

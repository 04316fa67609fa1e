"""The first sync after `/codex connect`, run in the background and reported by DM."""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient

from bot.messages import render_message
from bot.slack import send_direct_message
from sync.codex.connection import ConnectionInfo
from sync.config import Settings
from sync.ingest.job import SyncAlreadyRunningError, SyncFailedError, run_sync
from sync.org.directory import matched_employee_ids_by_codex_user
from sync.store.models import database

log = logging.getLogger(__name__)


def start_first_sync(
    settings: Settings, client: WebClient, admin_user_id: str, info: ConnectionInfo
) -> threading.Thread:
    thread = threading.Thread(
        target=_confirm_and_sync,
        args=(settings, client, admin_user_id, info),
        name="codexbot-first-sync",
        daemon=True,
    )
    thread.start()
    return thread


def _confirm_and_sync(settings, client, admin_user_id, info) -> None:
    try:
        send_direct_message(
            client,
            admin_user_id,
            render_message(
                "notice",
                kind="connected",
                workspace_id=info.workspace_id,
                key_last4=info.key_last4,
            ),
        )
        run = run_sync(settings)
        matched = len(set(matched_employee_ids_by_codex_user().values()))
        send_direct_message(
            client, admin_user_id, render_message("sync_finished", run=run, matched=matched)
        )
    except (SyncFailedError, SyncAlreadyRunningError) as exc:
        send_direct_message(
            client, admin_user_id, render_message("notice", kind="sync_failed", error=str(exc))
        )
    except Exception:
        log.exception("the first sync after connecting failed")
        send_direct_message(
            client,
            admin_user_id,
            render_message(
                "notice", kind="sync_failed", error="codexbot hit an internal error (see its logs)."
            ),
        )
    finally:
        database.close()

"""The first sync after `/codex connect`, run in the background and reported by DM."""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient

from bot.messages import render_message
from bot.slack import send_direct_message
from sync.codex.connection import CodexConnectionError, ConnectionInfo
from sync.config import Settings
from sync.ingest.job import SyncAlreadyRunningError, SyncFailedError, run_sync
from sync.notices import Notice
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
                notice=Notice(
                    "connected", {"workspace_id": info.workspace_id, "key_last4": info.key_last4}
                ),
            ),
        )
        run = run_sync(settings)
        matched = len(set(matched_employee_ids_by_codex_user().values()))
        send_direct_message(
            client, admin_user_id, render_message("sync_finished", run=run, matched=matched)
        )
    except (SyncFailedError, SyncAlreadyRunningError, CodexConnectionError) as exc:
        _tell_sync_failed(client, admin_user_id, exc.notice)
    except Exception:
        log.exception("the first sync after connecting failed")
        _tell_sync_failed(client, admin_user_id, Notice("internal_error"))
    finally:
        database.close()


def _tell_sync_failed(client: WebClient, admin_user_id: str, error: Notice) -> None:
    failed = Notice("sync_failed", {"error": error})
    send_direct_message(client, admin_user_id, render_message("notice", notice=failed))

"""Deciding a `/codex connect` submission: who may, whether the pair works, what to say."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass

from bot.identity import SlackPerson
from sync.codex.client import (
    CodexApiError,
    InvalidApiKeyError,
    PlanAccessError,
    ServiceUnavailableError,
    WorkspaceNotFoundError,
    validate_connection,
)
from sync.codex.connection import (
    CodexConnectionError,
    ConnectionInfo,
    InvalidWorkspaceIdError,
    parse_workspace_id,
    store_connection,
)
from sync.config import Settings
from sync.notices import Notice

API_KEY_BLOCK = "api_key"
WORKSPACE_BLOCK = "workspace_id"
# The modal's submission must be acknowledged within 3 s, so the check against the Codex
# API gets one attempt and a hard deadline for the whole call (httpx's time-out is per phase).
VALIDATION_DEADLINE_SECONDS = 2.0
_validations = ThreadPoolExecutor(max_workers=4, thread_name_prefix="codex-validate")


@dataclass(frozen=True)
class ConnectOutcome:
    """Either what is wrong with each field (by block id), or the stored connection."""

    errors: dict[str, Notice] | None = None
    info: ConnectionInfo | None = None


def connect_from_modal(
    settings: Settings, person: SlackPerson, api_key: str, workspace_text: str
) -> ConnectOutcome:
    if not person.is_admin:
        return ConnectOutcome({API_KEY_BLOCK: Notice("admins_only", {"action": "connect"})})
    api_key = (api_key or "").strip()
    errors = {}
    if not api_key:
        errors[API_KEY_BLOCK] = Notice("paste_api_key")
    try:
        workspace_id = parse_workspace_id(workspace_text)
    except InvalidWorkspaceIdError as exc:
        errors[WORKSPACE_BLOCK] = exc.notice
    if errors:
        return ConnectOutcome(errors)
    if not settings.security.secret_key:
        return ConnectOutcome({API_KEY_BLOCK: Notice("no_secret_to_connect")})
    try:
        _validations.submit(
            validate_connection,
            settings.codex.api_base_url,
            api_key,
            workspace_id,
            timeout_seconds=VALIDATION_DEADLINE_SECONDS,
            max_attempts=1,
        ).result(timeout=VALIDATION_DEADLINE_SECONDS)
        info = store_connection(
            workspace_id,
            api_key,
            settings.security.secret_key,
            person.email or person.slack_user_id,
        )
    except InvalidApiKeyError as exc:
        return ConnectOutcome({API_KEY_BLOCK: exc.notice})
    except (ServiceUnavailableError, FutureTimeoutError):
        return ConnectOutcome({API_KEY_BLOCK: Notice("validation_timed_out")})
    except (PlanAccessError, WorkspaceNotFoundError, CodexApiError) as exc:
        return ConnectOutcome({WORKSPACE_BLOCK: exc.notice})
    except CodexConnectionError as exc:
        return ConnectOutcome({API_KEY_BLOCK: exc.notice})
    return ConnectOutcome(info=info)

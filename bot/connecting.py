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
    parse_workspace_id,
    store_connection,
)
from sync.config import Settings

API_KEY_BLOCK = "api_key"
WORKSPACE_BLOCK = "workspace_id"
# The modal's submission must be acknowledged within 3 s, so the check against the Codex
# API gets one attempt and a hard deadline for the whole call (httpx's time-out is per phase).
VALIDATION_DEADLINE_SECONDS = 2.0
_validations = ThreadPoolExecutor(max_workers=4, thread_name_prefix="codex-validate")


@dataclass(frozen=True)
class ConnectOutcome:
    errors: dict[str, str] | None = None
    info: ConnectionInfo | None = None


def connect_from_modal(
    settings: Settings, person: SlackPerson, api_key: str, workspace_text: str
) -> ConnectOutcome:
    if not person.is_admin:
        return ConnectOutcome({API_KEY_BLOCK: "Only codexbot admins can connect Codex."})
    api_key = (api_key or "").strip()
    errors = {}
    if not api_key:
        errors[API_KEY_BLOCK] = "Paste the Platform API key."
    try:
        workspace_id = parse_workspace_id(workspace_text)
    except ValueError as exc:
        errors[WORKSPACE_BLOCK] = str(exc)
    if errors:
        return ConnectOutcome(errors)
    if not settings.security.secret_key:
        return ConnectOutcome(
            {
                API_KEY_BLOCK: "codexbot has no CODEXBOT_SECRET_KEY to encrypt the key with. "
                "Ask whoever runs codexbot to set it, then try again."
            }
        )
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
        return ConnectOutcome({API_KEY_BLOCK: _field_message(exc)})
    except (ServiceUnavailableError, FutureTimeoutError):
        return ConnectOutcome(
            {API_KEY_BLOCK: "Couldn't reach the Codex analytics service in time. Try again soon."}
        )
    except (PlanAccessError, WorkspaceNotFoundError, CodexApiError) as exc:
        return ConnectOutcome({WORKSPACE_BLOCK: _field_message(exc)})
    except CodexConnectionError as exc:
        return ConnectOutcome({API_KEY_BLOCK: _field_message(exc)})
    return ConnectOutcome(info=info)


def _field_message(exc: Exception) -> str:
    # Slack shows at most 150 characters under a field.
    text = str(exc)
    return text if len(text) <= 150 else text[:149] + "…"

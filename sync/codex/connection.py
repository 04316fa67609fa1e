"""The workspace's one Codex connection: workspace ID plus the API key, encrypted at rest.

The key is encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under CODEXBOT_SECRET_KEY;
only its last four characters are ever shown.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from sync.clock import utc_timestamp
from sync.notices import Notice, Problem
from sync.store.models import Connection, database
from sync.store.workspaces import forget_workspace, note_connected


class CodexConnectionError(Problem):
    """A connection problem, worded by templates/_notices.j2; never carries the key."""


class MissingSecretKeyError(CodexConnectionError):
    kind = "missing_secret_key"


class InvalidSecretKeyError(CodexConnectionError):
    kind = "invalid_secret_key"


class EmptyApiKeyError(CodexConnectionError):
    kind = "empty_api_key"


class NotConnectedError(CodexConnectionError):
    kind = "not_connected"


class UndecryptableKeyError(CodexConnectionError):
    kind = "undecryptable_key"


class WrongOldSecretError(CodexConnectionError):
    kind = "wrong_old_secret"


class InvalidWorkspaceIdError(CodexConnectionError, ValueError):
    kind = "workspace_id_not_uuid"


@dataclass(frozen=True)
class ConnectionInfo:
    """What may be shown about a connection: never the key itself."""

    workspace_id: str
    key_last4: str
    connected_at: dt.datetime
    connected_by: str | None
    # Why scheduled syncs are paused until someone reconnects, if they are.
    sync_paused_because: Notice | None = None


def parse_workspace_id(text: str) -> str:
    """The canonical form of a ChatGPT Workspace ID, or InvalidWorkspaceIdError."""
    cleaned = (text or "").strip()
    try:
        return str(uuid.UUID(cleaned))
    except ValueError:
        raise InvalidWorkspaceIdError() from None


def key_last4(api_key: str) -> str:
    return api_key[-4:] if len(api_key) >= 8 else "****"


def _fernet(secret_key: str | None) -> Fernet:
    if not secret_key:
        raise MissingSecretKeyError()
    try:
        return Fernet(secret_key.encode() if isinstance(secret_key, str) else secret_key)
    except (ValueError, TypeError):
        raise InvalidSecretKeyError() from None


def store_connection(
    workspace_id: str, api_key: str, secret_key: str | None, connected_by: str | None = None
) -> ConnectionInfo:
    """Replace the stored connection. Validate against the API before calling this."""
    workspace_id = parse_workspace_id(workspace_id)
    api_key = api_key.strip()
    if not api_key:
        raise EmptyApiKeyError()
    token = _fernet(secret_key).encrypt(api_key.encode()).decode()
    now = utc_timestamp()
    with database.atomic():
        Connection.delete().execute()
        note_connected(workspace_id, now)
        row = Connection.create(
            id=1,
            workspace_id=workspace_id,
            api_key_encrypted=token,
            key_last4=key_last4(api_key),
            connected_at=now,
            connected_by=connected_by,
        )
        return _info(row)


def connection_info() -> ConnectionInfo | None:
    row = Connection.get_or_none(Connection.id == 1)
    return None if row is None else _info(row)


def _info(row: Connection) -> ConnectionInfo:
    return ConnectionInfo(
        row.workspace_id,
        row.key_last4,
        row.connected_at,
        row.connected_by,
        Notice.from_stored(row.sync_paused_reason),
    )


def load_api_key(secret_key: str | None) -> tuple[str, str]:
    """The stored (workspace_id, api_key), decrypted; raises if absent or undecryptable."""
    row = Connection.get_or_none(Connection.id == 1)
    if row is None:
        raise NotConnectedError()
    try:
        api_key = _fernet(secret_key).decrypt(row.api_key_encrypted.encode()).decode()
    except InvalidToken:
        raise UndecryptableKeyError() from None
    return row.workspace_id, api_key


def rotate_secret(old_secret: str | None, new_secret: str | None) -> ConnectionInfo:
    """Re-encrypt the stored key under `new_secret`, in one transaction. A wrong
    `old_secret` raises and changes nothing."""
    old, new = _fernet(old_secret), _fernet(new_secret)
    with database.atomic():
        row = Connection.get_or_none(Connection.id == 1)
        if row is None:
            raise NotConnectedError()
        try:
            # MultiFernet decrypts with any listed key and re-encrypts with the first.
            token = MultiFernet([new, old]).rotate(row.api_key_encrypted.encode())
            old.decrypt(row.api_key_encrypted.encode())
        except InvalidToken:
            raise WrongOldSecretError() from None
        Connection.update(api_key_encrypted=token.decode()).where(Connection.id == 1).execute()
    return _info(row)


def remove_connection() -> bool:
    """Forget the key; the usage history stays."""
    return Connection.delete().execute() > 0


def disconnect_and_forget(workspace_id: str) -> dict[str, int | bool]:
    """Delete the connection if it is to `workspace_id`, and all of that workspace's
    usage, in one transaction."""
    with database.atomic():
        disconnected = (
            Connection.delete().where(Connection.workspace_id == workspace_id).execute() > 0
        )
        rows = forget_workspace(workspace_id)
    return {"disconnected": disconnected, "usage_rows": rows}

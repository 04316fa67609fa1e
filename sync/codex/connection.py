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
from sync.store.models import Connection, database

HOW_TO_MAKE_A_SECRET = (
    "Set CODEXBOT_SECRET_KEY to a Fernet key, made with: "
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class CodexConnectionError(Exception):
    """A connection problem worded for an admin; never contains the key."""


class MissingSecretKeyError(CodexConnectionError):
    def __init__(self) -> None:
        super().__init__(f"No secret key to encrypt the API key with. {HOW_TO_MAKE_A_SECRET}")


class NotConnectedError(CodexConnectionError):
    def __init__(self) -> None:
        super().__init__("Codex is not connected yet: run `codexbot connect` or `/codex connect`.")


@dataclass(frozen=True)
class ConnectionInfo:
    """What may be shown about a connection: never the key itself."""

    workspace_id: str
    key_last4: str
    connected_at: dt.datetime
    connected_by: str | None
    sync_paused_reason: str | None = None


def parse_workspace_id(text: str) -> str:
    """The canonical form of a ChatGPT Workspace ID, or ValueError with a readable reason."""
    cleaned = (text or "").strip()
    try:
        return str(uuid.UUID(cleaned))
    except ValueError:
        raise ValueError(
            "A Workspace ID is a UUID like 123e4567-e89b-12d3-a456-426614174000 "
            "(ChatGPT Admin console > Settings)."
        ) from None


def key_last4(api_key: str) -> str:
    return api_key[-4:] if len(api_key) >= 8 else "****"


def _fernet(secret_key: str | None) -> Fernet:
    if not secret_key:
        raise MissingSecretKeyError()
    try:
        return Fernet(secret_key.encode() if isinstance(secret_key, str) else secret_key)
    except (ValueError, TypeError):
        raise CodexConnectionError(
            f"CODEXBOT_SECRET_KEY is not a valid Fernet key. {HOW_TO_MAKE_A_SECRET}"
        ) from None


def store_connection(
    workspace_id: str, api_key: str, secret_key: str | None, connected_by: str | None = None
) -> ConnectionInfo:
    """Replace the stored connection. Validate against the API before calling this."""
    workspace_id = parse_workspace_id(workspace_id)
    api_key = api_key.strip()
    if not api_key:
        raise CodexConnectionError("The API key is empty.")
    token = _fernet(secret_key).encrypt(api_key.encode()).decode()
    values = {
        "workspace_id": workspace_id,
        "api_key_encrypted": token,
        "key_last4": key_last4(api_key),
        "connected_at": utc_timestamp(),
        "connected_by": connected_by,
        "active": True,
    }
    with database.atomic():
        Connection.delete().execute()
        Connection.create(id=1, **values)
    return connection_info()


def connection_info() -> ConnectionInfo | None:
    row = Connection.get_or_none(Connection.id == 1)
    if row is None:
        return None
    return ConnectionInfo(
        row.workspace_id,
        row.key_last4,
        row.connected_at,
        row.connected_by,
        row.sync_paused_reason,
    )


def load_api_key(secret_key: str | None) -> tuple[str, str]:
    """The stored (workspace_id, api_key), decrypted; raises if absent or undecryptable."""
    row = Connection.get_or_none(Connection.id == 1)
    if row is None:
        raise NotConnectedError()
    try:
        api_key = _fernet(secret_key).decrypt(row.api_key_encrypted.encode()).decode()
    except InvalidToken:
        raise CodexConnectionError(
            "The stored API key cannot be decrypted with this CODEXBOT_SECRET_KEY: "
            "use the secret it was stored with, or connect again."
        ) from None
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
            raise CodexConnectionError(
                "The old secret does not decrypt the stored API key; nothing was changed."
            ) from None
        Connection.update(api_key_encrypted=token.decode()).where(Connection.id == 1).execute()
    return connection_info()


def remove_connection() -> bool:
    """Forget the key; the usage history stays."""
    return Connection.delete().execute() > 0

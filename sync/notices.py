"""Sentences as values: a kind and the details that fill it in.

Every refusal, confirmation and problem codexbot tells someone is a `Notice`; its words
live in templates/_notices.j2, for whichever surface shows it (Slack, the CLI). An error
a person must understand (a rejected key, an unreachable service, a missing secret) is
raised as a `Problem`, which carries its notice. A notice can be stored, as why a sync
failed or why syncing is paused, and worded when someone reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Notice:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def stored(self) -> str:
        return json.dumps({"kind": self.kind, "params": self.params}, sort_keys=True)

    @classmethod
    def from_stored(cls, value: str | None) -> Notice | None:
        """The notice `stored()` wrote; a plain sentence stored by an older codexbot
        comes back as kind "text"."""
        if not value:
            return None
        try:
            data = json.loads(value)
            return cls(str(data["kind"]), dict(data.get("params") or {}))
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls("text", {"text": value})


class Problem(Exception):
    """Base of every error whose sentence people read. `str()` is for logs: the kind and
    its details, never a secret."""

    kind = "internal_error"

    def __init__(self, **params: Any) -> None:
        self.params = params
        details = ", ".join(f"{key}={value!r}" for key, value in params.items())
        super().__init__(f"{self.kind} ({details})" if details else self.kind)

    @property
    def notice(self) -> Notice:
        return Notice(self.kind, self.params)

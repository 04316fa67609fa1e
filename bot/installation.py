"""Where codexbot is installed, learned from `auth.test` at start: the trust boundary.

A workspace install admits its own Slack team only; an Enterprise Grid org-wide install
admits every workspace of its enterprise. Requests from anywhere else (a Slack Connect
channel, another organisation) are refused with one neutral sentence and nothing looked
up, and a Slack profile from elsewhere is never matched to an employee, linked, or made
an admin, whatever its email or `is_stranger` says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Installation:
    team_id: str
    enterprise_id: str | None = None
    enterprise_install: bool = False

    @classmethod
    def from_auth_test(cls, answer: Mapping[str, Any]) -> Installation:
        return cls(
            team_id=str(answer.get("team_id") or ""),
            enterprise_id=answer.get("enterprise_id") or None,
            enterprise_install=bool(answer.get("is_enterprise_install")),
        )

    def admits(self, team_ids: Iterable[str | None], enterprise_ids: Iterable[str | None]) -> bool:
        """Whether every team (or, org-wide, every enterprise) named is this one."""
        if self.enterprise_install:
            return all(e in (None, "", self.enterprise_id) for e in enterprise_ids)
        return all(t in (None, "", self.team_id) for t in team_ids)

    def admits_request(self, body: Mapping[str, Any]) -> bool:
        """Whether a request comes from inside: every team and enterprise it names, for
        the request, its user and its event, is this installation's."""
        team, user = _dict(body.get("team")), _dict(body.get("user"))
        enterprise, event = _dict(body.get("enterprise")), _dict(body.get("event"))
        return self.admits(
            [
                body.get("team_id"),
                body.get("user_team"),
                team.get("id"),
                user.get("team_id"),
                event.get("user_team"),
                event.get("source_team"),
                _dict(event.get("user_profile")).get("team"),
            ],
            [
                body.get("enterprise_id"),
                enterprise.get("id"),
                user.get("enterprise_id"),
                _dict(event.get("enterprise")).get("id"),
            ],
        )

    def admits_user(self, user: Mapping[str, Any]) -> bool:
        """Whether a users.info profile belongs here."""
        enterprise = _dict(user.get("enterprise_user")).get("enterprise_id")
        return self.admits([user.get("team_id")], [enterprise])


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}

"""Talking to codexbot's SCIM endpoint as identity providers do: the bot served in HTTP
mode with SCIM on, an httpx client holding the bearer token, and request bodies shaped
as Okta and Entra ID send them (from their documentation)."""

from __future__ import annotations

import contextlib

import httpx
from slack_requests import running_bot

from bot.scim_endpoint import ScimEndpoint

TOKEN = "scim-test-token-0123456789abcdef"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = "application/scim+json"


@contextlib.contextmanager
def scim_served(settings, slack, token: str | None = TOKEN, public_url: str | None = None):
    """(Slack sender, SCIM client) for the bot serving SCIM with `token` (None: off), its
    locations starting with `public_url` if given."""
    endpoint = ScimEndpoint(token, public_url=public_url)
    with running_bot(settings, slack, scim=endpoint) as sender:
        base = sender.url.removesuffix("/slack/events") + "/scim/v2"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as scim:
            yield sender, scim


def okta_user(email: str, given: str, family: str, manager_id: str | None = None) -> dict:
    """POST /Users as Okta sends it: a password and groups we ignore, Okta's own id."""
    body: dict = {
        "schemas": [USER] + ([ENTERPRISE] if manager_id else []),
        "userName": email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": f"00u{given.lower()}okta",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    if manager_id:
        body[ENTERPRISE] = {"manager": {"value": manager_id}, "department": "Engineering"}
    return body


def entra_user(email: str, given: str, family: str, nickname: str) -> dict:
    """POST /Users as Entra ID sends it: meta, a title and an employee number we ignore."""
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": nickname,
        "userName": email,
        "active": True,
        "addresses": [{"primary": True, "type": "work", "country": "DE"}],
        "displayName": f"{given} {family}",
        "emails": [{"primary": True, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "title": "Engineer",
        ENTERPRISE: {"employeeNumber": "4711", "department": "Research"},
    }


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}

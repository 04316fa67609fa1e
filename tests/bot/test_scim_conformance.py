"""scim2-tester, the python-scim project's RFC 7643/7644 checker, run against the live
endpoint over HTTP with scim2-client: every check that applies passes.

It learns the server from its discovery endpoints alone (no models given), then creates,
reads, lists, replaces, patches (add, remove, replace on every published attribute) and
deletes Users. One adjustment: it fills strings with UUIDs, and a userName here is the
person's email, so userNames it makes are `<uuid>@example.com`. Time zones it picks from
the canonicalValues /Schemas publishes.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter

import httpx2
import pytest
import scim2_tester.checkers.patch_add
import scim2_tester.checkers.patch_replace
import scim2_tester.filling
from cryptography.fernet import Fernet
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server
from scim_requests import TOKEN, scim_served
from slack_requests import bot_settings

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# (check, what it was about, result): every check scim2-tester 0.5 runs here.
EXPECTED = [
    ("service_provider_config_endpoint", "", "SUCCESS"),
    *[
        ("service_provider_config_endpoint_methods", m, "SUCCESS")
        for m in "POST PUT PATCH DELETE".split()
    ],
    ("query_all_resource_types", "", "SUCCESS"),
    ("query_resource_type_by_id", "", "SUCCESS"),
    ("resource_types_schema_validation", "", "SUCCESS"),
    ("access_invalid_resource_type", "", "SUCCESS"),
    *[("resource_types_endpoint_methods", m, "SUCCESS") for m in "POST PUT PATCH DELETE".split()],
    ("query_all_schemas", "", "SUCCESS"),
    ("access_schema_by_id", "User", "SUCCESS"),
    ("access_schema_by_id", "EnterpriseUser", "SUCCESS"),
    ("access_invalid_schema", "", "SUCCESS"),
    *[("schemas_endpoint_methods", m, "SUCCESS") for m in "POST PUT PATCH DELETE".split()],
    ("random_url", "", "SUCCESS"),
    ("object_creation", "", "SUCCESS"),
    ("object_query", "", "SUCCESS"),
    ("object_query_without_id", "", "SUCCESS"),
    # Once with `attributes`, once with `excludedAttributes`.
    *[("object_query_with_attributes", "", "SUCCESS")] * 2,
    *[("object_list_with_attributes", "", "SUCCESS")] * 2,
    # POST /.search at the root (several resource types at once): 501, as the RFC allows.
    ("search_with_attributes", "", "SKIPPED"),
    ("object_replacement", "", "SUCCESS"),
    ("object_deletion", "", "SUCCESS"),
    *[
        ("check_add_attribute", path, "SUCCESS")
        for path in ("externalId", "name", "displayName", "timezone", ENTERPRISE)
        + (f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager")
    ],
    *[
        ("check_remove_attribute", path, "SUCCESS")
        for path in ("externalId", "name", "displayName", "timezone", ENTERPRISE)
        + (f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager")
    ],
    *[
        ("check_replace_attribute", path, "SUCCESS")
        for path in ("externalId", "userName", "name", "displayName", "active", "timezone")
        + (ENTERPRISE, f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager")
    ],
]


@pytest.fixture
def settings(slack, simulator, db):
    return bot_settings(slack, simulator.base_url, Fernet.generate_key().decode())


@pytest.fixture
def email_user_names(monkeypatch):
    fill = scim2_tester.filling.generate_random_value

    def generate(context, path, mutability=None, required=None):
        value = fill(context, path, mutability, required)
        if value is not None and str(path).lower() == "username":
            return f"{uuid.uuid4()}@example.com"
        return value

    for module in (
        scim2_tester.filling,
        scim2_tester.checkers.patch_add,
        scim2_tester.checkers.patch_replace,
    ):
        monkeypatch.setattr(module, "generate_random_value", generate)


def subject(result) -> str:
    """What a check was about: an attribute, an HTTP method, a schema."""
    if isinstance(result.data, dict) and "urn" in result.data:
        return result.data["urn"]
    reason = result.reason or ""
    if result.title.endswith("_methods"):
        return reason.split(" ", 1)[0]
    if result.title == "access_schema_by_id":
        return "EnterpriseUser" if "extension:enterprise" in reason else "User"
    return ""


def test_scim2_tester_passes_every_check_that_applies(settings, slack, email_user_names):
    random.seed(13)  # the values it fills are random: a failure must be reproducible
    with scim_served(settings, slack) as (_, scim):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx2.Client(base_url=str(scim.base_url), headers=headers, timeout=10) as http:
            results = check_server(SyncSCIMClient(http))
    failed = [
        (result.title, result.reason)
        for result in results
        if result.status in (Status.ERROR, Status.CRITICAL)
    ]
    assert failed == []
    ran = Counter((result.title, subject(result), result.status.name) for result in results)
    assert ran == Counter(EXPECTED)

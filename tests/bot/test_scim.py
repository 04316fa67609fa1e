"""SCIM over real HTTP: Okta's and Entra ID's request sequences against the bot served in
HTTP mode, what deactivation does to the person's Slack answers and their manager's
team, refusals that change nothing and say why, and the endpoint's edges (token, body,
routes). On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from cryptography.fernet import Fernet
from scim_requests import (
    ENTERPRISE,
    SCIM_JSON,
    TOKEN,
    USER,
    entra_user,
    okta_user,
    patch,
    scim_served,
)
from slack_requests import bot_settings

from sync.clock import utc_today
from sync.org.access import Viewer, has_access, is_archived
from sync.org.directory import find_employee
from sync.org.history import ACTOR_SCIM, recent_changes
from sync.reports.answers import ask_team
from sync.reports.periods import Period
from sync.store.models import DirectoryChange, Employee

MANAGER = f"{ENTERPRISE}:manager"


@pytest.fixture
def settings(slack, simulator, db):
    return bot_settings(slack, simulator.base_url, Fernet.generate_key().decode())


@pytest.fixture
def served(settings, slack):
    with scim_served(settings, slack) as (sender, scim):
        yield sender, scim


@pytest.fixture
def scim(served):
    return served[1]


def directory() -> list[tuple]:
    """Everything SCIM may change, and the history: equal before and after a refusal."""
    people = Employee.select().order_by(Employee.id).tuples()
    return [list(people), DirectoryChange.select().count()]


def created(scim, body) -> dict:
    response = scim.post("/Users", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def refusal(response, status: int, scim_type: str | None) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == SCIM_JSON
    error = response.json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert error["status"] == str(status)
    assert error.get("scimType") == scim_type
    return error["detail"]


def stats_answer(sender, slack, user_id: str) -> str:
    before = len(slack.calls_to("response_url"))
    assert sender.command(user_id, "stats").status_code == 200
    return slack.wait_for("response_url", before + 1)[before].params["text"]


def test_the_okta_sequence_provisions_and_deactivation_takes_access_at_once(served, slack):
    sender, scim = served
    # Okta looks the person up first, then creates them.
    lookup = scim.get("/Users", params={"filter": 'userName eq "ada@example.com"'})
    assert lookup.status_code == 200
    assert lookup.headers["content-type"] == SCIM_JSON
    assert lookup.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }
    boss = created(scim, okta_user("Boss@Example.com", "Bea", "Boss"))
    other = created(scim, okta_user("otto@example.com", "Otto", "Other"))
    response = scim.post("/Users", json=okta_user("ada@example.com", "Ada", "Lovelace", boss["id"]))
    assert response.status_code == 201
    ada = response.json()
    assert response.headers["location"] == ada["meta"]["location"]
    assert ada["meta"]["location"].endswith(f"/scim/v2/Users/{ada['id']}")
    assert ada["userName"] == "ada@example.com" and ada["active"] is True
    assert ada["displayName"] == "Ada Lovelace"
    assert ada[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert boss["userName"] == "boss@example.com"  # lower-cased, as the directory keeps it
    found = scim.get("/Users", params={"filter": 'userName eq "ADA@example.com"'}).json()
    assert [user["id"] for user in found["Resources"]] == [ada["id"]]

    # Before: Ada asks for her stats in Slack and gets them.
    slack.add_user("UADA", "ada@example.com")
    assert stats_answer(sender, slack, "UADA").startswith("Codex usage for Ada Lovelace")

    # Okta moves her to another manager, then deactivates her.
    moved = scim.patch(
        f"/Users/{ada['id']}",
        json=patch({"op": "replace", "value": {ENTERPRISE: {"manager": {"value": other["id"]}}}}),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()[ENTERPRISE]["manager"]["value"] == other["id"]
    deactivated = scim.patch(
        f"/Users/{ada['id']}", json=patch({"op": "replace", "value": {"active": False}})
    )
    assert deactivated.status_code == 200
    assert deactivated.json()["active"] is False

    person = find_employee("ada@example.com")
    assert person.archived_on == utc_today() and not has_access(person)
    # Her next Slack request sees nothing.
    assert stats_answer(sender, slack, "UADA").startswith("I can't show Codex stats")
    # Her manager's team keeps her history, and no longer counts her as active.
    team = ask_team(Viewer(find_employee("otto@example.com")), Period.ending_before(utc_today(), 7))
    (row,) = team.rows
    assert row.employee.email == "ada@example.com" and is_archived(row.employee)
    # Still known to Okta, as inactive.
    again = scim.get(f"/Users/{ada['id']}").json()
    assert again["active"] is False and again["userName"] == "ada@example.com"
    history = [(c.actor, c.action, c.subject) for c in reversed(recent_changes())]
    assert history == [
        (ACTOR_SCIM, "created", "boss@example.com"),
        (ACTOR_SCIM, "created", "otto@example.com"),
        (ACTOR_SCIM, "created", "ada@example.com"),
        (ACTOR_SCIM, "manager changed", "ada@example.com"),
        (ACTOR_SCIM, "archived", "ada@example.com"),
    ]


def test_the_entra_sequence_with_its_own_filters_capitals_and_strings(served, slack):
    _, scim = served
    # Entra's "test connection" and its matching queries.
    probe = scim.get("/Users", params={"filter": 'userName eq "3b9a1f5c-0000-4c6e"'})
    assert probe.json()["totalResults"] == 0
    assert scim.get("/Users", params={"filter": 'externalId eq "ada"'}).json()["totalResults"] == 0
    boss = created(scim, entra_user("boss@example.com", "Bea", "Boss", "boss"))
    ada = created(scim, entra_user("ada@example.com", "Ada", "Lovelace", "ada"))
    assert ada[ENTERPRISE] == {"department": "Research"}  # employeeNumber is not kept
    assert "title" not in ada and "addresses" not in ada
    for query in (
        'externalId eq "ada"',
        'emails[type eq "work"].value eq "Ada@Example.com"',
        'userName eq "ada@example.com" and active eq true',
        'DisplayName eq "Ada Lovelace"',
    ):
        listed = scim.get("/Users", params={"filter": query}).json()
        assert [user["id"] for user in listed["Resources"]] == [ada["id"]], query

    # Entra links the manager in a PATCH of its own, by bare id, with a capitalised op.
    linked = scim.patch(
        f"/Users/{ada['id']}", json=patch({"op": "Add", "path": MANAGER, "value": boss["id"]})
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()[ENTERPRISE]["manager"]["value"] == boss["id"]
    changed = scim.patch(
        f"/Users/{ada['id']}",
        json=patch(
            {"op": "Replace", "path": "displayName", "value": "Ada King"},
            {"op": "Replace", "path": "name.familyName", "value": "King"},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Analytics"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ada@example.com"},
            {"op": "Add", "path": "title", "value": "Countess"},
        ),
    )
    assert changed.status_code == 200, changed.text
    person = find_employee("ada@example.com")
    assert (person.name, person.department, person.manager_id) == (
        "Ada King",
        "Analytics",
        int(boss["id"]),
    )
    # Soft delete: the string "False", as Entra sends it.
    off = scim.patch(
        f"/Users/{ada['id']}", json=patch({"op": "Replace", "path": "active", "value": "False"})
    )
    assert off.json()["active"] is False
    assert find_employee("ada@example.com").archived_on == utc_today()
    on = scim.patch(
        f"/Users/{ada['id']}", json=patch({"op": "Replace", "path": "active", "value": "True"})
    )
    assert on.json()["active"] is True and find_employee("ada@example.com").archived_on is None
    removed = scim.patch(f"/Users/{ada['id']}", json=patch({"op": "Remove", "path": MANAGER}))
    assert ENTERPRISE not in removed.json() or "manager" not in removed.json()[ENTERPRISE]

    # Hard delete: archived, history kept, and gone for SCIM (RFC 7644 §3.6).
    assert scim.delete(f"/Users/{ada['id']}").status_code == 204
    assert refusal(scim.get(f"/Users/{ada['id']}"), 404, None)
    assert (
        scim.get("/Users", params={"filter": 'userName eq "ada@example.com"'}).json()[
            "totalResults"
        ]
        == 0
    )
    assert refusal(scim.patch(f"/Users/{ada['id']}", json=patch()), 404, None)
    assert find_employee("ada@example.com").archived_on == utc_today()
    # Provisioned again later: the same person back, history and all.
    back = created(scim, entra_user("ada@example.com", "Ada", "King", "ada"))
    assert back["id"] == ada["id"] and back["active"] is True
    actions = [c.action for c in recent_changes(50) if c.subject == "ada@example.com"]
    assert actions[:3] == ["updated", "restored", "archived"] and actions[-1] == "created"


def test_deactivating_a_manager_keeps_their_team_under_them(served):
    _, scim = served
    boss = created(scim, okta_user("boss@example.com", "Bea", "Boss"))
    ada = created(scim, okta_user("ada@example.com", "Ada", "Lovelace", boss["id"]))
    scim.patch(f"/Users/{boss['id']}", json=patch({"op": "replace", "value": {"active": False}}))
    assert find_employee("ada@example.com").manager_id == int(boss["id"])
    still = scim.get(f"/Users/{ada['id']}").json()
    assert still[ENTERPRISE]["manager"]["value"] == boss["id"]


@pytest.fixture
def two(scim):
    """boss <- ada: Ada reports to Bea."""
    boss = created(scim, okta_user("boss@example.com", "Bea", "Boss"))
    ada = created(scim, okta_user("ada@example.com", "Ada", "Lovelace", boss["id"]))
    return boss, ada


@pytest.mark.parametrize(
    ("request_", "status", "scim_type", "says"),
    [
        pytest.param(
            lambda boss, ada: (
                "PATCH",
                f"/Users/{boss['id']}",
                patch({"op": "replace", "path": MANAGER, "value": {"value": ada["id"]}}),
            ),
            400,
            "invalidValue",
            "loop: boss@example.com -> ada@example.com -> boss@example.com",
            id="manager loop",
        ),
        pytest.param(
            lambda boss, ada: (
                "PUT",
                f"/Users/{boss['id']}",
                {**okta_user("boss@example.com", "Bea", "Boss", ada["id"]), "displayName": "X"},
            ),
            400,
            "invalidValue",
            "reporting line loop",
            id="manager loop by PUT",
        ),
        pytest.param(
            lambda boss, ada: (
                "PATCH",
                f"/Users/{ada['id']}",
                patch({"op": "replace", "path": MANAGER, "value": ada["id"]}),
            ),
            400,
            "invalidValue",
            "ada@example.com can't be their own manager",
            id="own manager",
        ),
        pytest.param(
            lambda boss, ada: (
                "POST",
                "/Users",
                okta_user("cleo@example.com", "Cleo", "New", manager_id="999"),
            ),
            400,
            "invalidValue",
            "Nobody with id 999",
            id="unknown manager",
        ),
        pytest.param(
            lambda boss, ada: ("POST", "/Users", okta_user("ADA@example.com", "Ada", "Again")),
            409,
            "uniqueness",
            "ada@example.com already belongs to someone else",
            id="duplicate userName",
        ),
        pytest.param(
            lambda boss, ada: (
                "PATCH",
                f"/Users/{ada['id']}",
                patch({"op": "replace", "path": "userName", "value": "boss@example.com"}),
            ),
            409,
            "uniqueness",
            "already belongs",
            id="userName taken by someone else",
        ),
        pytest.param(
            lambda boss, ada: (
                "PATCH",
                f"/Users/{ada['id']}",
                patch({"op": "replace", "path": "externalId", "value": "00ubeaokta"}),
            ),
            409,
            "uniqueness",
            "external id",
            id="externalId taken",
        ),
        pytest.param(
            lambda boss, ada: ("POST", "/Users", okta_user("not-an-email", "No", "Mail")),
            400,
            "invalidValue",
            "is not an email address",
            id="invalid email",
        ),
        pytest.param(
            lambda boss, ada: (
                "PATCH",
                f"/Users/{ada['id']}",
                patch({"op": "replace", "path": "timezone", "value": "Mars/Olympus_Mons"}),
            ),
            400,
            "invalidValue",
            "not an IANA time zone",
            id="unknown time zone",
        ),
        pytest.param(
            lambda boss, ada: (
                "POST",
                "/Users",
                {
                    **okta_user("cleo@corp.example", "Cleo", "New"),
                    "emails": [{"value": "cleo@example.com", "primary": True}],
                },
            ),
            400,
            "invalidValue",
            "differs from the userName",
            id="emails differ from userName",
        ),
        pytest.param(
            lambda boss, ada: (
                "PATCH",
                f"/Users/{ada['id']}",
                patch(
                    {"op": "Replace", "path": "displayName", "value": "Changed"},
                    {"op": "Replace", "path": MANAGER, "value": "12345"},
                ),
            ),
            400,
            "invalidValue",
            "Nobody with id 12345",
            id="a PATCH whose last operation fails",
        ),
        pytest.param(
            lambda boss, ada: (
                "POST",
                "/Users",
                {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x@y.z"},
            ),
            400,
            "invalidSyntax",
            "The request was refused",
            id="wrong schemas",
        ),
        pytest.param(
            lambda boss, ada: ("POST", "/Users", {"schemas": [USER], "active": True}),
            400,
            "invalidValue",
            "userName",
            id="no userName",
        ),
        pytest.param(
            lambda boss, ada: (
                "PATCH",
                f"/Users/{ada['id']}",
                {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]},
            ),
            400,
            "invalidValue",
            "operations",
            id="PATCH without operations",
        ),
        pytest.param(
            lambda boss, ada: (
                "PATCH",
                f"/Users/{ada['id']}",
                patch({"op": "remove", "path": "active"}),
            ),
            400,
            "invalidValue",
            "active can't be removed",
            id="active removed",
        ),
        pytest.param(
            lambda boss, ada: (
                "PATCH",
                f"/Users/{ada['id']}",
                patch({"op": "replace", "path": "displayName", "value": "x" * 300}),
            ),
            400,
            "invalidValue",
            "longer than 255 characters",
            id="name too long",
        ),
    ],
)
def test_a_refused_request_changes_nothing_and_says_why(
    scim, two, request_, status, scim_type, says
):
    method, path, body = request_(*two)
    before = directory()
    detail = refusal(scim.request(method, path, json=body), status, scim_type)
    assert says in detail
    assert directory() == before


@pytest.mark.parametrize(
    ("content", "status", "scim_type", "says"),
    [
        (b"{not json", 400, "invalidSyntax", "not a JSON object"),
        (b"[1, 2]", 400, "invalidSyntax", "not a JSON object"),
        (b"\xff\xfe", 400, "invalidSyntax", "not a JSON object"),
        (b'{"userName": "' + b"x" * 70_000 + b'"}', 413, None, "larger than 65,536 bytes"),
    ],
)
def test_bodies_that_are_not_one_json_object_or_too_large_are_refused(
    scim, content, status, scim_type, says
):
    before = directory()
    assert says in refusal(scim.post("/Users", content=content), status, scim_type)
    assert directory() == before


@pytest.mark.parametrize(
    "query",
    [
        'title eq "Engineer"',
        'userName sw "ada"',
        'userName eq "a" or not (active eq true)',
        "userName pr",
        'name.givenName eq "Ada"',
        'userName eq "unterminated',
    ],
)
def test_filters_it_does_not_answer_are_refused_as_invalid_filter(scim, two, query):
    detail = refusal(scim.get("/Users", params={"filter": query}), 400, "invalidFilter")
    assert "eq on userName" in detail


def test_pages_are_counted_from_one_and_capped(scim):
    Employee.insert_many(
        [(f"p{i:03d}@example.com", f"Person {i}") for i in range(205)],
        fields=[Employee.email, Employee.name],
    ).execute()
    page = scim.get("/Users", params={"startIndex": "3", "count": "2"}).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (205, 3, 2)
    assert [user["userName"] for user in page["Resources"]] == [
        "p002@example.com",
        "p003@example.com",
    ]
    capped = scim.get("/Users", params={"count": "1000"}).json()
    assert capped["itemsPerPage"] == 200 and capped["totalResults"] == 205
    counted = scim.get("/Users", params={"count": "0"}).json()
    assert counted["totalResults"] == 205 and counted["Resources"] == []
    past = scim.get("/Users", params={"startIndex": "300"}).json()
    assert past["itemsPerPage"] == 0 and past["Resources"] == []
    only = scim.get("/Users", params={"count": "1", "attributes": "userName"}).json()
    assert set(only["Resources"][0]) == {"schemas", "id", "userName"}
    assert refusal(scim.get("/Users", params={"count": "many"}), 400, "invalidValue")


def test_discovery_says_users_only(scim):
    config = scim.get("/ServiceProviderConfig").json()
    assert config["patch"] == {"supported": True}
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["bulk"]["supported"] is False and config["sort"] == {"supported": False}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = scim.get("/ResourceTypes").json()
    assert [t["name"] for t in types["Resources"]] == ["User"]
    assert types["Resources"][0]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    schemas = {s["id"]: s for s in scim.get("/Schemas").json()["Resources"]}
    assert set(schemas) == {USER, ENTERPRISE}
    attributes = {a["name"]: a for a in schemas[USER]["attributes"]}
    assert set(attributes) == {"userName", "name", "displayName", "emails", "active", "timezone"}
    assert attributes["emails"]["mutability"] == "readOnly"
    assert scim.get(f"/Schemas/{ENTERPRISE}").json()["id"] == ENTERPRISE
    assert scim.get("/ResourceTypes/User").json()["endpoint"] == "/Users"
    assert refusal(scim.get("/ResourceTypes/Group"), 404, None)
    detail = refusal(scim.get("/Groups"), 501, None)
    assert "Groups are not supported" in detail
    assert refusal(scim.post("/Groups", json={"displayName": "x"}), 501, None)
    assert refusal(scim.post("/Bulk", json={}), 501, None)
    assert refusal(scim.get("/Nothing"), 404, None)
    not_allowed = scim.post("/ServiceProviderConfig", json={})
    assert refusal(not_allowed, 405, None) and not_allowed.headers["allow"] == "GET"


def test_users_search_by_post(scim, two):
    _, ada = two
    found = scim.post(
        "/Users/.search",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "ada@example.com"',
            "attributes": ["userName"],
        },
    ).json()
    assert found["Resources"] == [{"schemas": [USER], "id": ada["id"], "userName": ada["userName"]}]


def test_without_a_token_configured_there_is_no_scim_endpoint(settings, slack):
    with scim_served(settings, slack, token=None) as (_, scim):
        for path in ("/Users", "/ServiceProviderConfig"):
            assert refusal(scim.get(path), 404, None)


def test_locations_come_from_the_request_unless_a_public_url_is_set(settings, slack):
    """Without `scim.public_url`, the locations follow the request's Host, over http:
    waitress drops X-Forwarded-Proto from a peer it does not trust, so a proxy that ends
    TLS cannot say https (and nobody else can make them say anything but the Host). With
    `scim.public_url`, they start with it, whatever the request's headers say."""
    behind_proxy = {"X-Forwarded-Proto": "https", "Host": "codexbot.example.com"}
    with scim_served(settings, slack) as (_, scim):
        ada = scim.post(
            "/Users", json=okta_user("ada@example.com", "Ada", "L"), headers=behind_proxy
        )
        assert ada.headers["location"] == (
            f"http://codexbot.example.com/scim/v2/Users/{ada.json()['id']}"
        )
    public = "https://people.example.org/codexbot/scim/v2"
    with scim_served(settings, slack, public_url=public) as (_, scim):
        forged = {"X-Forwarded-Proto": "http", "Host": "elsewhere.example.net"}
        bo = scim.post("/Users", json=okta_user("bo@example.com", "Bo", "B"), headers=forged)
        assert bo.status_code == 201
        location = f"{public}/Users/{bo.json()['id']}"
        assert bo.headers["location"] == bo.json()["meta"]["location"] == location
        listed = scim.get("/Users", headers=forged).json()["Resources"]
        assert {user["meta"]["location"].rsplit("/", 1)[0] for user in listed} == {
            f"{public}/Users"
        }


def test_a_missing_or_wrong_token_is_refused_and_neither_body_nor_token_is_logged(scim, caplog):
    caplog.set_level(logging.DEBUG)
    # peewee logs each query with its parameters at DEBUG (`codexbot -v`): not this code's.
    caplog.set_level(logging.INFO, logger="peewee")
    body = okta_user("secret.person@example.com", "Secret", "Person")
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong-token"}):
        response = scim.post("/Users", json=body, headers=headers)
        assert "bearer token is required" in refusal(response, 401, None)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert Employee.select().count() == 0
    assert scim.post("/Users", json=body).status_code == 201
    scim.get("/Users", params={"filter": 'userName eq "secret.person@example.com"'})
    # What the server side logged (the test's own httpx client logs its URLs).
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(record.getMessage() for record in server_side)
    assert "SCIM POST /Users: 201" in logged
    assert "secret.person" not in logged and TOKEN not in logged and "Secret" not in logged


def test_a_put_replaces_what_it_sends_and_keeps_the_manager_when_the_extension_is_left_out(
    scim, two
):
    boss, ada = two
    body = okta_user("ada@example.com", "Ada", "King")
    body["timezone"] = "Europe/London"
    replaced = scim.put(f"/Users/{ada['id']}", json=body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()[ENTERPRISE]["manager"]["value"] == boss["id"]
    person = find_employee("ada@example.com")
    assert (person.name, person.timezone, person.manager_id) == (
        "Ada King",
        "Europe/London",
        int(boss["id"]),
    )
    body[ENTERPRISE] = {"department": "Ops"}
    scim.put(f"/Users/{ada['id']}", json=body)
    assert find_employee("ada@example.com").manager_id is None  # sent without a manager
    assert scim.put("/Users/999", json=body).status_code == 404


def test_the_role_and_slack_link_are_not_scims_to_change(scim, two):
    _, ada = two
    person = find_employee("ada@example.com")
    person.role, person.slack_user_id = "admin", "UADA"
    person.save()
    body = {**okta_user("ada@example.com", "Ada", "L"), "roles": [{"value": "employee"}]}
    assert scim.put(f"/Users/{ada['id']}", json=body).status_code == 200
    person = find_employee("ada@example.com")
    assert (person.role, person.slack_user_id) == ("admin", "UADA")


def test_a_leaving_date_in_the_future_is_kept_while_the_provider_says_active(scim, two):
    _, ada = two
    later = utc_today() + dt.timedelta(days=10)
    Employee.update(archived_on=later).where(Employee.email == "ada@example.com").execute()
    body = okta_user("ada@example.com", "Ada", "Lovelace")
    assert scim.put(f"/Users/{ada['id']}", json=body).json()["active"] is True
    assert find_employee("ada@example.com").archived_on == later

"""The SCIM service without HTTP: how filters, PATCH operations and PUT bodies as Okta and
Entra ID send them map onto the directory, and how each refusal is answered."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest
from factories import person
from freezegun import freeze_time

import sync.org.provisioning
import sync.org.scim.filters
import sync.org.scim.reading
import sync.org.scim.service
from sync.notices import Problem
from sync.org.provisioning import PersonManagerUnknown, PersonNotFound, known_time_zones
from sync.org.scim.filters import InvalidFilter
from sync.org.scim.reading import ScimActiveRequired, ScimEmailsDiffer, ScimInvalidRequest
from sync.org.scim.service import ScimService, error_status
from sync.store.models import Employee

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def service():
    return ScimService("https://codexbot.example.com/scim/v2/", today=TODAY)


@pytest.fixture
def people(db):
    boss = person("boss@example.com", "Bea Boss")
    Employee.update(external_id="00uBOSS").where(Employee.id == boss.id).execute()
    ada = person("ada@example.com", "Ada Lovelace", manager=boss)
    gone = person("gone@example.com", "Gone", manager=boss, archived_on=TODAY)
    return {"boss": boss, "ada": ada, "gone": gone}


def found(service, query: str) -> list[str]:
    listed = service.list_users({"filter": query})
    assert listed["totalResults"] == len(listed["Resources"])
    return [user["userName"] for user in listed["Resources"]]


@pytest.mark.parametrize(
    ("query", "emails"),
    [
        ('userName eq "ADA@example.com"', ["ada@example.com"]),
        ('USERNAME Eq "ada@example.com"', ["ada@example.com"]),
        (f'{USER}:userName eq "ada@example.com"', ["ada@example.com"]),
        ('emails eq "ada@example.com"', ["ada@example.com"]),
        ('emails.value eq "ada@example.com"', ["ada@example.com"]),
        ('emails[type eq "work"].value eq "ada@example.com"', ["ada@example.com"]),
        ('emails[type eq "home"].value eq "ada@example.com"', []),
        ('emails[value eq "ada@example.com" and primary eq true]', ["ada@example.com"]),
        ('externalId eq "00uBOSS"', ["boss@example.com"]),
        ('externalId eq "00uboss"', []),  # externalId is case-exact
        ('displayName eq "Gone"', ["gone@example.com"]),
        ('name.formatted eq "Bea Boss"', ["boss@example.com"]),
        ("active eq false", ["gone@example.com"]),
        ('active eq true and userName eq "gone@example.com"', []),
        ('userName eq "ada@example.com" or userName eq "boss@example.com"', None),
        (f'{ENTERPRISE}:department eq "none"', []),
    ],
)
def test_filters_identity_providers_send_find_the_right_people(service, people, query, emails):
    if emails is None:
        emails = ["boss@example.com", "ada@example.com"]
    assert found(service, query) == emails


def test_filtering_by_id(service, people):
    assert found(service, f'id eq "{people["ada"].id}"') == ["ada@example.com"]
    assert found(service, 'id eq "abc"') == []


@pytest.mark.parametrize(
    "query",
    [
        'userName ne "ada@example.com"',
        'userName co "ada"',
        'not (userName eq "ada@example.com")',
        "externalId pr",
        'emails[type eq "work"].display eq "x"',
        'emails[display eq "x"]',
        "userName eq 3",
        'meta.lastModified gt "2026-01-01T00:00:00Z"',
        "userName eq",
    ],
)
def test_other_filters_are_refused_as_invalid(service, people, query):
    with pytest.raises(InvalidFilter) as refused:
        service.list_users({"filter": query})
    assert refused.value.params == {"filter": query}
    assert error_status(refused.value) == (400, "invalidFilter")


def ops(*operations):
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def test_the_name_is_whichever_of_its_forms_the_operations_changed(service, people):
    ada = str(people["ada"].id)
    service.patch_user(ada, ops({"op": "replace", "path": "name.formatted", "value": "A L"}), {})
    assert Employee.get_by_id(ada).name == "A L"
    changed = service.patch_user(
        ada,
        ops(
            {"op": "replace", "path": "name.givenName", "value": "Augusta"},
            {"op": "replace", "path": "name.familyName", "value": "King"},
        ),
        {},
    )
    assert Employee.get_by_id(ada).name == "Augusta King"
    assert changed["name"] == {"formatted": "Augusta King"}  # given/family are not kept
    service.patch_user(
        ada,
        ops(
            {"op": "replace", "path": "displayName", "value": "Ada"},
            {"op": "replace", "path": "name.formatted", "value": "ignored"},
        ),
        {},
    )
    assert Employee.get_by_id(ada).name == "Ada"
    service.patch_user(ada, ops({"op": "remove", "path": "displayName"}), {})
    assert Employee.get_by_id(ada).name == ""


def test_okta_replaces_without_a_path(service, people):
    ada, boss_id = str(people["ada"].id), people["boss"].id
    user = service.patch_user(
        ada,
        ops(
            {
                "op": "replace",
                "value": {
                    "active": False,
                    "displayName": "Ada L",
                    ENTERPRISE: {"department": "Engines"},
                },
            }
        ),
        {},
    )
    assert user["active"] is False and user["displayName"] == "Ada L"
    ada = Employee.get_by_id(ada)
    assert (ada.archived_on, ada.department, ada.manager_id) == (TODAY, "Engines", boss_id)


@pytest.mark.parametrize(
    "removal",
    [
        lambda manager_id: {
            "op": "Remove",
            "path": f'{ENTERPRISE}:manager[value eq "{manager_id}"]',
        },
        lambda manager_id: {"op": "Remove", "path": f'manager[value eq "{manager_id}"]'},
        lambda manager_id: {"op": "Remove", "path": f"{ENTERPRISE}:manager", "value": manager_id},
        lambda manager_id: {
            "op": "Remove",
            "path": f"{ENTERPRISE}:manager",
            "value": [{"value": manager_id}],
        },
    ],
)
def test_entra_sends_the_manager_as_a_bare_id_and_removes_it_by_naming_it(service, people, removal):
    ada, boss, gone = (str(people[k].id) for k in ("ada", "boss", "gone"))
    manager = f"{ENTERPRISE}:manager"
    service.patch_user(ada, ops({"op": "Replace", "path": manager, "value": gone}), {})
    assert Employee.get_by_id(ada).manager_id == int(gone)
    service.patch_user(ada, ops(removal(boss)), {})
    assert Employee.get_by_id(ada).manager_id == int(gone)  # not that manager: unchanged
    service.patch_user(
        ada, ops(removal(gone), {"op": "Replace", "path": "timezone", "value": "UTC"}), {}
    )
    assert (Employee.get_by_id(ada).manager_id, Employee.get_by_id(ada).timezone) == (None, "UTC")
    with pytest.raises(PersonManagerUnknown) as refused:
        service.patch_user(ada, ops({"op": "Add", "path": manager, "value": "not-an-id"}), {})
    assert error_status(refused.value) == (400, "invalidValue")


def test_emails_must_repeat_the_user_name(service, people):
    ada = str(people["ada"].id)
    work = 'emails[type eq "work"].value'
    with pytest.raises(ScimEmailsDiffer) as refused:
        service.patch_user(ada, ops({"op": "Add", "path": work, "value": "new@example.com"}), {})
    assert refused.value.params == {"email": "new@example.com", "user_name": "ada@example.com"}
    moved = service.patch_user(
        ada,
        ops(
            {"op": "Replace", "path": "userName", "value": "New@Example.com"},
            {"op": "Replace", "path": work, "value": "new@example.com"},
        ),
        {},
    )
    assert moved["userName"] == "new@example.com"
    assert moved["emails"] == [{"value": "new@example.com", "type": "work", "primary": True}]
    # userName alone moves the email too: emails follow it.
    service.patch_user(
        ada, ops({"op": "Replace", "path": "userName", "value": "x@example.com"}), {}
    )
    assert Employee.get_by_id(ada).email == "x@example.com"


def test_a_put_clears_what_it_leaves_out_but_not_active_or_an_absent_extension(service, people):
    ada = people["ada"]
    Employee.update(timezone="Europe/London", department="Engines").where(
        Employee.id == ada.id
    ).execute()
    user = service.replace_user(str(ada.id), {"schemas": [USER], "userName": "ada@example.com"})
    ada = Employee.get_by_id(ada.id)
    assert (ada.name, ada.timezone, ada.department, ada.manager_id, ada.archived_on) == (
        "",
        None,
        "Engines",
        people["boss"].id,
        None,
    )
    assert user["active"] is True


def test_meta_says_when_the_history_first_and_last_saw_the_person(service, people):
    untouched = service.get_user(str(people["boss"].id), {})
    assert set(untouched["meta"]) == {"resourceType", "location"}
    assert untouched["meta"]["location"] == (
        f"https://codexbot.example.com/scim/v2/Users/{people['boss'].id}"
    )
    with freeze_time("2026-11-20 08:00:00"):
        created, _ = service.create_user({"schemas": [USER], "userName": "new@example.com"})
    with freeze_time("2026-11-24 09:30:00"):
        service.patch_user(
            created["id"], ops({"op": "replace", "path": "timezone", "value": "UTC"}), {}
        )
    meta = service.get_user(created["id"], {})["meta"]
    assert (meta["created"], meta["lastModified"]) == (
        "2026-11-20T08:00:00Z",
        "2026-11-24T09:30:00Z",
    )


def test_ids_that_are_no_one_are_not_found(service, people):
    for user_id in ("999", "abc", "-1"):
        with pytest.raises(PersonNotFound):
            service.get_user(user_id, {})
    with pytest.raises(ScimActiveRequired):
        service.patch_user(str(people["ada"].id), ops({"op": "remove", "path": "active"}), {})


def test_payload_errors_keep_the_libraries_scim_type(service, people):
    with pytest.raises(ScimInvalidRequest) as refused:
        service.create_user({"schemas": [USER], "userName": "a@b.c", "active": "maybe"})
    assert error_status(refused.value) == (400, "invalidValue")
    assert "active" in refused.value.params["problem"]
    with pytest.raises(ScimInvalidRequest) as attributes:
        service.get_user(str(people["ada"].id), {"attributes": "a", "excludedAttributes": "b"})
    assert error_status(attributes.value)[0] == 400


def test_the_published_time_zones_are_the_accepted_ones(service):
    user = next(s for s in service.schemas()["Resources"] if s["id"] == USER)
    timezone = next(a for a in user["attributes"] if a["name"] == "timezone")
    assert set(timezone["canonicalValues"]) == known_time_zones()
    assert "Europe/Paris" in known_time_zones()


def test_every_refusal_has_a_status_that_is_not_a_server_error():
    problems = [
        cls
        for module in (
            sync.org.provisioning,
            sync.org.scim.filters,
            sync.org.scim.reading,
            sync.org.scim.service,
        )
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Problem) and cls is not Problem and cls.__module__ == module.__name__
    ]
    assert len(problems) >= 12
    for cls in problems:
        instance = cls(400, "invalidValue", "x") if cls is ScimInvalidRequest else cls()
        assert error_status(instance)[0] < 500, cls.__name__


def test_okta_may_name_the_manager_by_email(service, people):
    ada = str(people["ada"].id)
    manager = f"{ENTERPRISE}:manager"
    user = service.patch_user(
        ada, ops({"op": "replace", "path": manager, "value": {"value": "Gone@Example.com"}}), {}
    )
    assert user[ENTERPRISE]["manager"]["value"] == str(people["gone"].id)  # answered by id
    for unknown in ("nobody@example.com", "not-an-id"):
        with pytest.raises(PersonManagerUnknown):
            service.patch_user(ada, ops({"op": "replace", "path": manager, "value": unknown}), {})
    assert Employee.get_by_id(ada).manager_id == people["gone"].id

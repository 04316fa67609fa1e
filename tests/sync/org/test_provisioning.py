"""Provisioning: what an identity provider may do to the directory, each change checked
first and recorded in the same transaction; a refusal changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import person

from sync.org.history import ACTOR_SCIM, recent_changes
from sync.org.provisioning import (
    PersonEmailInvalid,
    PersonEmailTaken,
    PersonExternalIdTaken,
    PersonManagerLoop,
    PersonManagerUnknown,
    PersonNotFound,
    PersonTimeZoneUnknown,
    PersonValueTooLong,
    Provided,
    create_person,
    find_person,
    provided_of,
    remove_person,
    removed_where,
    update_person,
)
from sync.store.models import DirectoryChange, Employee

TODAY = dt.date(2026, 11, 25)


def history() -> list[tuple]:
    return [(c.actor, c.action, c.subject, c.detail) for c in reversed(recent_changes(100))]


def snapshot() -> list:
    return [
        list(Employee.select().order_by(Employee.id).tuples()),
        DirectoryChange.select().count(),
    ]


def test_creating_a_person_normalises_and_records_it(db):
    boss = person("boss@example.com")
    ada = create_person(
        Provided(
            email=" Ada@Example.COM ",
            name=" Ada Lovelace ",
            timezone="Europe/London",
            department="Engines",
            external_id="00uada",
            manager_id=boss.id,
        ),
        ACTOR_SCIM,
        TODAY,
    )
    assert provided_of(Employee.get_by_id(ada.id), TODAY) == Provided(
        "ada@example.com", "Ada Lovelace", "Europe/London", "Engines", "00uada", boss.id, True
    )
    assert history() == [
        (
            "scim",
            "created",
            "ada@example.com",
            {
                "name": "Ada Lovelace",
                "timezone": "Europe/London",
                "department": "Engines",
                "external_id": "00uada",
                "manager": "boss@example.com",
            },
        )
    ]


def test_someone_created_inactive_is_archived_from_that_day(db):
    ada = create_person(Provided("ada@example.com", active=False), ACTOR_SCIM, TODAY)
    assert ada.archived_on == TODAY
    assert history()[0][3] == {"archived_on": "2026-11-25"}


def test_each_kind_of_change_is_recorded_once(db):
    boss = person("boss@example.com")
    ada = person("ada@example.com", "Ada")
    update_person(
        ada.id,
        {
            "email": "ada.king@example.com",
            "name": "Ada King",
            "manager_id": boss.id,
            "active": False,
        },
        ACTOR_SCIM,
        TODAY,
    )
    assert history() == [
        (
            "scim",
            "updated",
            "ada.king@example.com",
            {
                "email": "ada.king@example.com",
                "name": "Ada King",
                "previous_email": "ada@example.com",
            },
        ),
        ("scim", "manager changed", "ada.king@example.com", {"manager": "boss@example.com"}),
        ("scim", "archived", "ada.king@example.com", {"archived_on": "2026-11-25"}),
    ]
    update_person(ada.id, {"active": True, "manager_id": None}, ACTOR_SCIM, TODAY)
    assert [c[1:] for c in history()[-2:]] == [
        ("manager changed", "ada.king@example.com", {"manager": None}),
        ("restored", "ada.king@example.com", {"archived_on": None}),
    ]
    assert Employee.get_by_id(ada.id).archived_on is None


def test_a_change_to_nothing_records_nothing(db):
    ada = person("ada@example.com", "Ada")
    update_person(ada.id, {"name": "Ada", "active": True}, ACTOR_SCIM, TODAY)
    assert history() == []


def test_an_archive_date_stays_while_the_provider_says_the_same(db):
    earlier = TODAY - dt.timedelta(days=30)
    later = TODAY + dt.timedelta(days=10)
    gone = person("gone@example.com", archived_on=earlier)
    leaving = person("leaving@example.com", archived_on=later)
    update_person(gone.id, {"active": False}, ACTOR_SCIM, TODAY)
    update_person(leaving.id, {"active": True}, ACTOR_SCIM, TODAY)
    assert Employee.get_by_id(gone.id).archived_on == earlier
    assert Employee.get_by_id(leaving.id).archived_on == later
    update_person(leaving.id, {"active": False}, ACTOR_SCIM, TODAY)  # leaves today instead
    assert Employee.get_by_id(leaving.id).archived_on == TODAY


@pytest.mark.parametrize(
    ("change", "problem", "params"),
    [
        ({"email": "not-an-email"}, PersonEmailInvalid, {"email": "not-an-email"}),
        ({"email": "BOSS@example.com"}, PersonEmailTaken, {"email": "boss@example.com"}),
        ({"external_id": "00uboss"}, PersonExternalIdTaken, {"external_id": "00uboss"}),
        ({"timezone": "Mars/Olympus"}, PersonTimeZoneUnknown, {"timezone": "Mars/Olympus"}),
        ({"manager_id": 9999}, PersonManagerUnknown, {"manager_id": 9999}),
        ({"department": "d" * 256}, PersonValueTooLong, {"field": "department", "limit": 255}),
    ],
)
def test_a_refused_change_changes_nothing(db, change, problem, params):
    boss = person("boss@example.com")
    Employee.update(external_id="00uboss").where(Employee.id == boss.id).execute()
    ada = person("ada@example.com", manager=boss)
    before = snapshot()
    with pytest.raises(problem) as refused:
        update_person(ada.id, {"name": "Changed", **change}, ACTOR_SCIM, TODAY)
    assert refused.value.params == params
    assert snapshot() == before


def test_a_manager_loop_is_refused_with_the_loop_and_changes_nothing(db):
    top = person("top@example.com")
    mid = person("mid@example.com", manager=top)
    low = person("low@example.com", manager=mid)
    before = snapshot()
    with pytest.raises(PersonManagerLoop) as refused:
        update_person(top.id, {"manager_id": low.id, "name": "Top"}, ACTOR_SCIM, TODAY)
    assert refused.value.params == {
        "chain": ["top@example.com", "low@example.com", "mid@example.com"]
    }
    with pytest.raises(PersonManagerLoop) as own:
        update_person(mid.id, {"manager_id": mid.id}, ACTOR_SCIM, TODAY)
    assert own.value.params == {"chain": ["mid@example.com"]}
    assert snapshot() == before


def test_a_loop_elsewhere_that_this_change_does_not_close_is_not_its_doing(db):
    a = person("a@example.com")
    b = person("b@example.com", manager=a)
    Employee.update(manager=b.id).where(Employee.id == a.id).execute()  # written by hand
    c = person("c@example.com")
    update_person(c.id, {"manager_id": a.id}, ACTOR_SCIM, TODAY)
    assert Employee.get_by_id(c.id).manager_id == a.id


def test_a_manager_the_provider_removed_stays_until_the_manager_changes(db):
    boss = person("boss@example.com")
    ada = person("ada@example.com", manager=boss)
    remove_person(boss.id, ACTOR_SCIM, TODAY)
    update_person(ada.id, {"name": "Ada"}, ACTOR_SCIM, TODAY)  # not refused for the manager
    other = person("other@example.com")
    with pytest.raises(PersonManagerUnknown):
        update_person(other.id, {"manager_id": boss.id}, ACTOR_SCIM, TODAY)


def test_a_removed_person_is_archived_and_gone_for_the_provider_until_created_again(db):
    boss = person("boss@example.com")
    ada = person("ada@example.com", "Ada", manager=boss)
    remove_person(ada.id, ACTOR_SCIM, TODAY)
    assert Employee.get_by_id(ada.id).archived_on == TODAY
    assert find_person(ada.id) is None
    assert [e.email for e in Employee.select().where(~removed_where())] == ["boss@example.com"]
    with pytest.raises(PersonNotFound):
        update_person(ada.id, {"name": "X"}, ACTOR_SCIM, TODAY)
    with pytest.raises(PersonNotFound):
        remove_person(ada.id, ACTOR_SCIM, TODAY)
    back = create_person(Provided("ADA@example.com", "Ada Again"), ACTOR_SCIM, TODAY)
    assert back.id == ada.id and back.archived_on is None and back.manager_id is None
    assert find_person(ada.id) is not None
    actions = [(c[1], c[3]) for c in history()]
    assert actions == [
        ("archived", {"archived_on": "2026-11-25", "removed": True}),
        ("restored", {"archived_on": None}),
        ("updated", {"name": "Ada Again"}),
        ("manager changed", {"manager": None}),
    ]


def test_a_removal_is_undone_by_a_later_archive_or_restore_from_anyone(db):
    ada = person("ada@example.com")
    remove_person(ada.id, ACTOR_SCIM, TODAY)
    DirectoryChange.create(
        changed_at=dt.datetime(2026, 11, 26), actor="file hr.csv", action="archived",
        subject="ada@example.com", detail='{"archived_on": "2026-11-25"}',
    )  # fmt: skip
    assert find_person(ada.id) is not None


def test_creating_an_email_someone_has_is_refused(db):
    person("ada@example.com")
    gone = person("gone@example.com", archived_on=TODAY - dt.timedelta(days=3))
    for email in ("ADA@example.com", "gone@example.com"):  # archived is not removed
        with pytest.raises(PersonEmailTaken):
            create_person(Provided(email), ACTOR_SCIM, TODAY)
    assert Employee.get_by_id(gone.id).archived_on == TODAY - dt.timedelta(days=3)


def test_the_role_slack_link_and_preferences_are_not_the_providers(db):
    ada = person("ada@example.com", role="admin")
    Employee.update(slack_user_id="UADA", digest_opt_out=True).where(
        Employee.id == ada.id
    ).execute()
    with pytest.raises(ValueError, match="not a provided field: role"):
        update_person(ada.id, {"role": "employee"}, ACTOR_SCIM, TODAY)
    update_person(ada.id, {"name": "Ada", "active": False}, ACTOR_SCIM, TODAY)
    ada = Employee.get_by_id(ada.id)
    assert (ada.role, ada.slack_user_id, ada.digest_opt_out) == ("admin", "UADA", True)

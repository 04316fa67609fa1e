from __future__ import annotations

import datetime as dt

import pytest
from freezegun import freeze_time

from sync.org.access import (
    activity_counts,
    admins,
    digest_recipients,
    has_access,
    is_admin,
    is_archived,
    may_view,
    team_of,
)
from sync.org.chart import direct_reports, reporting_chain
from sync.store.models import ROLE_ADMIN, Employee

# The org every test here uses:
#
#   ceo ─┬─ vp ─┬─ mgr ─┬─ rep1          admin      (role admin, no manager)
#        │      │       └─ rep2          (rep1 and rep2 are peers)
#        │      ├─ archived ── former    (archived used to manage former)
#        │      └─ gone ── kept          (Slack deactivated gone's account; the
#        │                                directory has not caught up)
#        └─ stranger                     (another branch)
#
# Names sort differently from creation order, so ordering by name is visible.
ORG = [
    # key, name, manager key
    ("ceo", "Zoe Chief", None),
    ("vp", "Yann Vice", "ceo"),
    ("mgr", "Xavi Manager", "vp"),
    ("rep1", "Wanda Report", "mgr"),
    ("rep2", "Vera Report", "mgr"),
    ("admin", "Uma Admin", None),
    ("stranger", "Tom Stranger", "ceo"),
    ("archived", "Sam Archived", "vp"),
    ("former", "Rob Former", "archived"),
    ("gone", "Pat Deactivated", "vp"),
    ("kept", "Oli Kept", "gone"),
]

# Rows are viewers, columns targets: Y may view, . may not.
MATRIX = """
            ceo  vp  mgr  rep1  rep2  admin  stranger  archived  former  gone  kept
ceo          Y   Y   Y    Y     Y     .      Y         Y         Y       Y     Y
vp           .   Y   Y    Y     Y     .      .         Y         Y       Y     Y
mgr          .   .   Y    Y     Y     .      .         .         .       .     .
rep1         .   .   .    Y     .     .      .         .         .       .     .
rep2         .   .   .    .     Y     .      .         .         .       .     .
admin        Y   Y   Y    Y     Y     Y      Y         Y         Y       Y     Y
stranger     .   .   .    .     .     .      Y         .         .       .     .
archived     .   .   .    .     .     .      .         .         .       .     .
former       .   .   .    .     .     .      .         .         Y       .     .
gone         .   .   .    .     .     .      .         .         .       .     .
kept         .   .   .    .     .     .      .         .         .       .     Y
nobody       .   .   .    .     .     .      .         .         .       .     .
"""


def _matrix_cases():
    header, *rows = MATRIX.strip().splitlines()
    targets = header.split()
    for row in rows:
        viewer, *answers = row.split()
        assert len(answers) == len(targets), row
        for target, answer in zip(targets, answers, strict=True):
            yield pytest.param(viewer, target, answer == "Y", id=f"{viewer}-sees-{target}")


@pytest.fixture
def org(db) -> dict[str, Employee]:
    people: dict[str, Employee] = {}
    for key, name, manager in ORG:
        people[key] = Employee.create(
            email=f"{key}@example.com",
            name=name,
            manager=people[manager] if manager else None,
            role=ROLE_ADMIN if key == "admin" else "employee",
            archived_on=dt.date(2024, 6, 30) if key == "archived" else None,
            slack_deactivated_at=dt.datetime(2025, 1, 2, 9, 0) if key == "gone" else None,
        )
    return people


@pytest.mark.parametrize(("viewer", "target", "expected"), list(_matrix_cases()))
def test_who_may_view_whom(org, viewer, target, expected):
    viewer_employee = None if viewer == "nobody" else org[viewer]

    assert may_view(viewer_employee, org[target]) is expected


@pytest.mark.parametrize(
    ("archived_on", "archived"),
    [
        (dt.date(2025, 3, 9), True),  # yesterday
        (dt.date(2025, 3, 10), True),  # today, UTC
        (dt.date(2025, 3, 11), False),  # tomorrow: still at work today
    ],
)
@freeze_time("2025-03-10 23:30:00")  # already the 11th east of UTC
def test_archiving_takes_effect_on_its_utc_day(org, archived_on, archived):
    mgr = org["mgr"]
    mgr.archived_on = archived_on
    mgr.save()

    assert is_archived(mgr) is archived
    assert may_view(mgr, org["rep1"]) is not archived
    assert may_view(mgr, mgr) is not archived


def test_archived_admin_sees_nothing(org):
    admin = org["admin"]
    admin.archived_on = dt.date(2020, 1, 1)
    admin.save()

    assert not may_view(admin, org["rep1"])


def test_a_deep_chain_is_followed_to_the_top(db):
    top = Employee.create(email="top@example.com")
    employee = top
    for level in range(30):
        employee = Employee.create(email=f"level{level}@example.com", manager=employee)

    assert may_view(top, employee)
    assert not may_view(employee, top)


def test_a_manager_loop_in_the_database_ends_in_a_refusal(db):
    # The import refuses loops; this one was written straight to the table.
    a = Employee.create(email="a@example.com")
    b = Employee.create(email="b@example.com", manager=a)
    Employee.update(manager=b).where(Employee.id == a.id).execute()
    outsider = Employee.create(email="outsider@example.com")

    assert not may_view(outsider, Employee.get_by_id(a.id))
    assert may_view(b, Employee.get_by_id(a.id))
    assert [e.email for e in reporting_chain(a)] == ["b@example.com"]


def test_may_view_costs_one_query_however_big_the_org(org, db, monkeypatch):
    for n in range(40):
        Employee.create(email=f"filler{n}@example.com", manager=org["stranger"])
    executed = []
    execute_sql = db.execute_sql
    monkeypatch.setattr(
        db, "execute_sql", lambda sql, *a, **k: executed.append(sql) or execute_sql(sql, *a, **k)
    )

    assert may_view(org["ceo"], org["former"])
    assert not may_view(org["stranger"], org["former"])
    assert len(executed) == 2


def names(employees: list[Employee]) -> list[str]:
    return [employee.name for employee in employees]


@pytest.mark.parametrize(
    ("manager", "expected"),
    [
        (
            "ceo",
            [
                "Oli Kept",
                "Pat Deactivated",
                "Rob Former",
                "Sam Archived",
                "Tom Stranger",
                "Vera Report",
                "Wanda Report",
                "Xavi Manager",
                "Yann Vice",
            ],
        ),
        (
            "vp",
            [
                "Oli Kept",
                "Pat Deactivated",
                "Rob Former",
                "Sam Archived",
                "Vera Report",
                "Wanda Report",
                "Xavi Manager",
            ],
        ),
        ("mgr", ["Vera Report", "Wanda Report"]),
        ("archived", ["Rob Former"]),
        ("rep1", []),
        ("admin", []),
    ],
)
def test_reporting_chain_is_everyone_below_ordered_by_name(org, manager, expected):
    assert names(reporting_chain(org[manager])) == expected


@pytest.mark.parametrize(
    ("manager", "expected"),
    [
        ("ceo", ["Tom Stranger", "Yann Vice"]),
        ("vp", ["Pat Deactivated", "Sam Archived", "Xavi Manager"]),
        ("mgr", ["Vera Report", "Wanda Report"]),
        ("rep2", []),
    ],
)
def test_direct_reports_are_one_level_ordered_by_name(org, manager, expected):
    assert names(direct_reports(org[manager])) == expected


def test_config_admin_emails_make_an_employee_an_admin(org):
    config_admins = ["Rep1@Example.com"]
    assert may_view(org["rep1"], org["ceo"], admin_emails=config_admins)
    assert not may_view(org["rep2"], org["ceo"], admin_emails=config_admins)
    assert not may_view(org["rep1"], org["ceo"])


def test_is_admin_by_role_config_or_email_outside_the_directory(org):
    assert is_admin(org["admin"])
    assert not is_admin(org["mgr"])
    assert is_admin(org["mgr"], admin_emails=["mgr@example.com"])
    # Someone who connects Codex before the org is imported is only known by email.
    assert is_admin(None, "Setup@Example.com", admin_emails=["setup@example.com"])
    assert not is_admin(None, "someone@example.com", admin_emails=["setup@example.com"])
    assert not is_admin(org["archived"], admin_emails=["archived@example.com"])
    assert not is_admin(org["gone"], admin_emails=["gone@example.com"])


def test_a_deactivated_slack_account_loses_access_but_keeps_its_history(org):
    gone = org["gone"]
    assert not has_access(gone) and not is_archived(gone)
    assert team_of(gone) == []  # sees no team, though still their manager on paper
    assert activity_counts(gone, dt.date(2025, 3, 1))  # their usage still counts
    Employee.update(role=ROLE_ADMIN).where(Employee.id == gone.id).execute()
    assert "gone@example.com" not in [e.email for e in admins().employees]
    assert "gone@example.com" not in [e.email for e in digest_recipients(dt.date(2025, 3, 1))]
    assert "vp@example.com" in [e.email for e in digest_recipients(dt.date(2025, 3, 1))]

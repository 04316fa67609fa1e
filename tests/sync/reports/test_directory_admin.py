"""The directory as admins see and mend it (sync/reports/directory_admin.py), and aliases
recorded in the directory's history (sync/org/directory.add_alias), on both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import person, store_usage, usage
from freezegun import freeze_time

from sync.config import Settings
from sync.notices import Notice
from sync.org.access import Viewer
from sync.org.directory import (
    DirectoryError,
    add_alias,
    codex_usage_of_email,
    unmatched_codex_users,
)
from sync.org.history import ACTOR_SCIM, IMPORTED, admin_actor, recent_changes, record_change
from sync.reports.directory_admin import (
    ADMINS_ONLY,
    ask_alias,
    ask_directory,
    ask_directory_history,
    ask_unmatched,
)
from sync.store.models import DirectoryChange, EmailAlias, Employee

NOW = "2026-11-25 12:00:00"
TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def people(db):
    ada = person("ada@example.com", "Ada")
    bo = person("bo@example.com", "Bo")
    return ada, bo


def test_add_alias_records_who_did_what_in_the_history(people):
    add_alias("Ada@Old.example.com", "ada@example.com")  # the CLI's, by default
    add_alias("ada@old.example.com", "bo@example.com", actor=admin_actor("boss@example.com"))
    add_alias("ada@old.example.com", "BO@example.com", actor="anyone")  # no change

    changes = [(c.actor, c.action, c.subject, c.detail) for c in reversed(recent_changes())]
    assert changes == [
        ("cli", "alias added", "ada@example.com", {"codex_email": "ada@old.example.com"}),
        (
            "admin boss@example.com",
            "alias added",
            "bo@example.com",
            {"codex_email": "ada@old.example.com", "from": "ada@example.com"},
        ),
    ]


@pytest.mark.parametrize(
    ("codex_email", "person_email", "kind"),
    [
        ("not-an-email", "ada@example.com", "not_an_email"),
        ("x@old.example.com", "ghost@example.com", "unknown_person"),
        ("BO@example.com", "ada@example.com", "alias_is_directory_email"),
        ("ada@example.com", "ada@example.com", "alias_is_own_email"),
    ],
)
def test_a_refused_alias_says_why_and_records_nothing(people, codex_email, person_email, kind):
    with pytest.raises(DirectoryError) as refused:
        add_alias(codex_email, person_email)
    assert refused.value.notice.kind == kind
    assert EmailAlias.select().count() == DirectoryChange.select().count() == 0


def test_the_usage_an_alias_moves_is_the_current_workspaces(people):
    store_usage([usage("u-old", TODAY - dt.timedelta(days=9), email="x@old.io", credits=4)], "ws-a")
    store_usage(
        [
            usage("u-x", TODAY - dt.timedelta(days=3), email="x@old.io", credits=2.5),
            usage("u-x2", TODAY - dt.timedelta(days=1), email="X@old.io", credits=1),
        ],
        "ws-b",
    )
    with freeze_time(NOW):
        assert codex_usage_of_email("X@OLD.io").credits == 3.5
        assert codex_usage_of_email("x@old.io").last_seen == TODAY - dt.timedelta(days=1)
        assert codex_usage_of_email("x@old.io").accounts == 3
        nobody = codex_usage_of_email("nobody@old.io")
    assert (nobody.accounts, nobody.credits, nobody.last_seen) == (0, 0.0, None)


def test_unmatched_users_can_be_cut_to_the_biggest(db):
    store_usage([usage(f"u{n}", TODAY, email=f"u{n}@ex.io", credits=n) for n in range(1, 6)], "ws")
    assert [u.user_id for u in unmatched_codex_users(2)] == ["u5", "u4"]
    assert len(unmatched_codex_users()) == 5


def test_the_overview_counts_people_sources_and_unmatched(people):
    ada, bo = people
    admin = Viewer(None, "root@example.com")
    settings = Settings()
    settings.slack.admin_emails = ["root@example.com"]
    person("gone@example.com", archived_on=TODAY - dt.timedelta(days=1))
    person("later@example.com", archived_on=TODAY + dt.timedelta(days=5))  # not yet
    Employee.update(slack_deactivated_at=dt.datetime(2026, 11, 1)).where(
        Employee.id == bo.id
    ).execute()
    store_usage([usage(f"u{n}", TODAY, email=f"u{n}@ex.io", credits=n) for n in range(1, 8)])
    record_change(ACTOR_SCIM, "created", "ada@example.com", at=dt.datetime(2026, 11, 20))
    record_change("cli", IMPORTED, None, {"file": "people.csv"}, at=dt.datetime(2026, 11, 21))

    with freeze_time(NOW):
        overview = ask_directory(admin, settings)

    assert (overview.people, overview.active, overview.archived, overview.deactivated) == (
        4,
        2,
        1,
        1,
    )
    sources = overview.sources
    assert sources.hris_file is None
    assert sources.scim is True  # SCIM changed the directory, though no token is set here
    assert sources.last_scim_change == dt.datetime(2026, 11, 20)
    assert sources.last_csv_import.detail == {"file": "people.csv"}
    assert overview.last_change.action == IMPORTED
    assert [u.user_id for u in overview.unmatched.users] == ["u7", "u6", "u5", "u4", "u3"]
    assert (overview.unmatched.total, overview.unmatched.more) == (7, 2)
    assert ask_unmatched(admin, settings.slack.admin_emails).more == 0
    assert len(ask_directory_history(admin, settings.slack.admin_emails).changes) == 2


def test_nobody_but_an_admin_gets_an_answer_or_causes_a_lookup(people):
    ada, _ = people
    settings = Settings()

    def must_not_look(*_):
        raise AssertionError("looked someone up for a non-admin")

    for viewer in (Viewer(ada, ada.email), Viewer(None, "outsider@example.com"), Viewer(None)):
        assert ask_directory(viewer, settings) == ADMINS_ONLY
        assert ask_unmatched(viewer, ()) == ADMINS_ONLY
        assert ask_directory_history(viewer, ()) == ADMINS_ONLY
        assert ask_alias(viewer, "x@old.io", must_not_look, ()) == ADMINS_ONLY
    assert DirectoryChange.select().count() == 0


def test_an_alias_asked_for_by_an_admin_says_what_it_moved(people):
    ada, bo = people
    boss = person("boss@example.com", "Boss", role="admin")
    store_usage([usage("u-x", TODAY - dt.timedelta(days=2), email="x@old.io", credits=7.5)])
    viewer = Viewer(boss, boss.email)

    with freeze_time(NOW):
        first = ask_alias(viewer, "X@old.io", lambda: ada, ())
        moved = ask_alias(viewer, "x@old.io", lambda: bo, ())
        same = ask_alias(viewer, "x@old.io", lambda: bo, ())
        nobody = ask_alias(viewer, "x@old.io", lambda: None, ())

    assert first == Notice(
        "alias_added",
        {
            "codex_email": "x@old.io",
            "person": "Ada",
            "person_email": "ada@example.com",
            "previous": None,
            "credits": 7.5,
            "last_seen": TODAY - dt.timedelta(days=2),
        },
    )
    assert moved.params["previous"] == "Ada"
    assert same == Notice("alias_unchanged", {"codex_email": "x@old.io", "person": "Bo"})
    assert nobody == Notice("unknown_person")
    assert [c.actor for c in recent_changes()] == ["admin boss@example.com"] * 2

"""HRIS exports: headers mapped to codexbot's columns, the import's plan, archive_missing,
the history every applied change leaves, and the bounds on what a file may hold."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest
from factories import person
from freezegun import freeze_time

from sync.config import load_settings
from sync.org import org_csv
from sync.org.directory import find_employee
from sync.org.history import ACTOR_CLI, ACTOR_SCIM, CREATED, record_change
from sync.org.importer import (
    KEPT_CONFIG_ADMIN,
    KEPT_SCIM,
    Archival,
    ArchiveMissing,
    ImportCounts,
    Kept,
    ManagerMove,
    OrgImportError,
    Update,
    import_org_csv,
)
from sync.org.source import archive_policy
from sync.store.models import DirectoryChange, Employee

TODAY = dt.date(2026, 11, 25)
ANN = "ann@example.com"
NOW = "2026-11-25 10:30:00"

# HiBob-like headers, in another case and with stray spaces.
HIBOB = {
    "email": "Work Email",
    "name": "Display Name",
    "manager_email": "Reports To Email",
    "department": "Department",
}


def write(tmp_path, text: str, name: str = "people.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def dump_employees() -> list[tuple]:
    return list(Employee.select().order_by(Employee.id).tuples())


def history() -> list[tuple]:
    rows = DirectoryChange.select().order_by(DirectoryChange.id)
    return [(r.actor, r.action, r.subject, json.loads(r.detail or "{}")) for r in rows]


@pytest.fixture
def team(db):
    """Lead manages Ann and Ben; Ops is a config admin; Sam came over SCIM."""
    lead = person("lead@example.com", "Lee Lead", role="admin")
    person("ann@example.com", "Ann", manager=lead)
    person("ben@example.com", "Ben", manager=lead)
    person("ops@example.com", "Otto Ops")
    Employee.create(email="sam@example.com", name="Sam", external_id="00u1sam")
    return lead


# --- columns -------------------------------------------------------------------------------


def test_mapped_headers_match_whatever_their_case_and_spaces_and_others_are_ignored(db, tmp_path):
    path = write(
        tmp_path,
        " work EMAIL ,DISPLAY NAME,reports to email,Department,Job Title,Site\n"
        "boss@example.com,Bea Boss,,Leadership,CEO,Paris\n"
        "dev@example.com,Dev One,BOSS@example.com,Platform,Engineer,Lyon\n",
    )

    plan = import_org_csv(path, columns=HIBOB)

    assert plan.headers == {
        "email": "work EMAIL",
        "name": "DISPLAY NAME",
        "manager_email": "reports to email",
        "department": "Department",
    }
    assert plan.ignored_columns == ("Job Title", "Site")
    dev = find_employee("dev@example.com")
    assert (dev.name, dev.department, dev.manager.email) == (
        "Dev One",
        "Platform",
        "boss@example.com",
    )


def test_a_column_s_own_name_still_reads_when_its_mapped_header_is_absent(db, tmp_path):
    plan = import_org_csv(
        write(tmp_path, "email,name,department\nann@example.com,Ann,Data\n"), columns=HIBOB
    )

    assert plan.counts.added == 1
    assert find_employee("ann@example.com").department == "Data"


def test_the_mapped_header_wins_over_a_column_named_like_codexbot_s(db, tmp_path):
    # Exports often carry a personal "Email" beside the work one.
    plan = import_org_csv(
        write(tmp_path, "Email,Work Email\nann@home.example,ann@example.com\n"), columns=HIBOB
    )

    assert plan.headers == {"email": "Work Email"} and plan.ignored_columns == ("Email",)
    assert find_employee("ann@example.com") is not None
    assert find_employee("ann@home.example") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "Work Email,Reports To Email\nann@example.com,lead\n",
            "line 2: Reports To Email 'lead' is not a valid email address",
        ),
        ("Mail,Name\nann@example.com,Ann\n", "line 1: the header has no email column (nor 'Work"),
        (
            "Work Email,work email \nann@example.com,a\n",
            "line 1: column 'work email' appears twice",
        ),
    ],
)
def test_problems_name_the_file_s_own_headers(db, tmp_path, text, problem):
    mapping = {"email": "Work Email", "manager_email": "Reports To Email"}

    with pytest.raises(OrgImportError) as refused:
        import_org_csv(write(tmp_path, text), columns=mapping)

    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems
    assert Employee.select().count() == 0


def test_an_empty_department_cell_clears_it(db, tmp_path):
    Employee.create(email="ann@example.com", department="Data")

    plan = import_org_csv(write(tmp_path, "email,department\nann@example.com, \n"))

    assert plan.updated == (Update("ann@example.com", ("department",)),)
    assert find_employee("ann@example.com").department is None


# --- the plan, applied or not ------------------------------------------------------------


@freeze_time(NOW)
def test_a_dry_run_plans_every_kind_of_change_and_changes_nothing(team, tmp_path):
    Employee.update(archived_on=dt.date(2026, 10, 1)).where(
        Employee.email == "ben@example.com"
    ).execute()
    person("cy@example.com", "Cy", manager=team)
    path = write(
        tmp_path,
        "email,name,manager_email,archived_on\n"
        "lead@example.com,Lee Lead,,\n"
        "ann@example.com,Ann Smith,ben@example.com,\n"  # renamed, moved
        "ben@example.com,Ben,lead@example.com,\n"  # restored
        "cy@example.com,Cy,lead@example.com,2026-11-30\n"  # leaving on the 30th
        "new@example.com,Nia,ann@example.com,\n",
    )
    before, changes_before = dump_employees(), history()

    plan = import_org_csv(path, dry_run=True)

    assert plan.counts == ImportCounts(
        added=1, updated=1, manager_changed=1, archived=1, restored=1, unchanged=1
    )
    assert plan.added == ("new@example.com",)
    assert plan.updated == (Update("ann@example.com", ("name",)),)
    assert plan.manager_moves == (
        ManagerMove("ann@example.com", "lead@example.com", "ben@example.com"),
    )
    assert plan.archived == (Archival("cy@example.com", dt.date(2026, 11, 30), False, False),)
    assert plan.restored == ("ben@example.com",)
    assert plan.left_alone == 2  # ops and sam: archive_missing is off
    assert dump_employees() == before and history() == changes_before


@freeze_time(NOW)
def test_applying_records_every_change_in_the_history_in_one_go(team, tmp_path):
    Employee.update(archived_on=dt.date(2026, 10, 1)).where(
        Employee.email == "ben@example.com"
    ).execute()
    path = write(
        tmp_path,
        "email,name,manager_email,archived_on,department\n"
        "lead@example.com,Lee Lead,,,\n"
        "ann@example.com,Ann Smith,ben@example.com,2026-11-25,\n"
        "ben@example.com,Ben,lead@example.com,,Data\n"
        "new@example.com,Nia,ann@example.com,,Data\n",
    )

    plan = import_org_csv(path, actor=ACTOR_CLI)

    assert plan.counts == ImportCounts(
        added=1, updated=2, manager_changed=1, archived=1, restored=1, unchanged=1
    )
    counts = {"added": 1, "updated": 2, "manager_changed": 1, "archived": 1, "restored": 1}
    assert history() == [
        (
            "cli",
            "created",
            "new@example.com",
            {"name": "Nia", "department": "Data", "manager": ANN},
        ),
        ("cli", "updated", ANN, {"name": "Ann Smith"}),
        ("cli", "updated", "ben@example.com", {"department": "Data"}),
        (
            "cli",
            "manager changed",
            ANN,
            {"manager": "ben@example.com", "previous_manager": "lead@example.com"},
        ),
        ("cli", "archived", ANN, {"archived_on": "2026-11-25"}),
        ("cli", "restored", "ben@example.com", {"archived_on": None}),
        (
            "cli",
            "file imported",
            None,
            {"file": str(path), "fingerprint": plan.fingerprint, **counts, "unchanged": 1},
        ),
    ]
    ann, ben = find_employee("ann@example.com"), find_employee("ben@example.com")
    assert (ann.name, ann.manager.email, ann.archived_on) == ("Ann Smith", "ben@example.com", TODAY)
    assert (ben.archived_on, ben.department) == (None, "Data")
    assert {r.changed_at for r in DirectoryChange.select()} == {dt.datetime(2026, 11, 25, 10, 30)}


def test_a_manager_loop_changes_nothing_and_says_why(team, tmp_path):
    before, changes_before = dump_employees(), history()
    path = write(
        tmp_path,
        "email,manager_email\nnew@example.com,lead@example.com\nlead@example.com,ann@example.com\n",
    )

    with pytest.raises(OrgImportError) as refused:
        import_org_csv(path)

    assert refused.value.problems == [
        "line 3: the manager chain loops: lead@example.com -> ann@example.com -> lead@example.com"
    ]
    assert dump_employees() == before and history() == changes_before


# --- archive_missing -----------------------------------------------------------------------

LISTED = (
    "email,name,manager_email\nlead@example.com,Lee Lead,\nann@example.com,Ann,lead@example.com\n"
)


@freeze_time(NOW)
def test_archive_missing_off_leaves_people_missing_from_the_file_alone(team, tmp_path):
    plan = import_org_csv(write(tmp_path, LISTED))

    assert plan.archived == () and plan.kept == ()
    assert plan.left_alone == 3  # ben, ops, sam
    assert Employee.select().where(Employee.archived_on.is_null(False)).count() == 0


@freeze_time(NOW)
def test_archive_missing_archives_the_file_s_leavers_but_keeps_config_admins_and_scim_people(
    team, tmp_path
):
    person("gone@example.com", "Gone", archived_on=dt.date(2026, 1, 1))
    person("leaving@example.com", "Leaving", archived_on=dt.date(2026, 12, 31))
    Employee.create(email="viascim@example.com")  # no external id, but SCIM created them
    record_change(ACTOR_SCIM, CREATED, "viascim@example.com")
    policy = ArchiveMissing(admin_emails=("OPS@example.com",))

    plan = import_org_csv(
        write(tmp_path, LISTED + "zed@example.com,Zed,lead@example.com\n"), archive_missing=policy
    )

    assert plan.archived == (Archival("ben@example.com", TODAY, True, False),)
    assert plan.kept == (
        Kept("ops@example.com", KEPT_CONFIG_ADMIN),
        Kept("sam@example.com", KEPT_SCIM),
        Kept("viascim@example.com", KEPT_SCIM),
    )
    archived = {e.email: e.archived_on for e in Employee.select() if e.archived_on}
    assert archived == {
        "ben@example.com": TODAY,
        "gone@example.com": dt.date(2026, 1, 1),  # already gone: untouched
        "leaving@example.com": dt.date(2026, 12, 31),  # their date stands
    }
    detail = {"archived_on": "2026-11-25", "reason": "missing from the file"}
    assert ("cli", "archived", "ben@example.com", detail) in history()


@freeze_time(NOW)
def test_an_admin_archived_as_missing_is_flagged(team, tmp_path):
    plan = import_org_csv(
        write(tmp_path, "email\nann@example.com\nben@example.com\n"),
        archive_missing=ArchiveMissing(admin_emails=["ops@example.com"]),
    )

    assert Archival("lead@example.com", TODAY, True, True) in plan.archived


@freeze_time(NOW)
def test_someone_archived_by_a_file_is_restored_when_a_later_file_says_so(team, tmp_path):
    policy = ArchiveMissing(admin_emails=["ops@example.com"])
    import_org_csv(write(tmp_path, LISTED), archive_missing=policy)
    assert find_employee("ben@example.com").archived_on == TODAY

    # Listed again without an archived_on column: the file does not say, nothing changes.
    again = import_org_csv(write(tmp_path, LISTED + "ben@example.com,Ben,lead@example.com\n"))
    assert again.restored == () and find_employee("ben@example.com").archived_on == TODAY

    back = import_org_csv(
        write(
            tmp_path, "email,archived_on\nlead@example.com,\nann@example.com,\nben@example.com,\n"
        ),
        archive_missing=policy,
    )
    assert back.restored == ("ben@example.com",)
    assert find_employee("ben@example.com").archived_on is None


@freeze_time(NOW)
def test_a_file_archiving_more_than_the_share_allowed_is_refused_and_changes_nothing(
    team, tmp_path
):
    # An export cut short: LISTED keeps Lee and Ann; Ben and 43 more would be archived
    # (Ops and Sam are kept), 44 of the 48 people not archived: over 90%.
    for n in range(43):
        person(f"p{n}@example.com", f"P{n}", manager=find_employee("ann@example.com"))
    before, changes_before = dump_employees(), history()
    policy = ArchiveMissing(admin_emails=["ops@example.com"], max_share=0.9)

    with pytest.raises(OrgImportError) as refused:
        import_org_csv(write(tmp_path, LISTED), archive_missing=policy)

    assert refused.value.problems == [
        "the file would archive 44 of the 48 people not archived, more than "
        "[org] archive_missing_max_share (90%) allows; if they all left, raise it for this import"
    ]
    assert dump_employees() == before and history() == changes_before

    # The same file, the share raised to 1: the mass leaving is taken as real.
    plan = import_org_csv(write(tmp_path, LISTED), archive_missing=replace(policy, max_share=1))
    assert len(plan.archived) == 44


@freeze_time(NOW)
def test_a_small_directory_may_lose_up_to_ten_people_whatever_their_share(team, tmp_path):
    policy = ArchiveMissing(admin_emails=["ops@example.com"], max_share=0.01)

    plan = import_org_csv(write(tmp_path, LISTED), archive_missing=policy)

    assert [a.email for a in plan.archived] == ["ben@example.com"]


def test_a_file_listing_nobody_never_archives_everyone(team, tmp_path):
    before = dump_employees()

    with pytest.raises(OrgImportError, match="the file lists nobody"):
        import_org_csv(
            write(tmp_path, "Work Email\n"), columns=HIBOB, archive_missing=ArchiveMissing()
        )

    assert dump_employees() == before


def test_archive_missing_applies_to_the_source_file_only(tmp_path):
    source = write(tmp_path, LISTED)
    settings = load_settings(None, environ={})
    settings.slack.admin_emails = ["ops@example.com"]
    settings.org.source = str(source)
    assert archive_policy(settings, source) is None  # archive_missing is off

    settings.org.archive_missing = True
    assert archive_policy(settings, source) == ArchiveMissing(
        admin_emails=("ops@example.com",), max_share=0.25
    )
    settings.org.archive_missing_max_share = 0.5
    assert archive_policy(settings, source).max_share == 0.5
    assert archive_policy(settings, tmp_path / "." / "people.csv") is not None
    assert archive_policy(settings, write(tmp_path, LISTED, "other.csv")) is None


# --- bounds --------------------------------------------------------------------------------


def test_a_file_over_the_size_bound_is_refused_unread(db, tmp_path, monkeypatch):
    monkeypatch.setattr(org_csv, "MAX_FILE_BYTES", 1024 * 1024)
    path = write(tmp_path, "email\n" + "x@example.com\n" * 80_000)

    with pytest.raises(OrgImportError) as refused:
        import_org_csv(path)

    assert refused.value.problems == ["the file is larger than 1 MiB, the most codexbot reads"]
    assert Employee.select().count() == 0


def test_a_file_over_the_row_bound_is_refused(db, tmp_path, monkeypatch):
    monkeypatch.setattr(org_csv, "MAX_ROWS", 3)
    path = write(tmp_path, "email\n" + "".join(f"p{n}@example.com\n" for n in range(5)))

    with pytest.raises(OrgImportError) as refused:
        import_org_csv(path)

    assert refused.value.problems == [
        "line 5: the file has more than 3 rows, the most codexbot imports"
    ]
    assert Employee.select().count() == 0


def test_an_overlong_cell_is_refused_without_quoting_it(db, tmp_path):
    name = "N" * 300
    path = write(tmp_path, f"Work Email,Display Name\nann@example.com,{name}\n")

    with pytest.raises(OrgImportError) as refused:
        import_org_csv(path, columns=HIBOB)

    assert refused.value.problems == ["line 2: Display Name is longer than 255 characters"]

from __future__ import annotations

import datetime as dt
import io

import pytest
from factories import WORKSPACE

from sync.org.directory import (
    DirectoryError,
    UnmatchedUser,
    add_alias,
    codex_user_ids_for,
    count_unmatched_codex_users,
    find_employee,
    matched_employee_ids_by_codex_user,
    normalize_email,
    unmatched_codex_users,
)
from sync.org.importer import ImportCounts, OrgImportError, import_org_csv
from sync.store.models import CodexUser, DailyUsage, EmailAlias, Employee
from sync.store.workspaces import note_connected

HEADER = "email,name,manager_email,role,archived_on,slack_user_id,timezone\n"


def write_csv(tmp_path, content: str | bytes):
    path = tmp_path / "org.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def dump_employees() -> list[tuple]:
    return list(Employee.select().order_by(Employee.id).tuples())


def manager_email_of(email: str) -> str | None:
    employee = find_employee(email)
    return employee.manager.email if employee.manager_id else None


# --- import: success ---------------------------------------------------------------------


def test_import_creates_people_with_their_manager_links(db, tmp_path):
    # Reports come before their managers: links must not depend on row order.
    path = write_csv(
        tmp_path,
        HEADER
        + "Rita@Example.com,Rita Report,MAX@example.com,,,U0RITA,Europe/Paris\n"
        + "max@example.com,Max Manager,ceo@example.com,admin,,,\n"
        + "\n"
        + "ceo@example.com,Cleo Chief,,employee,2030-01-31,,America/New_York\n",
    )

    plan = import_org_csv(path)

    assert plan.counts == ImportCounts(added=3)
    assert manager_email_of("rita@example.com") == "max@example.com"
    assert manager_email_of("max@example.com") == "ceo@example.com"
    assert manager_email_of("ceo@example.com") is None
    rita = find_employee("RITA@example.COM")
    assert (rita.email, rita.name, rita.role, rita.slack_user_id, rita.timezone) == (
        "rita@example.com",
        "Rita Report",
        "employee",
        "U0RITA",
        "Europe/Paris",
    )
    max_ = find_employee("max@example.com")
    assert (max_.role, max_.timezone, max_.archived_on) == ("admin", None, None)
    assert find_employee("ceo@example.com").archived_on == dt.date(2030, 1, 31)


def test_import_reads_a_text_file_object_with_only_the_email_column_required(db):
    plan = import_org_csv(io.StringIO("\ufeffEmail\nsolo@example.com\n"))

    assert plan.counts.added == 1
    solo = find_employee("solo@example.com")
    assert (solo.name, solo.role, solo.manager_id, solo.slack_user_id) == (
        "",
        "employee",
        None,
        None,
    )


def test_reimport_updates_in_place_and_leaves_absent_people_alone(db, tmp_path):
    import_org_csv(
        write_csv(
            tmp_path,
            HEADER
            + "ceo@example.com,Cleo,,,,,\n"
            + "vp@example.com,Vic,ceo@example.com,,,U0VIC,\n"
            + "ann@example.com,Ann,vp@example.com,,2024-05-01,,\n"
            + "bo@example.com,Bo,vp@example.com,,,,\n",
        )
    )
    outsider = Employee.create(email="outsider@example.com", name="Out", manager=None)
    ids_before = {e.email: e.id for e in Employee.select()}

    plan = import_org_csv(
        write_csv(
            tmp_path,
            HEADER
            + "ceo@example.com,Cleo,,,,,\n"  # unchanged
            + "VP@example.com,Victor,ceo@example.com,admin,,U0VIC,\n"  # renamed, promoted
            + "ann@example.com,Ann,ceo@example.com,,,,\n"  # new manager, unarchived
            + "new@example.com,Nia,ann@example.com,,,,\n",  # created
        )
    )

    assert plan.counts == ImportCounts(
        added=1, updated=1, manager_changed=1, restored=1, unchanged=1
    )
    assert {e.email: e.id for e in Employee.select() if e.email in ids_before} == ids_before
    vp = find_employee("vp@example.com")
    assert (vp.name, vp.role) == ("Victor", "admin")
    ann = find_employee("ann@example.com")
    assert (ann.manager.email, ann.archived_on) == ("ceo@example.com", None)
    assert manager_email_of("new@example.com") == "ann@example.com"
    assert manager_email_of("bo@example.com") == "vp@example.com"  # absent from the file
    assert Employee.get_by_id(outsider.id).name == "Out"


def test_reimport_without_a_column_keeps_that_column_s_values(db, tmp_path):
    import_org_csv(
        write_csv(
            tmp_path,
            HEADER
            + "boss@example.com,Boss,,admin,,U0BOSS,\nkid@example.com,Kid,boss@example.com,,,,\n",
        )
    )

    import_org_csv(
        write_csv(tmp_path, "email,name\nkid@example.com,Kiddo\nboss@example.com,Boss\n")
    )

    kid, boss = find_employee("kid@example.com"), find_employee("boss@example.com")
    assert (kid.name, kid.manager.email) == ("Kiddo", "boss@example.com")
    assert (boss.role, boss.slack_user_id) == ("admin", "U0BOSS")


def test_slack_ids_may_swap_between_people_in_one_file(db, tmp_path):
    import_org_csv(
        write_csv(tmp_path, "email,slack_user_id\na@example.com,U0A\nb@example.com,U0B\n")
    )

    import_org_csv(
        write_csv(tmp_path, "email,slack_user_id\na@example.com,U0B\nb@example.com,U0A\n")
    )

    assert find_employee("a@example.com").slack_user_id == "U0B"
    assert find_employee("b@example.com").slack_user_id == "U0A"


def test_an_old_loop_among_people_absent_from_the_file_does_not_block_it(db, tmp_path):
    # Written straight to the table, not through an import.
    a = Employee.create(email="a@example.com")
    b = Employee.create(email="b@example.com", manager=a)
    Employee.update(manager=b).where(Employee.id == a.id).execute()

    plan = import_org_csv(write_csv(tmp_path, "email,manager_email\nc@example.com,a@example.com\n"))

    assert plan.counts.added == 1
    assert manager_email_of("c@example.com") == "a@example.com"


# --- import: refusals ----------------------------------------------------------------------

# Every bad file also carries a valid new person on line 2, so a partial import shows up.
VALID = "new@example.com,New Person,root@example.com,,,,\n"

BAD_FILES = {
    "bad email": (HEADER + VALID + "not-an-email,X,,,,,\n", 3, "'not-an-email' is not a valid"),
    "email with a space": (HEADER + VALID + "a b@example.com,X,,,,,\n", 3, "not a valid email"),
    "bad manager email": (HEADER + VALID + "x@example.com,X,boss,,,,\n", 3, "manager_email 'boss'"),
    "duplicate email, other case": (
        HEADER + VALID + "NEW@Example.com,Again,,,,,\n",
        3,
        "new@example.com is already listed on line 2",
    ),
    "unknown manager": (
        HEADER + VALID + "x@example.com,X,ghost@example.com,,,,\n",
        3,
        "manager ghost@example.com is not in the directory",
    ),
    "own manager": (
        HEADER + VALID + "me@example.com,Me,ME@example.com,,,,\n",
        3,
        "me@example.com is listed as their own manager",
    ),
    "loop inside the file": (
        HEADER + VALID + "a@example.com,A,b@example.com,,,,\nb@example.com,B,a@example.com,,,,\n",
        3,
        "loops: a@example.com -> b@example.com -> a@example.com",
    ),
    # root is managed by leaf in the file; leaf -> mid -> root is already in the directory.
    "loop through people already in the directory": (
        HEADER + VALID + "root@example.com,Root,leaf@example.com,,,,\n",
        3,
        "root@example.com -> leaf@example.com -> mid@example.com -> root@example.com",
    ),
    "impossible date": (HEADER + VALID + "x@example.com,X,,,2024-02-30,,\n", 3, "'2024-02-30'"),
    "non-ISO date": (HEADER + VALID + "x@example.com,X,,,31/01/2024,,\n", 3, "is not a date"),
    "bad role": (HEADER + VALID + "x@example.com,X,,boss,,,\n", 3, "role 'boss' is not one of"),
    "bad timezone": (HEADER + VALID + "x@example.com,X,,,,,Mars/Olympus\n", 3, "'Mars/Olympus'"),
    "duplicate Slack id in the file": (
        HEADER + "a@example.com,A,,,,U0DUP,\n" + "b@example.com,B,,,,U0DUP,\n" + VALID,
        3,
        "Slack user U0DUP is also on line 2",
    ),
    "Slack id of someone not in the file": (
        HEADER + VALID + "x@example.com,X,,,,U0TAKEN,\n",
        3,
        "Slack user U0TAKEN already belongs to taken@example.com",
    ),
    "too many fields": (HEADER + VALID + "x@example.com,X,,,,,,extra\n", 3, "has 8 fields"),
    "too few fields": (HEADER + VALID + "x@example.com,X\n", 3, "has 2 fields"),
    "broken quoting": (HEADER + VALID + 'x@example.com,"X"y,,,,,\n', 3, "malformed"),
    "column twice": (
        "email,name,Name\n" + "new@example.com,N,T\n",
        1,
        "column 'Name' appears twice",
    ),
    "no email column": ("name,role\n" + "New,admin\n", 1, "no email column"),
    "empty file": ("", 1, "the file is empty"),
    "not UTF-8": ((HEADER + VALID + "x@example.com,Zo\xeb,,,,,\n").encode("latin-1"), 3, "UTF-8"),
}


@pytest.fixture
def existing_directory(db):
    root = Employee.create(email="root@example.com", name="Root")
    mid = Employee.create(email="mid@example.com", name="Mid", manager=root)
    Employee.create(email="leaf@example.com", name="Leaf", manager=mid)
    Employee.create(email="taken@example.com", name="Taken", slack_user_id="U0TAKEN")


@pytest.mark.parametrize(
    ("content", "line", "fragment"), list(BAD_FILES.values()), ids=list(BAD_FILES)
)
def test_bad_file_is_refused_naming_the_line_and_changes_nothing(
    existing_directory, tmp_path, content, line, fragment
):
    before = dump_employees()

    with pytest.raises(OrgImportError) as refused:
        import_org_csv(write_csv(tmp_path, content))

    assert [p for p in refused.value.problems if p.startswith(f"line {line}:") and fragment in p], (
        refused.value.problems
    )
    assert dump_employees() == before


def test_every_problem_is_reported_at_once_in_line_order(db, tmp_path):
    content = (
        HEADER
        + "ok@example.com,Ok,,,,,\n"
        + "x@example.com,X,,chief,,,\n"
        + "bad,Y,,,,,\n"
        + "z@example.com,Z,nobody@example.com,,yesterday,,\n"
    )

    with pytest.raises(OrgImportError) as refused:
        import_org_csv(write_csv(tmp_path, content))

    lines = [problem.split(":")[0] for problem in refused.value.problems]
    assert lines == ["line 3", "line 4", "line 5", "line 5"]
    assert str(refused.value) == "\n".join(refused.value.problems)
    assert Employee.select().count() == 0


# --- aliases and attribution ---------------------------------------------------------------


@pytest.fixture
def alice_and_bob(db):
    return (
        Employee.create(email="alice@example.com", name="Alice"),
        Employee.create(email="bob@example.com", name="Bob"),
    )


def test_add_alias_stores_the_codex_email_lower_cased(alice_and_bob):
    alice, _ = alice_and_bob

    alias = add_alias(" Alice.Personal@Gmail.com ", "ALICE@example.com")

    assert (alias.codex_email, alias.employee_id) == ("alice.personal@gmail.com", alice.id)
    assert EmailAlias.get_by_id("alice.personal@gmail.com").employee_id == alice.id


def test_realiasing_moves_the_alias_to_the_new_employee(alice_and_bob):
    _, bob = alice_and_bob
    add_alias("shared@gmail.com", "alice@example.com")

    add_alias("SHARED@gmail.com", "bob@example.com")

    assert [(a.codex_email, a.employee_id) for a in EmailAlias.select()] == [
        ("shared@gmail.com", bob.id)
    ]


@pytest.mark.parametrize(
    ("codex_email", "employee_email", "message"),
    [
        ("x@gmail.com", "ghost@example.com", "ghost@example.com is not in the directory"),
        ("BOB@example.com", "alice@example.com", "bob@example.com is the directory email of Bob"),
        ("no-at-sign", "alice@example.com", "not a valid email"),
    ],
)
def test_add_alias_refuses(alice_and_bob, codex_email, employee_email, message):
    with pytest.raises(DirectoryError, match=message):
        add_alias(codex_email, employee_email)

    assert EmailAlias.select().count() == 0


def test_codex_accounts_are_attributed_by_email_and_by_alias(alice_and_bob):
    alice, bob = alice_and_bob
    add_alias("alice.personal@gmail.com", "alice@example.com")
    # The sync stores the API's mixed-case emails lower-cased.
    for user_id, email in [
        ("u-alice", "Alice@Example.COM"),
        ("u-alice-personal", "ALICE.Personal@gmail.com"),
        ("u-bob", "bob@example.com"),
        ("u-nobody", None),
    ]:
        CodexUser.create(user_id=user_id, email=normalize_email(email) or None)

    assert codex_user_ids_for(alice) == ["u-alice", "u-alice-personal"]
    assert codex_user_ids_for(bob) == ["u-bob"]
    assert matched_employee_ids_by_codex_user() == {
        "u-alice": alice.id,
        "u-alice-personal": alice.id,
        "u-bob": bob.id,
    }


def test_a_directory_email_beats_an_older_alias_for_it(alice_and_bob):
    alice, _ = alice_and_bob
    add_alias("carol@example.com", "alice@example.com")
    CodexUser.create(user_id="u-carol", email="carol@example.com")
    import_org_csv(io.StringIO("email\ncarol@example.com\n"))  # Carol joins the directory
    carol = find_employee("carol@example.com")

    assert codex_user_ids_for(carol) == ["u-carol"]
    assert codex_user_ids_for(alice) == []
    assert matched_employee_ids_by_codex_user() == {"u-carol": carol.id}


def usage(user_id: str, day: dt.date, client_id: str, credits: float) -> None:
    note_connected(WORKSPACE, dt.datetime(2025, 1, 1))
    DailyUsage.create(
        workspace_id=WORKSPACE, codex_user_id=user_id, day=day, client_id=client_id, credits=credits
    )


def test_unmatched_users_are_listed_with_last_seen_and_credits(alice_and_bob):
    add_alias("bob.home@gmail.com", "bob@example.com")
    CodexUser.create(user_id="u-alice", email="alice@example.com")
    CodexUser.create(user_id="u-bob-home", email="bob.home@gmail.com")
    CodexUser.create(user_id="u-anon", email=None)
    CodexUser.create(user_id="u-stranger", email="stranger@contractor.io")
    CodexUser.create(user_id="u-idle", email="idle@contractor.io")
    usage("u-anon", dt.date(2025, 3, 1), "CODEX_CLI", 2.5)
    usage("u-anon", dt.date(2025, 3, 4), "CODEX_WEB", 1.0)
    usage("u-stranger", dt.date(2025, 2, 1), "CODEX_CLI", 10.0)
    usage("u-stranger", dt.date(2025, 2, 9), "CODEX_CLI", 0.5)
    usage("u-alice", dt.date(2025, 3, 5), "CODEX_CLI", 99.0)
    usage("u-bob-home", dt.date(2025, 3, 5), "CODEX_CLI", 50.0)

    assert unmatched_codex_users() == [
        UnmatchedUser(
            "u-stranger",
            "stranger@contractor.io",
            "stranger@contractor.io",
            dt.date(2025, 2, 9),
            10.5,
        ),
        UnmatchedUser("u-anon", None, "id u-anon", dt.date(2025, 3, 4), 3.5),
        UnmatchedUser("u-idle", "idle@contractor.io", "idle@contractor.io", None, 0.0),
    ]
    assert count_unmatched_codex_users() == 3


def count_queries(db, monkeypatch) -> list[str]:
    executed: list[str] = []
    execute_sql = db.execute_sql

    def counting(sql, *args, **kwargs):
        executed.append(sql)
        return execute_sql(sql, *args, **kwargs)

    monkeypatch.setattr(db, "execute_sql", counting)
    return executed


def test_unmatched_users_cost_the_same_queries_however_many_there_are(db, monkeypatch):
    def queries_for(user_count: int) -> int:
        CodexUser.delete().execute()
        DailyUsage.delete().execute()
        for n in range(user_count):
            CodexUser.create(user_id=f"u{n}", email=f"user{n}@contractor.io")
            usage(f"u{n}", dt.date(2025, 3, 1), "CODEX_CLI", n)
        executed = count_queries(db, monkeypatch)
        assert len(unmatched_codex_users()) == user_count
        monkeypatch.undo()
        return len(executed)

    assert queries_for(2) == queries_for(25) == 1


def test_bulk_attribution_agrees_with_the_single_person_rule(db):
    from sync.org.directory import codex_user_ids_by_employee

    ada = Employee.create(email="ada@example.com")
    bo = Employee.create(email="bo@example.com")
    nobody = Employee.create(email="nobody@example.com")
    CodexUser.insert_many(
        [
            ("u1", "ada@example.com"),
            ("u2", "ada@old.example.com"),
            ("u3", "bo@example.com"),
            ("u4", None),
            ("u5", "stranger@example.com"),
        ],
        fields=[CodexUser.user_id, CodexUser.email],
    ).execute()
    add_alias("ada@old.example.com", "ada@example.com")
    bulk = codex_user_ids_by_employee([ada, bo, nobody])
    assert bulk == {ada.id: ["u1", "u2"], bo.id: ["u3"], nobody.id: []}
    for employee in (ada, bo, nobody):
        assert bulk[employee.id] == codex_user_ids_for(employee)

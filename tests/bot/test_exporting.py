"""The words around an export: its file's first line, its title and comment in the DM,
and what `codexbot export` prints, for each kind of export, with and without sync gaps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.exporting import export_filename, export_heading
from bot.rendering import render
from sync.reports.exports import (
    SCOPE_ORGANISATION,
    SCOPE_PERSON,
    SCOPE_SELF,
    SCOPE_TEAM,
    Export,
)
from sync.reports.periods import Period
from sync.store.models import Employee

PERIOD = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 30))
AS_OF = dt.datetime(2026, 10, 31, 6, 15)
VIEWER = Employee(id=1, email="max@example.com", name="Max Manager")
REMY = Employee(id=2, email="rep@example.com", name="<!channel> Remy")


def an_export(scope: str, missing=()) -> Export:
    person = REMY if scope == SCOPE_PERSON else None
    people = [REMY] if scope in (SCOPE_PERSON, SCOPE_SELF) else [REMY, VIEWER]
    return Export(VIEWER, scope, people, PERIOD, "ws", AS_OF, list(missing), person)


@pytest.mark.parametrize(
    ("scope", "whose"),
    [
        (SCOPE_SELF, "your own Codex usage"),
        (SCOPE_PERSON, "Codex usage of <!channel> Remy"),
        (SCOPE_TEAM, "Codex usage of your reporting line"),
        (SCOPE_ORGANISATION, "Codex usage of the whole organisation"),
    ],
)
def test_each_kind_of_export_says_whose_usage_it_holds(scope, whose):
    export = an_export(scope)
    title = render("export_title.txt.j2", export=export).strip()
    assert title == f"{whose[0].upper()}{whose[1:]}, Thu 1 Oct – Fri 30 Oct"  # plain text
    comment = render("export_comment.txt.j2", export=export, lines=1).strip()
    assert "1 line (one per person, day and surface)" in comment
    assert export_filename(export) == f"codex-usage-{scope}-2026-10-01-to-2026-10-30.csv"
    printed = render("export.txt.j2", export=export, lines=2, path=Path("/tmp/x.csv"))
    assert printed.startswith(f"Wrote {whose} to /tmp/x.csv: 2 lines")
    assert "recorded in the access log as viewed by max@example.com" in printed


def test_a_name_in_the_dm_comment_cannot_mention_anyone():
    comment = render("export_comment.txt.j2", export=an_export(SCOPE_PERSON), lines=3)
    assert comment.startswith("Codex usage of &lt;!channel&gt; Remy as CSV")


def test_the_first_line_says_the_days_covered_and_the_gaps_in_one_cell():
    whole = export_heading(an_export(SCOPE_TEAM))
    assert whole.startswith(
        "codexbot export: one line per person and UTC day and surface for UTC days "
        "2026-10-01 to 2026-10-30 (30 days); every day of it synced; "
        "data as of 2026-10-31 06:15 UTC"
    )
    gaps = [(dt.date(2026, 10, 3), dt.date(2026, 10, 5)), (dt.date(2026, 10, 9),) * 2]
    heading = export_heading(an_export(SCOPE_TEAM, gaps))
    assert "NO DATA for 2026-10-03 to 2026-10-05 and 2026-10-09" in heading
    assert "," not in whole and "," not in heading and "\n" not in heading
    comment = render("export_comment.txt.j2", export=an_export(SCOPE_TEAM, gaps), lines=3)
    assert "left out of the file, not zero" in comment

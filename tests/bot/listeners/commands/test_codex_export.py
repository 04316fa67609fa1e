"""`/codex export` and `/codex team` views, signed and sent as Slack sends them: the CSV
arrives in the asker's DM through files_upload_v2 against the fake Slack, the answer in
the channel is an ephemeral confirmation, and nobody gets a line they may not see."""

from __future__ import annotations

import csv
import io

import pytest
from slack_requests import ephemeral_answer

from bot.exporting import export_heading
from sync.clock import utc_today
from sync.org.access import Viewer
from sync.reports.exports import ask_export
from sync.reports.periods import Period
from sync.reports.queries import stats_answers
from sync.store.models import AccessLog, Employee


def csv_rows(data: bytes) -> tuple[str, list[dict[str, str]]]:
    text = data.decode("utf-8-sig")
    heading, body = text.split("\r\n", 1)
    return heading, list(csv.DictReader(io.StringIO(body)))


def only_file(slack) -> dict:
    assert len(slack.files) == 1
    return next(iter(slack.files.values()))


def test_a_team_export_arrives_in_the_askers_dm_and_the_channel_gets_a_confirmation(
    bot, slack, org
):
    bot.command("UMGR", "export team 30d")
    answer = ephemeral_answer(slack)
    assert answer["text"].startswith("Your CSV export is in your DM with codexbot")
    assert "about 2 people" in answer["text"]
    sent = only_file(slack)
    assert sent["channel"] == "DUMGR"  # the DM conversations.open gave for the asker
    period = Period.ending_before(utc_today(), 30)
    assert sent["filename"] == f"codex-usage-team-{period.first_day}-to-{period.last_day}.csv"
    assert sent["title"].startswith("Codex usage of your reporting line")
    assert "14 lines" in sent["initial_comment"]  # 2 people, 7 days, one surface
    heading, rows = csv_rows(sent["data"])
    assert heading.startswith("# codexbot export: one line per person and UTC day and surface")
    assert {row["email"] for row in rows} == {"rep@example.com", "peer@example.com"}
    # The same content as the stats answers of the same period.
    people = [Employee.get(Employee.email == e) for e in ("rep@example.com", "peer@example.com")]
    for answer in stats_answers(people, period).values():
        mine = [row for row in rows if row["email"] == answer.employee.email]
        assert sum(float(row["credits"]) for row in mine) == answer.current.totals.credits == 10.5
    logged = {(r.viewer.email, r.target.email, r.surface) for r in AccessLog.select()}
    assert logged == {
        ("mgr@example.com", "rep@example.com", "export"),
        ("mgr@example.com", "peer@example.com", "export"),
    }
    assert not slack.calls_to("chat.postMessage")  # nothing but the file and the answer


@pytest.mark.parametrize(
    ("asker", "text"),
    [
        ("UPEER", "export <@UREP|remy>"),  # a peer
        ("USTRANGER", "export <@UREP|remy> 90d"),  # the manager of another line
        ("UREP", "export <@UMGR|max>"),  # upwards
        ("UMGR", "export stranger@example.com"),
        ("UOUTSIDER", "export"),  # not in the directory
        ("UMGR", "export all"),  # not an admin
        ("UREP", "export team"),  # nobody below
    ],
)
def test_nothing_is_sent_that_the_asker_may_not_see(bot, slack, org, asker, text):
    bot.command(asker, text)
    answer = ephemeral_answer(slack)
    assert "Your CSV export" not in answer["text"]
    assert slack.files == {} and not slack.calls_to("files.getUploadURLExternal")
    assert AccessLog.select().count() == 0


def test_an_admin_exports_anyone_and_everyone(bot, slack, org):
    bot.command("UADMIN", "export <@USTRANGER|sol> 7d")
    ephemeral_answer(slack)
    _, rows = csv_rows(only_file(slack)["data"])
    assert {row["email"] for row in rows} == {"stranger@example.com"}
    bot.command("UADMIN", "export all 90d")
    answer = ephemeral_answer(slack, 2)
    assert "about 7 people" in answer["text"]
    everyone = [f for f in slack.files.values() if "-organisation-" in f["filename"]]
    _, rows = csv_rows(everyone[0]["data"])
    # The leaver's history before they left is in it; their later usage is nobody's.
    assert {row["email"] for row in rows} == {
        f"{k}@example.com" for k in ("admin", "ceo", "mgr", "rep", "peer", "stranger")
    }


def test_a_formula_in_a_name_reaches_the_file_as_text(bot, slack, org):
    rep = org["rep"]
    rep.name = '=HYPERLINK("http://evil.example","Remy")'
    rep.department = "+Sales"
    rep.save()
    bot.command("UMGR", "export <@UREP|remy>")
    ephemeral_answer(slack)
    _, rows = csv_rows(only_file(slack)["data"])
    assert {row["name"] for row in rows} == {"'" + rep.name}
    assert {row["department"] for row in rows} == {"'+Sales"}


def test_a_failed_upload_is_said_and_nothing_is_lost(bot, slack, org):
    slack.fail_next("files.getUploadURLExternal", 200, {"ok": False, "error": "not_allowed"})
    bot.command("UMGR", "export")
    assert "Slack didn't take the export file" in ephemeral_answer(slack)["text"]


def test_the_file_is_what_the_cli_would_write(bot, slack, org, tmp_path):
    from bot.exporting import write_export_file

    bot.command("UCEO", "export team 7d")
    ephemeral_answer(slack)
    sent = only_file(slack)["data"]
    export = ask_export(
        Viewer(org["ceo"]), None, Period.ending_before(utc_today(), 7), (), whole_team=True
    )
    path = tmp_path / "team.csv"
    write_export_file(export, path)
    assert path.read_bytes() == sent
    assert export_heading(export) in sent.decode("utf-8-sig")


# -------------------------------------------------------------------------- team views


def test_team_takes_90_days(bot, slack, org):
    bot.command("UMGR", "team 90d")
    answer = ephemeral_answer(slack)
    assert answer["text"].startswith("Codex usage of your reporting line")
    assert "2 people" in answer["text"]
    assert "against the 90 days before" in str(answer["blocks"])


def test_an_admin_without_a_team_sees_the_organisation_by_branch(bot, slack, org):
    bot.command("UADMIN", "team 30d")
    answer = ephemeral_answer(slack)
    assert answer["text"].startswith("Codex usage of the organisation")
    assert "7 people" in answer["text"]
    blocks = str(answer["blocks"])
    # One line per person right below the CEO, with everyone below them.
    assert "*Max Manager* and everyone below · 3 people" in blocks
    assert "*Sol Stranger* and everyone below · 1 person" in blocks
    assert "*Arlo Archived* (left on" in blocks
    assert "At the top, without a manager* (Ada Admin, Cleo Chief) · 2 people" in blocks
    assert "Remy Report" not in blocks  # rolled up, not listed


def test_an_admin_with_a_team_asks_for_all(bot, slack, org, settings):
    settings.slack.admin_emails = ["ceo@example.com"]
    bot.command("UCEO", "team")
    assert ephemeral_answer(slack)["text"].startswith("Codex usage of your reporting line")
    bot.command("UCEO", "team all")
    assert ephemeral_answer(slack, 2)["text"].startswith("Codex usage of the organisation")
    bot.command("UMGR", "team all")
    assert (
        "Only codexbot admins can see the whole organisation" in ephemeral_answer(slack, 3)["text"]
    )


@pytest.mark.parametrize(
    ("asker", "manager", "allowed"),
    [
        ("UCEO", "UMGR", True),  # a manager within one's line
        ("UADMIN", "UMGR", True),  # admins: anyone's
        ("USTRANGER", "UMGR", False),  # the manager of another line
        ("UREP", "UMGR", False),  # one's own manager
        ("UPEER", "UMGR", False),
        ("UMGR", "UOUTSIDER", False),
    ],
)
def test_team_of_a_named_manager_follows_the_access_policy(
    bot, slack, org, asker, manager, allowed
):
    bot.command(asker, f"team <@{manager}|someone> 30d")
    answer = ephemeral_answer(slack)
    if allowed:
        assert answer["text"].startswith("Codex usage of Max Manager's reporting line")
        assert answer["blocks"][0]["text"]["text"] == "Codex usage: Max Manager's reporting line"
        assert "Remy Report" in str(answer["blocks"]) and "Pia Peer" in str(answer["blocks"])
    else:
        assert answer["text"].startswith("I can't show Codex stats for that person")
        assert AccessLog.select().count() == 0


def test_a_named_person_without_reports(bot, slack, org):
    bot.command("UMGR", "team <@UREP|remy>")
    assert "Nobody reports to Remy Report" in ephemeral_answer(slack)["text"]

"""`user_change` and `team_join`: Slack knows who left before the directory does.

The bot runs with one worker, so work is done in the order Slack's requests arrive: a
question sent after an account event is answered after the directory followed it.
"""

from __future__ import annotations

import pytest
from factories import person
from slack_requests import running_bot

from bot.cli.fake_slack import TEAM_ID
from sync.org.history import RELINKED, SLACK_DEACTIVATED, SLACK_REACTIVATED, recent_changes
from sync.store.models import Employee


@pytest.fixture
def serial_bot(settings, slack, slept):
    settings.slack.workers = 1
    with running_bot(settings, slack, sleep=slept) as sender:
        yield sender


def account(user_id, email, *, deleted=False, team_id=TEAM_ID, **flags) -> dict:
    """A user object as Slack puts it in user_change and team_join events."""
    return {
        "id": user_id,
        "team_id": team_id,
        "name": user_id.lower(),
        "deleted": deleted,
        "is_bot": False,
        "profile": {"email": email},
        **flags,
    }


def last_dm_to(slack, user_id: str, count: int) -> str:
    calls = slack.wait_for("chat.postMessage", count)
    texts = [c.params["text"] for c in calls if c.params["channel"] == f"D{user_id}"]
    return texts[-1]


def test_a_deactivated_account_sees_nothing_at_once_and_its_history_stays(serial_bot, slack, org):
    serial_bot.event(
        {"type": "user_change", "user": account("UMGR", "mgr@example.com", deleted=True)}
    )
    serial_bot.dm("UMGR", "my usage")
    assert not last_dm_to(slack, "UMGR", 1).startswith("Codex usage for")
    mgr = Employee.get(Employee.email == "mgr@example.com")
    assert mgr.slack_deactivated_at is not None and mgr.archived_on is None
    # Their manager still sees their history: only their own access went.
    serial_bot.command("UCEO", "stats <@UMGR>")
    (answer,) = slack.wait_for("response_url")
    assert "Codex usage for Max Manager" in str(answer.params)
    # Back in Slack: access returns.
    serial_bot.event({"type": "user_change", "user": account("UMGR", "mgr@example.com")})
    serial_bot.dm("UMGR", "my usage")
    assert last_dm_to(slack, "UMGR", 2).startswith("Codex usage for Max Manager")
    actions = [(c.actor, c.action, c.subject) for c in recent_changes()]
    assert actions[:2] == [
        ("slack", SLACK_REACTIVATED, "mgr@example.com"),
        ("slack", SLACK_DEACTIVATED, "mgr@example.com"),
    ]


def test_an_account_never_linked_is_matched_by_email_when_it_is_deactivated(serial_bot, slack, org):
    # Remy never used codexbot: the directory knows him by email only.
    serial_bot.event(
        {"type": "user_change", "user": account("UREP", "Rep@Example.com", deleted=True)}
    )
    serial_bot.command("UMGR", "team")
    slack.wait_for("response_url")
    assert Employee.get(Employee.email == "rep@example.com").slack_deactivated_at is not None


def test_an_account_from_another_organisation_changes_nothing(serial_bot, slack, org):
    # A Slack Connect user whose profile carries an admin's email is deactivated.
    outsider = account("UEXTERNAL", "admin@example.com", deleted=True, team_id="T2OTHERORG")
    serial_bot.event({"type": "user_change", "user": outsider})
    guest = account("UGUEST", "ceo@example.com", deleted=True, is_restricted=True)
    serial_bot.event({"type": "team_join", "user": guest})
    serial_bot.command("UADMIN", "status")
    slack.wait_for("response_url")
    assert Employee.get(Employee.email == "admin@example.com").slack_deactivated_at is None
    assert Employee.get(Employee.email == "ceo@example.com").slack_deactivated_at is None
    assert recent_changes() == []


def test_a_new_email_that_is_another_directory_entry_moves_the_link(serial_bot, slack, org):
    # The HRIS added Max under his new address; Slack's profile follows a day later.
    person("max.manager@example.com", "Max Manager")
    serial_bot.event({"type": "user_change", "user": account("UMGR", "Max.Manager@Example.com")})
    serial_bot.dm("UMGR", "my usage")
    slack.wait_for("chat.postMessage")
    assert Employee.get(Employee.email == "max.manager@example.com").slack_user_id == "UMGR"
    assert Employee.get(Employee.email == "mgr@example.com").slack_user_id is None
    (change,) = recent_changes()
    assert (change.action, change.subject, change.detail) == (
        RELINKED,
        "max.manager@example.com",
        {"from": "mgr@example.com"},
    )
    # An address that is nobody's leaves the link where the directory put it.
    serial_bot.event({"type": "user_change", "user": account("UMGR", "max@elsewhere.example")})
    serial_bot.dm("UMGR", "my usage")
    slack.wait_for("chat.postMessage", 2)
    assert Employee.get(Employee.email == "max.manager@example.com").slack_user_id == "UMGR"

"""The installation's team is the trust boundary: people from another Slack team (Slack
Connect, another organisation) get one neutral sentence, cause no lookup, and are never
matched to an employee, linked to one, or made an admin, whatever their email says."""

from __future__ import annotations

from sync.store.models import Connection, Employee

OUTSIDE = "UOUTSIDE"  # same email as the admin, from another organisation's team


def calls_about(slack, user_id: str) -> list:
    return [c for c in slack.calls if user_id in str(c.params)]


def test_an_outsider_with_an_admins_email_gets_nothing_and_changes_nothing(
    bot, slack, org, settings, simulator
):
    from sync.codex.connection import store_connection

    store_connection(simulator.workspace_id, simulator.api_key, settings.security.secret_key)
    slack.add_user(OUTSIDE, "admin@example.com", team_id="T2OTHERORG", is_stranger=False)
    for text in ("disconnect", "status", "stats", "audit <@UREP>", "connect"):
        response = bot.command(OUTSIDE, text, team_id="T2OTHERORG")
        assert response.status_code == 200
        assert "installed in only" in response.json()["text"]
    # A DM from them in a Slack Connect conversation: acknowledged, never answered.
    bot.dm(OUTSIDE, "who viewed my stats?", user_team="T2OTHERORG")
    assert Connection.select().count() == 1  # nothing was disconnected
    assert calls_about(slack, OUTSIDE) == []  # nobody looked them up or wrote to them
    assert slack.calls_to("response_url") == [] and slack.calls_to("views.open") == []
    admin = Employee.get(Employee.email == "admin@example.com")
    assert admin.slack_user_id == "UADMIN"  # the real admin keeps their account

    # The real admin still works afterwards.
    bot.command("UADMIN", "status")
    (status,) = slack.wait_for("response_url")
    assert f"workspace `{simulator.workspace_id}`" in status.params["text"]


def test_a_profile_from_another_team_is_never_matched_by_email(bot, slack, org):
    # Inside a shared channel the request may carry our team, but the profile says where
    # the person really belongs: matching them by email would hand them the CEO's view.
    slack.add_user("UCONNECT", "ceo@example.com", team_id="T2OTHERORG", is_stranger=False)
    bot.command("UCONNECT", "team")
    (answer,) = slack.wait_for("response_url")
    assert "not in codexbot's directory" in answer.params["text"]
    assert Employee.get(Employee.email == "ceo@example.com").slack_user_id == "UCEO"
    # Nor can they be asked about: a mention of them finds nobody.
    bot.command("UCEO", "stats <@UCONNECT>")
    refused = slack.wait_for("response_url", 2)[1]
    assert "I can't show Codex stats for that person" in refused.params["text"]
    # And an outsider with a config admin's email is no admin.
    slack.add_user("UCONNECT2", "config.admin@example.com", team_id="T2OTHERORG")
    bot.command("UCONNECT2", "disconnect")
    denied = slack.wait_for("response_url", 3)[2]
    assert "Only codexbot admins can disconnect Codex" in denied.params["text"]

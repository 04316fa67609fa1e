"""Every view of someone's stats is logged, and the person can ask who looked."""

from __future__ import annotations

from sync.store.models import AccessLog


def test_views_by_others_are_logged_and_shown_to_the_person(bot, slack, org):
    bot.command("UMGR", "stats <@UREP> 30d")
    slack.wait_for("response_url")
    bot.command("UCEO", "team")
    slack.wait_for("response_url", 2)
    bot.command("UREP", "stats")  # looking at oneself is not logged
    slack.wait_for("response_url", 3)
    bot.command("UPEER", "stats <@UREP>")  # refused: nothing shown, nothing logged
    slack.wait_for("response_url", 4)

    logged = {
        (row.viewer.email, row.surface)
        for row in AccessLog.select().where(AccessLog.target == org["rep"].id)
    }
    assert logged == {("mgr@example.com", "slash command"), ("ceo@example.com", "team")}

    bot.dm("UREP", "who viewed my stats?")
    (answer,) = slack.wait_for("chat.postMessage")
    text = str(answer.params["blocks"])
    assert "Max Manager* · slash command" in text
    assert "Cleo Chief* · team" in text
    assert "Pia Peer" not in text and "Remy Report*" not in text


def test_admins_audit_anyone_and_others_cannot(bot, slack, org):
    bot.command("UMGR", "stats <@UREP>")
    slack.wait_for("response_url")
    bot.command("UADMIN", "audit <@UREP|remy>")
    audit = slack.wait_for("response_url", 2)[1].params
    assert audit["text"] == "Who viewed Remy Report's Codex stats in the last 90 days: 1 view"
    assert "Max Manager* · slash command" in str(audit["blocks"])
    bot.command("UMGR", "audit <@UREP>")
    refused = slack.wait_for("response_url", 3)[2].params["text"]
    assert "Only codexbot admins can read the access log" in refused


def test_home_tab_and_digest_preview_views_are_logged(bot, slack, org):
    bot.event({"type": "app_home_opened", "user": "UMGR", "tab": "home"})
    slack.wait_for("views.publish")
    bot.command("UMGR", "digest preview")
    slack.wait_for("response_url")
    surfaces = sorted(
        row.surface for row in AccessLog.select().where(AccessLog.target == org["peer"].id)
    )
    assert surfaces == ["digest", "home"]

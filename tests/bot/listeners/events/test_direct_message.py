"""DMs to the bot, delivered as Events API callbacks."""

from __future__ import annotations

import time

import pytest


def test_a_dm_answers_the_senders_own_stats_in_the_dm(bot, slack, org):
    assert bot.dm("UREP", "my usage this week please").status_code == 200
    (posted,) = slack.wait_for("chat.postMessage")
    assert posted.params["channel"] == "DUREP"
    assert posted.params["text"].startswith("Codex usage for Remy Report")


@pytest.mark.parametrize(
    ("words", "days"),
    [("usage", 7), ("30d", 30), ("last 90 days", 90), ("today", 1), ("my stats", 7)],
)
def test_the_period_is_read_from_plain_words(bot, slack, org, words, days):
    bot.dm("UREP", words)
    (posted,) = slack.wait_for("chat.postMessage")
    assert (
        f"({days} day{'s' if days != 1 else ''})"
        in posted.params["blocks"][1]["elements"][0]["text"]
    )


def test_a_dm_cannot_ask_about_someone_else(bot, slack, org):
    bot.dm("UREP", "stats for <@UMGR> 30d")
    (posted,) = slack.wait_for("chat.postMessage")
    assert "Remy Report" in posted.params["text"]
    assert "Max Manager" not in str(posted.params)


def test_help_in_a_dm(bot, slack, org):
    bot.dm("UPEER", "help")
    (posted,) = slack.wait_for("chat.postMessage")
    assert "/codex stats" in str(posted.params["blocks"])


def test_someone_outside_the_directory_is_told_so(bot, slack, org):
    bot.dm("UOUTSIDER", "usage")
    (posted,) = slack.wait_for("chat.postMessage")
    assert "not in codexbot's directory" in posted.params["text"]


def test_bot_messages_edits_and_channel_messages_are_ignored_and_retries_answered_once(
    bot, slack, org
):
    bot.dm("UREP", "usage", bot_id="BOTHER")
    bot.dm("UREP", "usage", subtype="message_changed")
    bot.event(
        {
            "type": "message",
            "channel": "C1",
            "channel_type": "channel",
            "user": "UREP",
            "text": "usage",
            "ts": f"{time.time():.6f}",
        }
    )
    event = {
        "type": "message",
        "channel": "DUREP",
        "channel_type": "im",
        "user": "UREP",
        "text": "usage",
        "ts": f"{time.time():.6f}",
    }
    bot.event(event, event_id="EvRETRIED")
    bot.event(
        event,
        event_id="EvRETRIED",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    slack.wait_for("chat.postMessage")
    # The one real question was answered; let a second answer, if any, arrive first.
    bot.dm("UPEER", "usage")
    answers = slack.wait_for("chat.postMessage", 2)
    assert [a.params["channel"] for a in answers] == ["DUREP", "DUPEER"]
    assert len(slack.calls_to("chat.postMessage")) == 2


def test_an_email_match_is_remembered_so_slack_is_asked_once(bot, slack, org):
    from sync.store.models import Employee

    assert Employee.get(Employee.email == "rep@example.com").slack_user_id is None
    bot.dm("UREP", "usage")
    slack.wait_for("chat.postMessage")
    assert Employee.get(Employee.email == "rep@example.com").slack_user_id == "UREP"
    bot.dm("UREP", "30d")
    slack.wait_for("chat.postMessage", 2)
    assert len([c for c in slack.calls_to("users.info") if c.params["user"] == "UREP"]) == 1


def test_a_rate_limited_post_is_retried_after_retry_after_and_sent_once(bot, slack, org, slept):
    slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "30"})
    bot.dm("UREP", "usage")
    posts = slack.wait_for("chat.postMessage", 2)
    assert len(posts) == 2  # the refused one and the retry
    assert posts[0].params == posts[1].params
    (waited,) = slept  # the client's one wait (not a real one): Retry-After, plus jitter
    assert 30 <= waited < 31


def test_a_second_slack_account_with_an_employees_email_is_not_that_employee(bot, slack, org):
    # UMGR is Max's Slack id in the directory; another account claims Max's email.
    slack.add_user("UIMPOSTOR", "mgr@example.com")
    bot.dm("UIMPOSTOR", "usage")
    (posted,) = slack.wait_for("chat.postMessage")
    assert "not in codexbot's directory" in posted.params["text"]
    bot.command("UIMPOSTOR", "stats <@UREP> 30d")
    refusal = slack.wait_for("response_url")[0].params["text"]
    assert "not in codexbot's directory" in refusal and "Remy" not in refusal


def test_a_name_with_a_broadcast_mention_is_escaped_even_in_the_fallback_text(bot, slack, org):
    org["rep"].name = "<!channel> Remy"
    org["rep"].save()
    bot.dm("UREP", "usage")
    (posted,) = slack.wait_for("chat.postMessage")
    assert "<!channel>" not in str(posted.params)
    assert posted.params["text"].startswith("Codex usage for &lt;!channel&gt; Remy")


def test_guests_and_slack_connect_strangers_are_never_matched_by_email(bot, slack, org):
    from sync.store.models import Employee

    slack.add_user("UGUEST", "peer@example.com", is_restricted=True)
    bot.dm("UGUEST", "usage")
    (posted,) = slack.wait_for("chat.postMessage")
    assert "not in codexbot's directory" in posted.params["text"]
    slack.add_user("USTRANGERORG", "peer@example.com", is_stranger=True)
    bot.dm("USTRANGERORG", "usage")
    assert "not in codexbot's directory" in slack.wait_for("chat.postMessage", 2)[1].params["text"]
    assert Employee.get(Employee.email == "peer@example.com").slack_user_id is None


def test_a_question_in_a_dm_thread_is_answered_in_the_thread_whatever_replies_says(bot, slack, org):
    # Bolt would look the thread up with conversations.replies; when that fails, the
    # person must still get their answer.
    slack.fail_next("conversations.replies", 200, {"ok": False, "error": "ratelimited"}, {})
    bot.dm("UREP", "my usage", thread_ts="1700000000.000100")
    (answer,) = slack.wait_for("chat.postMessage")
    assert answer.params["thread_ts"] == "1700000000.000100"
    assert answer.params["text"].startswith("Codex usage for Remy Report")


def test_a_dm_with_a_file_or_a_thread_broadcast_is_still_a_question(bot, slack, org):
    bot.dm("UREP", "30d", subtype="file_share", files=[{"id": "F1", "name": "notes.txt"}])
    bot.dm("UPEER", "usage", subtype="thread_broadcast", thread_ts="1700000000.000200")
    answers = slack.wait_for("chat.postMessage", 2)
    assert sorted(a.params["channel"] for a in answers) == ["DUPEER", "DUREP"]


def test_an_archived_person_is_not_told_who_viewed_them(bot, slack, org):
    from sync.org.access_log import record_views

    record_views(org["mgr"], [org["archived"]], "slash command")
    org["archived"].slack_user_id = "UARCHIVED"
    org["archived"].save()
    bot.dm("UARCHIVED", "who viewed my stats?")
    (answer,) = slack.wait_for("chat.postMessage")
    assert "Max Manager" not in str(answer.params)
    assert answer.params["text"].startswith("I can't show Codex stats")


def test_answers_in_one_dm_take_turns_as_every_post_to_a_channel_does(bot, slack, org, slept):
    bot.dm("UREP", "usage")
    bot.dm("UREP", "30d")
    posts = slack.wait_for("chat.postMessage", 2)
    assert {post.params["channel"] for post in posts} == {"DUREP"}
    # say() posts through the app's paced client: the second answer waited for its turn.
    assert len(slept) == 1 and 0 < slept[0] <= 1.0

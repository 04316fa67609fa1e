"""The database or Slack going away: people get a clear answer, nothing is lost or doubled,
and the API key never leaks anywhere."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from factories import person, record_sync
from freezegun import freeze_time
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    default_retry_handlers,
)

from bot.digests import DigestDeliverer
from bot.slack import web_client
from sync.store.models import DigestDelivery, database


def test_database_unreachable_during_a_request_then_back(bot, slack, org, tmp_path):
    # The SQLite file's folder goes away, as a lost mount or disk would, then comes back.
    away = tmp_path.with_name(tmp_path.name + "-away")
    tmp_path.rename(away)
    try:
        assert bot.command("UREP", "stats").status_code == 200
        down = slack.wait_for("response_url")[0].params["text"]
        assert down == "codexbot is temporarily unavailable. Please try again in a few minutes."
        assert bot.dm("UREP", "usage").status_code == 200
        assert "temporarily unavailable" in slack.wait_for("chat.postMessage")[0].params["text"]
    finally:
        away.rename(tmp_path)
    bot.command("UREP", "stats")
    back = slack.wait_for("response_url", 2)[1].params
    assert back["text"].startswith("Codex usage for Remy Report")


@pytest.fixture
def managers(sqlite_db, slack):
    people = []
    for n in range(3):
        boss = person(f"boss{n}@example.com", f"Boss {n}")
        person(f"report{n}@example.com", f"Report {n}", manager=boss)
        boss.slack_user_id, boss.timezone = f"UBOSS{n}", "UTC"
        boss.save()
        slack.add_user(boss.slack_user_id, boss.email)
        people.append(boss)
    return people


def test_slack_down_or_rate_limited_during_digests_still_one_digest_each(
    settings, slack, managers, slept
):
    # The client retries as in production; its waits are recorded, not slept.
    deliverer = DigestDeliverer(settings, web_client(settings, sleep=slept), "replica")
    with freeze_time("2026-11-30 09:00:00") as clock:  # Monday 09:00 UTC
        record_sync()  # the week is synced: digests do not wait for data
        slack.go_down()
        assert deliverer.deliver_due() == 0
        assert {d.status for d in DigestDelivery.select()} == {"failed"}
        # Each refused connection was retried once, after slack_sdk's backoff with jitter.
        assert slept and all(0.5 <= seconds < 1.5 for seconds in slept)
        backoffs = len(slept)
        slack.come_back()
        slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "30"})  # then once
        for _ in range(12):  # an hour of ticks
            clock.tick(dt.timedelta(minutes=5))
            deliverer.deliver_due()
    posted = [c.params["channel"] for c in slack.calls_to("chat.postMessage")]
    # The 429 was retried by the client: one refused post plus one accepted per manager.
    assert sorted(set(posted)) == ["DUBOSS0", "DUBOSS1", "DUBOSS2"]
    assert len(posted) == 4
    assert DigestDelivery.select().where(DigestDelivery.status == "sent").count() == 3
    (waited,) = slept[backoffs:]  # the 429's one wait: Retry-After, plus jitter
    assert 30 <= waited < 31


def test_the_slack_client_retries_as_slack_sdk_does_and_really_sleeps_by_default(settings):
    connection, rate_limit = web_client(settings).retry_handlers
    # slack_sdk's default handler, as it comes, then the 429 handler codexbot adds.
    (stock,) = default_retry_handlers()
    assert isinstance(connection, type(stock)) and isinstance(stock, ConnectionErrorRetryHandler)
    assert connection.max_retry_count == stock.max_retry_count == 1
    assert connection.interval_calculator is stock.interval_calculator
    assert connection.error_types_to_do_retries == stock.error_types_to_do_retries
    assert isinstance(rate_limit, RateLimitErrorRetryHandler)
    assert rate_limit.max_retry_count == 3
    assert connection.sleep is rate_limit.sleep is time.sleep


def test_the_api_key_never_appears_in_logs_slack_calls_errors_or_database_bytes(
    bot, slack, org, simulator, settings, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    key = simulator.api_key
    bot.view_submission("UADMIN", "sk-wrong-key-0000000000", simulator.workspace_id)
    bot.view_submission("UADMIN", key, simulator.workspace_id)
    slack.wait_for("chat.postMessage", 2)  # connected, then first sync finished
    bot.command("UADMIN", "status")
    slack.wait_for("response_url")
    assert all(key not in record.getMessage() for record in caplog.records)
    assert all(key not in call.raw for call in slack.calls)
    database.close()
    for path in tmp_path.glob("codexbot.db*"):  # the database, its WAL and shared memory
        try:
            stored = path.read_bytes()
        except FileNotFoundError:  # SQLite removed it (a last connection closing): no key
            continue
        assert key.encode() not in stored, path.name
    assert any(tmp_path.glob("codexbot.db*"))

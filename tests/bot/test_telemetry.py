"""GET /metrics and JSON logs, as operators use them: the app served over HTTP, Slack's
requests signed, the figures of the shared database read at each scrape."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import httpx
import pytest
from click.testing import CliRunner
from factories import WORKSPACE, person
from prometheus_client.parser import text_string_to_metric_families
from running_process import codexbot_run_http

from bot.cli import cli
from bot.server import METRICS_PATH
from bot.telemetry import REGISTRY, JsonLogFormatter
from sync.clock import utc_timestamp, utc_today
from sync.codex.client import CodexAnalyticsClient
from sync.store.models import DigestDelivery, SyncRun

Samples = dict[tuple[str, frozenset], float]


def scrape(url: str, accept: str | None = None) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    return httpx.get(url.replace("/slack/events", METRICS_PATH), headers=headers, timeout=10)


def samples(bot) -> Samples:
    """Every sample GET /metrics exposes: (name, labels) -> value."""
    response = scrape(bot.url)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return (value(after, name, **labels) or 0.0) - (value(before, name, **labels) or 0.0)


def test_slack_requests_are_counted_by_kind_and_status_with_their_latency(bot, slack, org):
    before = samples(bot)
    assert bot.command("UREP", "stats").status_code == 200
    slack.wait_for("response_url")
    assert bot.dm("UREP", "my usage").status_code == 200
    slack.wait_for("chat.postMessage")
    assert bot.command("UREP", "stats", signature="v0=" + "0" * 64).status_code == 401
    after = samples(bot)

    requests = "codexbot_slack_requests_total"
    assert delta(before, after, requests, kind="slash_command", status="200") == 1
    assert delta(before, after, requests, kind="slash_command", status="401") == 1
    assert delta(before, after, requests, kind="event", status="200") == 1
    assert delta(before, after, requests, kind="view_submission", status="200") == 0
    latency = "codexbot_slack_request_duration_seconds"
    assert delta(before, after, f"{latency}_count", kind="slash_command") == 2
    assert delta(before, after, f"{latency}_count", kind="event") == 1
    assert delta(before, after, f"{latency}_bucket", kind="event", le="+Inf") == 1
    assert delta(before, after, f"{latency}_bucket", kind="event", le="10.0") == 1
    assert delta(before, after, f"{latency}_sum", kind="event") > 0
    # Every kind is on show, whether or not it came.
    for kind in ("slash_command", "event", "view_submission", "block_action", "other"):
        assert value(after, f"{latency}_count", kind=kind) is not None
    # Scrapes are not Slack requests; and nothing of the bodies is exposed.
    assert delta(before, after, requests, kind="other", status="200") == 0
    assert "UREP" not in scrape(bot.url).text


def test_the_figures_of_the_database_are_read_at_each_scrape(bot, org):
    SyncRun.delete().execute()  # the org fixture's usage came with a sync: none, here
    never = samples(bot)
    assert value(never, "codexbot_last_successful_sync_age_seconds") is None
    assert value(never, "codexbot_last_sync_outcome", outcome="ok") is None
    assert value(never, "codexbot_sync_rows_total") == 0
    for status in ("sent", "failed", "waiting"):
        assert value(never, "codexbot_digest_deliveries", status=status) == 0

    now = utc_timestamp()

    def run(outcome, rows, finished_minutes_ago=None, workspace=WORKSPACE, **fields):
        finished = None
        if finished_minutes_ago is not None:
            finished = now - dt.timedelta(minutes=finished_minutes_ago)
        return SyncRun.create(
            workspace_id=workspace,
            started_at=now - dt.timedelta(hours=3),
            finished_at=finished,
            window_start=utc_today(),
            window_end=utc_today(),
            outcome=outcome,
            rows=rows,
            **fields,
        )

    rejected = json.dumps({"no_user": 2, "outside_window": 1})
    run("ok", 100, 120, rejected=rejected, duration_seconds=12.5)
    run("ok", 40, 60, rejected=json.dumps({"no_user": 3}), duration_seconds=7.25)
    run("failed", 5, 30, duration_seconds=3.0)
    # Another workspace's history counts in the totals, not in the current one's figures.
    run("ok", 1000, 1, workspace="another", rejected=json.dumps({"too_large": 4}))
    run("running", 7)  # under way: its rows are stored, it has not ended

    boss = person("boss@example.com")
    for n, status in enumerate(["sent", "sent", "sent", "failed", "waiting", "waiting"]):
        DigestDelivery.create(
            kind="manager",
            employee=boss,
            period_end=utc_today() - dt.timedelta(days=7 * n),
            status=status,
            claimed_at=now,
        )

    found = samples(bot)
    age = value(found, "codexbot_last_successful_sync_age_seconds")
    assert age is not None and 3600 <= age < 3600 + 60
    assert value(found, "codexbot_last_successful_sync_rows") == 40
    assert value(found, "codexbot_sync_rows_total") == 100 + 40 + 5 + 1000 + 7
    assert value(found, "codexbot_sync_rejected_rows_total", reason="no_user") == 5
    assert value(found, "codexbot_sync_rejected_rows_total", reason="outside_window") == 1
    assert value(found, "codexbot_sync_rejected_rows_total", reason="too_large") == 4
    assert value(found, "codexbot_last_sync_duration_seconds") == 3.0
    outcomes = {"ok": 0, "failed": 1, "timed_out": 0, "interrupted": 0}
    for outcome, flag in outcomes.items():
        assert value(found, "codexbot_last_sync_outcome", outcome=outcome) == flag
    digests = {"sent": 3, "failed": 1, "waiting": 2}
    for status, count in digests.items():
        assert value(found, "codexbot_digest_deliveries", status=status) == count

    # A scraper asking for OpenMetrics gets it.
    openmetrics = scrape(bot.url, accept="application/openmetrics-text; version=1.0.0")
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")


def test_metrics_answer_503_while_the_database_is_unreachable(bot, org, tmp_path):
    # The SQLite file's folder goes away, as a lost mount or disk would, then comes back.
    away = tmp_path.with_name(tmp_path.name + "-away")
    tmp_path.rename(away)
    try:
        down = scrape(bot.url)
    finally:
        away.rename(tmp_path)
    assert down.status_code == 503
    assert down.headers["Content-Type"].startswith("text/plain")
    assert down.text == "database unreachable (OperationalError)\n"
    assert scrape(bot.url).status_code == 200


def test_codex_api_responses_are_counted_by_status():
    answers = iter([httpx.Response(500), httpx.Response(200, json={"data": []})])
    transport = httpx.MockTransport(lambda request: next(answers))

    def count(status: str) -> float:
        found = REGISTRY.get_sample_value("codexbot_codex_api_responses_total", {"status": status})
        return found or 0.0

    before = {status: count(status) for status in ("500", "200")}
    with CodexAnalyticsClient(
        "https://codex.test/v1", "sk-test", WORKSPACE, transport=transport, sleep=lambda s: None
    ) as client:
        client.validate()  # the 500 is retried, the 200 is a page
    assert count("500") - before["500"] == 1
    assert count("200") - before["200"] == 1


def test_the_json_log_formatter_writes_one_object_a_line_with_the_exception():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("codexbot.test_telemetry")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            logger.error("sync %s failed", 7, exc_info=True)
    finally:
        logger.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "codexbot.test_telemetry"
    assert entry["message"] == "sync 7 failed"
    assert entry["exception"].startswith("Traceback") and "ValueError: bad" in entry["exception"]
    parsed = dt.datetime.fromisoformat(entry["time"])
    assert parsed.utcoffset() == dt.timedelta(0)


def test_a_bad_log_format_fails_naming_its_key(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "CODEXBOT_LOG_FORMAT": "yaml"}
    result = CliRunner().invoke(cli, ["db", "status"], env=env)
    assert result.exit_code == 1
    assert "logging.format" in result.output


@pytest.mark.slow
def test_codexbot_run_logs_json_lines_and_serves_metrics(tmp_path):
    with codexbot_run_http(tmp_path, CODEXBOT_LOG_FORMAT="json") as bot:
        entry = json.loads(bot.listening_line)
        assert set(entry) == {"time", "level", "logger", "message"}
        assert entry["level"] == "INFO" and entry["logger"] == "codexbot"
        assert entry["message"] == f"codexbot listening on {bot.base_url}/slack/events"
        response = httpx.get(f"{bot.base_url}{METRICS_PATH}", timeout=10)
        assert response.status_code == 200
        names = {family.name for family in text_string_to_metric_families(response.text)}
        assert {"codexbot_slack_requests", "codexbot_last_successful_sync_age_seconds"} <= names

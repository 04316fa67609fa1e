"""Operations: the Prometheus metrics served at GET /metrics, and JSON log lines.

Figures about the shared database (syncs, rejected rows, digests) are read from it at each
scrape, so every replica reports the same truth. Figures only this process sees (Slack
requests and their acknowledgement latency, Codex API responses) are counted where they
happen. All of them live in one dedicated registry, not prometheus_client's global one.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import parse_qs

from peewee import fn
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.guard import DATABASE_ERRORS, schema_gate
from bot.rendering import words
from sync.clock import utc_timestamp
from sync.codex.telemetry import API_RESPONSES
from sync.ingest.job import last_successful_sync
from sync.store.models import DigestDelivery, SyncRun, database
from sync.store.workspaces import current_workspace_id

REGISTRY = CollectorRegistry()
_TEXT = "text/plain; charset=utf-8"

# The kinds of request Slack sends; anything else (a URL check, a shortcut) is "other".
SLACK_REQUEST_KINDS = ("slash_command", "event", "view_submission", "block_action", "other")
_PAYLOAD_KINDS = {
    "event_callback": "event",
    "view_submission": "view_submission",
    "block_actions": "block_action",
}

SLACK_REQUESTS = Counter(
    "codexbot_slack_requests",
    "Slack requests answered by this process, by kind and HTTP status.",
    ["kind", "status"],
    registry=REGISTRY,
)
# Slack wants an acknowledgement within 3 seconds: the buckets are dense below that.
SLACK_REQUEST_SECONDS = Histogram(
    "codexbot_slack_request_duration_seconds",
    "Time to acknowledge a Slack request (the slow work runs afterwards), by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
    registry=REGISTRY,
)
REGISTRY.register(API_RESPONSES)
for _kind in SLACK_REQUEST_KINDS:  # every kind is on show from the start, at zero
    SLACK_REQUEST_SECONDS.labels(kind=_kind)


def slack_request_kind(environ: dict) -> str:
    """What a screened Slack request is, from its body (left in `wsgi.input` by the
    server's screening), which is neither kept nor logged: only the kind is returned."""
    stream = environ.get("wsgi.input")
    if not isinstance(stream, io.BytesIO):
        return "other"
    try:
        text = stream.getvalue().decode("utf-8")
        if environ.get("CONTENT_TYPE", "").startswith("application/json"):
            payload = json.loads(text)
        else:
            form = parse_qs(text)
            if "command" in form:
                return "slash_command"
            payload = json.loads(form["payload"][0]) if "payload" in form else None
    # RecursionError: JSON nested deeper than the parser goes.
    except (ValueError, RecursionError):
        return "other"
    kind = payload.get("type") if isinstance(payload, dict) else None
    return _PAYLOAD_KINDS.get(kind, "other") if isinstance(kind, str) else "other"


def observe_slack_request(handler: Callable, environ: dict, start_response: Callable):
    """Run Slack's WSGI handler for one request, counting it by kind and status and timing
    it: with the slow work on the worker pool, that is the acknowledgement."""
    kind = slack_request_kind(environ)
    status = "500"  # unless the handler answers

    def recording_start_response(status_line: str, headers, exc_info=None):
        nonlocal status
        status = status_line.split(" ", 1)[0]
        return start_response(status_line, headers, exc_info)

    started = time.perf_counter()
    try:
        return handler(environ, recording_start_response)
    finally:
        SLACK_REQUEST_SECONDS.labels(kind=kind).observe(time.perf_counter() - started)
        SLACK_REQUESTS.labels(kind=kind, status=status).inc()


class StoredFigures(Collector):
    """The figures of the shared database, read at each scrape (within a connection the
    caller opened): the same on every replica."""

    OUTCOMES = (
        SyncRun.OUTCOME_OK,
        SyncRun.OUTCOME_FAILED,
        SyncRun.OUTCOME_TIMED_OUT,
        SyncRun.OUTCOME_INTERRUPTED,
    )
    DIGEST_STATUSES = (
        DigestDelivery.STATUS_SENT,
        DigestDelivery.STATUS_FAILED,
        DigestDelivery.STATUS_WAITING,
    )

    def collect(self) -> Iterator[Metric]:
        workspace_id = current_workspace_id()
        yield from self._last_successful_sync(workspace_id)
        yield from self._last_sync(workspace_id)
        yield from self._totals()
        yield self._digests()

    def _last_successful_sync(self, workspace_id: str | None) -> Iterable[Metric]:
        age = GaugeMetricFamily(
            "codexbot_last_successful_sync_age_seconds",
            "Seconds since the current workspace's last successful sync finished "
            "(absent when it never synced).",
        )
        rows = GaugeMetricFamily(
            "codexbot_last_successful_sync_rows",
            "Rows stored by the current workspace's last successful sync.",
        )
        last = last_successful_sync(workspace_id) if workspace_id is not None else None
        if last is not None and last.finished_at is not None:
            seconds = (utc_timestamp() - last.finished_at).total_seconds()
            age.add_metric([], max(0.0, seconds))
            rows.add_metric([], last.rows)
        return age, rows

    def _last_sync(self, workspace_id: str | None) -> Iterable[Metric]:
        """The latest sync of the current workspace that has ended, however it ended."""
        duration = GaugeMetricFamily(
            "codexbot_last_sync_duration_seconds",
            "How long the current workspace's latest ended sync took.",
        )
        outcome = GaugeMetricFamily(
            "codexbot_last_sync_outcome",
            "1 for the outcome of the current workspace's latest ended sync, 0 for the others.",
            labels=["outcome"],
        )
        last = None
        if workspace_id is not None:
            last = (
                SyncRun.select()
                .where(
                    SyncRun.workspace_id == workspace_id,
                    SyncRun.outcome != SyncRun.OUTCOME_RUNNING,
                )
                .order_by(SyncRun.id.desc())
                .first()
            )
        if last is not None:
            if last.duration_seconds is not None:
                duration.add_metric([], last.duration_seconds)
            known = dict.fromkeys((*self.OUTCOMES, last.outcome))
            for name in known:
                outcome.add_metric([name], 1.0 if name == last.outcome else 0.0)
        return duration, outcome

    def _totals(self) -> Iterable[Metric]:
        rows = CounterMetricFamily(
            "codexbot_sync_rows", "Rows stored by all recorded syncs, of every workspace."
        )
        rows.add_metric([], SyncRun.select(fn.COALESCE(fn.SUM(SyncRun.rows), 0)).scalar())
        rejected_by_reason: Tally[str] = Tally()
        stored = SyncRun.select(SyncRun.rejected).where(SyncRun.rejected.is_null(False))
        for (text,) in stored.tuples().iterator():
            rejected_by_reason.update(_reason_counts(text))
        rejected = CounterMetricFamily(
            "codexbot_sync_rejected_rows",
            "Rows the API sent that all recorded syncs did not store, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(rejected_by_reason.items()):
            rejected.add_metric([reason], count)
        return rows, rejected

    def _digests(self) -> Metric:
        counts = dict.fromkeys(self.DIGEST_STATUSES, 0)
        query = DigestDelivery.select(DigestDelivery.status, fn.COUNT(DigestDelivery.id))
        counts.update(query.group_by(DigestDelivery.status).tuples())
        digests = GaugeMetricFamily(
            "codexbot_digest_deliveries",
            "Digests by status: sent, failed (tried again later), waiting for complete data.",
            labels=["status"],
        )
        for status, count in counts.items():
            digests.add_metric([status], count)
        return digests


def _reason_counts(text: str) -> dict[str, int]:
    """A run's stored {reason: count}; anything else counts for nothing."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        str(reason): count
        for reason, count in value.items()
        if isinstance(count, int) and not isinstance(count, bool)
    }


REGISTRY.register(StoredFigures())


def metrics(accept: str | None) -> tuple[int, str, bytes]:
    """The status, content type and body of GET /metrics: the exposition format the scraper
    asks for (Prometheus text by default), or 503 and why when the database cannot be
    read."""
    encode, content_type = choose_encoder(accept or "")
    try:
        with database.connection_context():
            schema = schema_gate.problem()
            if schema is not None:
                return 503, _TEXT, f"{words(schema)}\n".encode()
            return 200, content_type, encode(REGISTRY)
    except DATABASE_ERRORS as exc:
        return 503, _TEXT, f"database unreachable ({type(exc).__name__})\n".encode()


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and the
    exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry)

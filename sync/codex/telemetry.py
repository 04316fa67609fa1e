"""What this process saw of the Codex Analytics API, as Prometheus metrics. They are
registered nowhere here: the bot serves them with its own registry (bot/telemetry.py)."""

from __future__ import annotations

from prometheus_client import Counter

API_RESPONSES = Counter(
    "codexbot_codex_api_responses",
    "Codex Analytics API responses by HTTP status, retried attempts included.",
    ["status"],
    registry=None,
)

"""The six stats people see, defined once: names, labels and what each means."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    meaning: str


METRICS = (
    Metric("threads", "Threads", "Codex conversations started"),
    Metric("turns", "Turns", "requests sent to Codex within those threads"),
    Metric("credits", "Credits", "Codex credits consumed"),
    Metric("input_tokens", "Input tokens", "text sent to the model, cached and uncached"),
    Metric("output_tokens", "Output tokens", "text the model wrote back"),
    Metric("total_tokens", "Total tokens", "input plus output tokens"),
)


@dataclass(frozen=True)
class Stats:
    """The six counts over some rows. A token count is None when no row had it yet;
    `tokens_pending` says some rows are still waiting for theirs (the API publishes
    tokens a day late), so a known sum may still grow."""

    threads: int = 0
    turns: int = 0
    credits: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    tokens_pending: bool = False

    @property
    def is_active(self) -> bool:
        return self.threads > 0 or self.turns > 0 or self.credits > 0

    def value(self, key: str):
        return getattr(self, key)


STAT_FIELDS = tuple(f.name for f in fields(Stats) if f.name != "tokens_pending")

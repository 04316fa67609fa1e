"""The stats people see, defined once: names, labels and what each means.

Seven are counts summed over rows; turn depth and cache share are derived from two of them
(a ratio of sums, never a sum of ratios), so every surface and period computes them the
same way."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    meaning: str
    # A ratio of two counts: with no base it is no number at all ("–"), not unknown.
    ratio: bool = False
    # A ratio read as a percentage.
    percent: bool = False
    # The count without which the ratio is unknown (not published, or stored before it
    # was kept) rather than no number.
    unknown_without: str | None = None


METRICS = (
    Metric("threads", "Threads", "Codex conversations started"),
    Metric("turns", "Turns", "requests sent to Codex within those threads"),
    Metric("credits", "Credits", "Codex credits consumed"),
    Metric("input_tokens", "Input tokens", "text sent to the model, cached and uncached"),
    Metric("output_tokens", "Output tokens", "text the model wrote back"),
    Metric("total_tokens", "Total tokens", "input plus output tokens"),
    Metric(
        "turn_depth",
        "Turn depth",
        "turns per thread (turns ÷ threads): how far a conversation goes; – with no threads",
        ratio=True,
    ),
    Metric(
        "cache_share",
        "Cache share",
        "cached input tokens over input tokens: how much of the text sent the model read"
        " from its prompt cache; unknown for days stored before codexbot kept cached tokens",
        ratio=True,
        percent=True,
        unknown_without="cached_input_tokens",
    ),
)


@dataclass(frozen=True)
class Stats:
    """The seven counts over some rows. A token count is None when no row had it yet;
    `tokens_pending` says some rows are still waiting for theirs (the API publishes
    tokens a day late), so a known sum may still grow. `cached_input_tokens` is summed
    over the same rows as `input_tokens`, and is None when one of them lacks it (stored
    before schema v6): a part of the cache would make a wrong share."""

    threads: int = 0
    turns: int = 0
    credits: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cached_input_tokens: int | None = None
    tokens_pending: bool = False

    @property
    def is_active(self) -> bool:
        return self.threads > 0 or self.turns > 0 or self.credits > 0

    @property
    def turn_depth(self) -> float | None:
        """Turns per thread; None with no threads (not a number: never shown as 0)."""
        if self.threads == 0:
            return None
        return self.turns / self.threads

    @property
    def cache_share(self) -> float | None:
        """Cached input tokens over input tokens; None when either is unknown or nothing
        was sent (never shown as 0)."""
        if self.cached_input_tokens is None or not self.input_tokens:
            return None
        return self.cached_input_tokens / self.input_tokens

    def value(self, key: str):
        return getattr(self, key)


# The stored counts: what rows sum and exports write (turn depth and cache share are
# derived, not stored).
STAT_FIELDS = tuple(f.name for f in fields(Stats) if f.name != "tokens_pending")

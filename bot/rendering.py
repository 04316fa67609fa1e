"""Jinja2 rendering of every message codexbot prints or posts, with shared number filters."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sync.notices import Notice, Problem
from sync.reports.metrics import METRICS
from sync.reports.periods import STATS_PERIOD_DAYS, TEAM_PERIOD_DAYS

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
SPARK_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values) -> str:
    values = list(values)
    top = max(values, default=0)
    if top <= 0:
        return SPARK_BARS[0] * len(values)
    return "".join(SPARK_BARS[min(7, int(v / top * 7.999))] for v in values)


def format_number(value) -> str:
    """Counts for people: thousands separated, fractions only where they carry meaning."""
    if value is None:
        return "unknown"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{int(value):,}"


def format_change(change: float | None) -> str:
    """An arrow and a share; "–" where there is no previous figure to compare with."""
    if change is None:
        return "–"
    arrow = "↑" if change > 0.005 else "↓" if change < -0.005 else "→"
    return f"{arrow} {abs(change):.0%}"


def format_share(value: float) -> str:
    """A ratio as a whole percentage: 1.5 is "150%"."""
    return f"{value:.0%}"


def format_days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def format_day(day: dt.date) -> str:
    return f"{day:%a %-d %b}"


def format_day_ranges(ranges) -> str:
    """ "3–12 Oct, 28 Oct – 2 Nov, 5 Nov": runs of days, as short as they read clearly."""
    parts = []
    for first, last in ranges:
        if first == last:
            parts.append(f"{first:%-d %b}")
        elif (first.year, first.month) == (last.year, last.month):
            parts.append(f"{first:%-d}–{last:%-d %b}")
        else:
            parts.append(f"{first:%-d %b} – {last:%-d %b}")
    return ", ".join(parts)


def format_timestamp(moment: dt.datetime | None, time_zone: str = "UTC") -> str:
    """A moment (naive means UTC, as stored) on the reader's clock, saying whose."""
    if moment is None:
        return "never synced"
    if time_zone == "UTC":
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    local = moment.replace(tzinfo=moment.tzinfo or dt.UTC).astimezone(ZoneInfo(time_zone))
    return f"{local:%Y-%m-%d %H:%M} {local:%Z} ({time_zone})"


def format_clock(moment: dt.datetime) -> str:
    """An aware moment as its own clock reads it: "Fri 27 Nov 16:00"."""
    return f"{moment:%a %-d %b %H:%M}"


def credits_by_surface(by_surface: dict) -> str:
    """ "IDE 48.2, GitHub 4.2": where a person's credits went, in surface order."""
    return ", ".join(
        f"{surface} {format_number(stats.credits)}" for surface, stats in by_surface.items()
    )


def escape_mrkdwn(text) -> str:
    """Slack's three control characters, so names and user text can't form mentions."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def words(notice: Notice | Problem) -> str:
    """The sentence for a notice (or a problem's notice), from templates/_notices.j2."""
    if isinstance(notice, Problem):
        notice = notice.notice
    template = environment().get_template("_notices.j2")
    return template.render(kind=notice.kind, p=notice.params).strip()


def capitalize_first(text: str) -> str:
    """A sentence's first letter up, the rest as it is (Jinja's capitalize lowers it)."""
    return text[:1].upper() + text[1:]


def plain_safe(text) -> str:
    """For plain_text fields, which show entities literally: drop the mention brackets."""
    return str(text).replace("<", "").replace(">", "")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
        # Templates ship with the code: no stat() of the file at every render (3% of a
        # busy bot's CPU, measured by bench/slack_load.py).
        auto_reload=False,
    )
    env.filters.update(
        number=format_number,
        change=format_change,
        day=format_day,
        day_ranges=format_day_ranges,
        days=format_days,
        share=format_share,
        timestamp=format_timestamp,
        clock=format_clock,
        sparkline=sparkline,
        credits_by_surface=credits_by_surface,
        mrkdwn=escape_mrkdwn,
        plain=plain_safe,
        capitalize_first=capitalize_first,
        words=words,
    )
    env.globals.update(
        notice=lambda kind, **params: Notice(kind, params),
        metrics=METRICS,
        stats_period_days=STATS_PERIOD_DAYS,
        team_period_days=TEAM_PERIOD_DAYS,
    )
    return env


def render(template_name: str, **context) -> str:
    return environment().get_template(template_name).render(**context).rstrip() + "\n"

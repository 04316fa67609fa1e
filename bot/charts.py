"""PNG charts of Codex usage, for the places people would rather look than read.

Three charts, each drawn from an answer someone was already allowed to see:
- `stats_chart`: one person's credits per day, stacked by surface, with the period before
  as a faint line (a stats answer);
- `digest_chart`: small multiples, one panel per direct report on one shared scale (a
  manager's digest);
- `team_chart`: a reporting line's credits per day, the same way (the Home tab).

bot/chart_drawing.py draws them (matplotlib, Agg backend: readable in Slack's light and
dark themes, the same bytes for the same figures). Every word on a chart, its alt text
and the sentence it is shared with come from templates/_charts.j2; bot/chart_delivery.py
puts charts into DMs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.chart_drawing import HEIGHT, SMOOTH_AFTER_DAYS, WIDTH, Panel, draw_panels, draw_trend
from bot.rendering import environment
from sync.reports.answers import TeamUsage
from sync.reports.digest import Digest
from sync.reports.periods import Period
from sync.reports.queries import StatsAnswer
from sync.reports.trends import summed_trend, trend_of
from sync.store.models import Employee

# Image alt text: Slack's image block takes 2,000 characters, a file's alt_txt 1,000.
ALT_TEXT_LIMIT = 1000
# The digest's panels: more than this and each would be too small to read.
MAX_PANELS = 18


@dataclass(frozen=True)
class Chart:
    kind: str  # "stats", "team" or "digest"
    png: bytes
    title: str
    alt_text: str
    comment: str  # the sentence the chart is shared into a DM with
    filename: str
    period: Period
    data_as_of: dt.datetime | None
    people: tuple[Employee, ...]  # whose figures it shows: each is a view to log
    width: int = WIDTH
    height: int = HEIGHT


def stats_chart(answer: StatsAnswer) -> Chart:
    """One person's days, from the stats answer they (or their manager) asked for."""
    trend = trend_of(answer)
    words = _Words("stats", trend=trend, name=answer.employee.display_name)
    png = draw_trend(trend, words)
    return _chart("stats", png, words, trend.period, trend.data_as_of, trend.people)


def team_chart(team: TeamUsage, *, home: bool = False) -> Chart:
    """A reporting line's days, summed over everyone in it (not only the rows shown)."""
    trend = summed_trend(team.members or team.rows)
    name = team.manager.display_name if team.manager is not None else ""
    words = _Words("team", trend=trend, name=name, home=home)
    png = draw_trend(trend, words)
    return _chart("team", png, words, trend.period, trend.data_as_of, trend.people)


def digest_chart(digest: Digest) -> Chart | None:
    """The direct reports side by side on one scale; None for a digest with nobody."""
    if not digest.entries:
        return None
    panels = [
        Panel(
            entry.answer.employee.display_name,
            trend_of(entry.answer),
            entry.answer.has_codex_account,
            entry.answer.change("credits"),
            entry.left_on,
        )
        for entry in digest.entries
    ]
    shown, more = panels[:MAX_PANELS], max(0, len(panels) - MAX_PANELS)
    words = _Words("digest", digest=digest, panels=shown, more=more)
    png = draw_panels(shown, more, words)
    people = tuple(entry.answer.employee for entry in digest.entries[:MAX_PANELS])
    return _chart("digest", png, words, digest.period, digest.data_as_of, people)


def _chart(kind, png, words, period, data_as_of, people) -> Chart:
    alt = words("alt")
    if len(alt) > ALT_TEXT_LIMIT:
        alt = alt[: ALT_TEXT_LIMIT - 1] + "…"
    return Chart(
        kind=kind,
        png=png,
        title=words("title"),
        alt_text=alt,
        comment=words("comment"),
        filename=words("filename"),
        period=period,
        data_as_of=data_as_of,
        people=tuple(people),
    )


class _Words:
    """The chart's words, from templates/_charts.j2, one `part` at a time."""

    def __init__(self, kind: str, **context) -> None:
        self.kind = kind
        self.context = {
            "name": "",
            "home": False,
            "panels": [],
            "more": 0,
            "smooth_after_days": SMOOTH_AFTER_DAYS,
            **context,
        }
        self.template = environment().get_template("_charts.j2")

    def __call__(self, part: str, **extra) -> str:
        text = self.template.render({**self.context, **extra, "kind": self.kind, "part": part})
        return " ".join(text.split())

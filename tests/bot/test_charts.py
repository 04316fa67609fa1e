"""The PNG charts: they decode, have the promised size, show the data (not a blank
canvas), say their period and "data as of" in the alt text, draw only the people the
answer they come from holds, and come out the same byte for byte."""

from __future__ import annotations

import datetime as dt
import io
import struct
import time
import zlib

import matplotlib.image
import numpy as np
import pytest
from factories import person, store_usage, usage

from bot.chart_drawing import HEIGHT, SURFACE_COLOURS, WIDTH
from bot.charts import MAX_PANELS, digest_chart, stats_chart, team_chart
from bot.rendering import format_number
from sync.clock import utc_today
from sync.reports.answers import team_for
from sync.reports.digest import compose_digest
from sync.reports.periods import Period
from sync.reports.queries import stats_answer
from sync.reports.surfaces import CLI, GITHUB, IDE

CLIENTS = {"CODEX_CLI": CLI, "CODEX_IDE_VSCODE": IDE, "CODEX_GITHUB": GITHUB}


@pytest.fixture
def team(sqlite_db):
    """A manager, three reports with usage on three surfaces over 60 days (so the 30 days
    before count too), one report without a Codex account, and someone elsewhere."""
    today = utc_today()
    boss = person("boss@example.com", "Bea Boss")
    reports = [person(f"r{n}@example.com", f"Report {n}", manager=boss) for n in range(3)]
    person("nocodex@example.com", "Nia No-Codex", manager=boss)
    outsider = person("out@example.com", "Otto Outside")
    records = []
    for offset in range(1, 61):
        day = today - dt.timedelta(days=offset)
        for n, client in enumerate(CLIENTS):
            records.append(
                usage(f"u{n}", day, client, email=f"r{n}@example.com", credits=1 + offset % 5 + n)
            )
        records.append(usage("u-out", day, email="out@example.com", credits=999.0))
    store_usage(records)
    return {"boss": boss, "reports": reports, "outsider": outsider, "today": today}


def decoded(png: bytes) -> np.ndarray:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def ihdr_size(png: bytes) -> tuple[int, int]:
    """The width and height the PNG's header chunk states, its CRC checked."""
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    data, (crc,) = png[16:29], struct.unpack(">I", png[29:33])
    assert zlib.crc32(kind + data) == crc
    width, height = struct.unpack(">II", data[:8])
    return width, height


def drawn_colours(image: np.ndarray, *, opaque: bool = False) -> set[tuple[int, ...]]:
    """The distinct colours drawn on a transparent RGBA image, as 8-bit RGBA (only the
    fully opaque ones with `opaque`, as 8-bit RGB)."""
    pixels = image[image[..., 3] > 0.99][:, :3] if opaque else image[image[..., 3] > 0]
    channels = np.rint(pixels * 255).astype(np.uint32)
    packed = np.zeros(len(channels), dtype=np.uint32)
    for channel in range(channels.shape[1]):  # one number per colour: a fast unique
        packed = packed << 8 | channels[:, channel]
    width = channels.shape[1]
    return {
        tuple(int(value) >> (8 * (width - 1 - n)) & 0xFF for n in range(width))
        for value in np.unique(packed)
    }


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def assert_a_real_chart(chart, surfaces):
    image = decoded(chart.png)
    assert image.shape == (HEIGHT, WIDTH, 4)
    assert ihdr_size(chart.png) == (WIDTH, HEIGHT) == (chart.width, chart.height)
    assert len(drawn_colours(image)) > 8  # bars, text and lines, not a blank canvas
    solid = drawn_colours(image, opaque=True)
    for surface in surfaces:  # each surface's bars are drawn in its own colour
        assert hex_rgb(SURFACE_COLOURS[surface]) in solid
    # The background is transparent, so Slack's light and dark themes both show through.
    assert image[0, 0, 3] == 0.0


@pytest.mark.parametrize("days", [7, 30, 90])
def test_a_persons_chart_is_a_png_of_their_surfaces_with_period_and_data_as_of(team, days):
    today = team["today"]
    period = Period.ending_before(today, days)
    answer = stats_answer(team["reports"][1], period)
    started = time.perf_counter()
    chart = stats_chart(answer)
    assert time.perf_counter() - started < 5  # about 0.2 s measured; generous for CI
    assert_a_real_chart(chart, [CLI, IDE, GITHUB][1:2])
    assert chart.period == period and chart.people == (team["reports"][1],)
    assert f"{period.first_day:%a %-d %b} – {period.last_day:%a %-d %b}" in chart.alt_text
    assert f"({days} days)" in chart.alt_text
    assert "Data as of " + f"{answer.data_as_of:%Y-%m-%d %H:%M} UTC" in chart.alt_text
    assert "Report 1" in chart.alt_text and "IDE" in chart.alt_text
    assert len(chart.alt_text) <= 1000
    assert chart.filename == f"codex-stats-{period.first_day}-{period.last_day}.png"


@pytest.mark.parametrize(("days", "drawn_as"), [(7, ""), (30, " as a 7-day average")])
def test_the_alt_text_gives_the_period_before_the_faint_line_shows(team, days, drawn_as):
    answer = stats_answer(team["reports"][0], Period.ending_before(team["today"], days))
    before = format_number(answer.previous.totals.credits)
    assert answer.previous.totals.credits > 0
    said = f"A faint line shows the {days} days before{drawn_as}: {before} credits."
    assert said in stats_chart(answer).alt_text


def test_the_same_figures_give_the_same_bytes(team):
    answer = stats_answer(team["reports"][0], Period.ending_before(team["today"], 30))
    assert stats_chart(answer).png == stats_chart(answer).png


def test_a_team_chart_sums_only_the_reporting_line(team):
    period = Period.ending_before(team["today"], 30)
    usage_of_team = team_for(team["boss"], period, 2)
    chart = team_chart(usage_of_team, home=True)
    assert_a_real_chart(chart, [CLI, IDE, GITHUB])
    # Every member is drawn (not only the two rows a message shows), the outsider never.
    assert set(chart.people) == {*team["reports"], *[a.employee for a in usage_of_team.members]}
    assert team["outsider"] not in chart.people
    assert f": {format_number(usage_of_team.total_credits)} credits" in chart.alt_text
    assert "999" not in chart.alt_text
    assert "as your codexbot Home tab shows it" in chart.comment


def test_a_digest_chart_has_one_panel_per_direct_report_on_one_scale(team):
    digest = compose_digest(team["boss"], team["today"], 7)
    chart = digest_chart(digest)
    assert chart is not None
    assert_a_real_chart(chart, [CLI, IDE, GITHUB])
    for name in ("Report 0", "Report 1", "Report 2", "Nia No-Codex"):
        assert name in chart.alt_text
    assert "Nia No-Codex: no Codex account" in chart.alt_text
    assert "Otto" not in chart.alt_text
    assert "Data as of" in chart.alt_text and "(7 days)" in chart.alt_text
    assert set(chart.people) == {e.answer.employee for e in digest.entries}


def test_a_digest_of_more_reports_than_panels_draws_the_first_and_says_how_many_more(team):
    boss = team["boss"]
    for n in range(3, MAX_PANELS + 3):
        person(f"more{n:02d}@example.com", f"More {n:02d}", manager=boss)
    digest = compose_digest(boss, team["today"], 30)
    assert len(digest.entries) == MAX_PANELS + 4
    chart = digest_chart(digest)
    assert chart is not None
    assert_a_real_chart(chart, [])  # the first 18 by name: the new people, with no usage
    assert len(chart.people) == MAX_PANELS
    assert chart.alt_text.endswith("Data as of " + f"{digest.data_as_of:%Y-%m-%d %H:%M} UTC.")
    assert "4 more not drawn" in chart.alt_text


def test_a_digest_of_nobody_has_no_chart(sqlite_db):
    lonely = person("lonely@example.com")
    assert digest_chart(compose_digest(lonely, utc_today(), 7)) is None


def test_a_person_without_usage_gets_a_chart_that_says_so(sqlite_db):
    idle = person("idle@example.com", "Ida Idle")
    store_usage([usage("u-other", utc_today() - dt.timedelta(days=3), email="x@example.com")])
    chart = stats_chart(stats_answer(idle, Period.ending_before(utc_today(), 7)))
    assert ihdr_size(chart.png) == (WIDTH, HEIGHT)
    assert ": 0 credits" in chart.alt_text

"""What a chart draws: a trend is the stats answers it comes from, day by day and surface
by surface, and never mixes periods."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import person, store_usage, usage

from sync.clock import utc_today
from sync.reports.periods import Period
from sync.reports.queries import stats_answer
from sync.reports.surfaces import CLI, GITHUB, IDE
from sync.reports.trends import summed_trend, trend_of


def test_a_team_trend_is_its_members_answers_summed_by_day_and_surface(db):
    today = utc_today()
    ada, bo = person("ada@example.com"), person("bo@example.com")
    store_usage(
        [
            usage("u-ada", today - dt.timedelta(days=1), "CODEX_CLI", email="ada@example.com"),
            usage("u-ada", today - dt.timedelta(days=2), "CODEX_IDE_VSCODE", credits=2.5),
            usage("u-bo", today - dt.timedelta(days=1), "CODEX_CLI", email="bo@example.com"),
            usage("u-bo", today - dt.timedelta(days=9), "CODEX_GITHUB", credits=4.0),
        ]
    )
    week = Period.ending_before(today, 7)
    answers = [stats_answer(ada, week), stats_answer(bo, week)]
    trend = summed_trend(answers)
    assert list(trend.by_surface) == [IDE, CLI]  # surfaces with any credits, in order
    assert trend.by_surface[CLI][-1] == 2.0 and trend.by_surface[IDE][-2] == 2.5
    assert trend.daily == [
        round(
            sum(
                a.current.credits_by_surface_day.get((s, d), 0) for a in answers for s in (IDE, CLI)
            ),
            6,
        )
        for d in week.each_day()
    ]
    assert trend.total == sum(a.current.totals.credits for a in answers)
    assert trend.previous_total == 4.0 and GITHUB not in trend.by_surface
    assert trend.people == (ada, bo)
    assert trend_of(answers[0]).total == answers[0].current.totals.credits


def test_answers_over_different_periods_are_not_summed(db):
    ada = person("ada@example.com")
    today = utc_today()
    with pytest.raises(ValueError, match="different periods"):
        summed_trend(
            [
                stats_answer(ada, Period.ending_before(today, 7)),
                stats_answer(ada, Period.ending_before(today, 30)),
            ]
        )
    with pytest.raises(ValueError, match="at least one"):
        summed_trend([])

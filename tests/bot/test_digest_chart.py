"""The digest's small multiples: uploaded into the manager's DM and shown in the digest by
an image block; when Slack refuses the upload, the digest still goes, as text."""

from __future__ import annotations

import datetime as dt
import io

import matplotlib.image
import pytest
from factories import person, store_usage, usage
from slack_requests import SleepRecorder
from slack_sdk.models.blocks import ImageBlock

from bot.chart_drawing import HEIGHT, WIDTH
from bot.digests import DigestDeliverer
from bot.slack import web_client
from sync.clock import utc_now, utc_today
from sync.org.access_log import views_of
from sync.store.models import DigestDelivery


@pytest.fixture
def managed(sqlite_db, slack):
    today = utc_today()
    max_ = person("max@example.com", "Max Manager")
    reports = [person(f"r{n}@example.com", f"Report {n}", manager=max_) for n in range(3)]
    max_.slack_user_id = "UMAX"
    max_.save()
    slack.add_user("UMAX", "max@example.com")
    store_usage(
        [
            usage(f"u{n}", today - dt.timedelta(days=d), client, email=f"r{n}@example.com")
            for n in range(3)
            for d in range(1, 15)
            for client in ("CODEX_CLI", "CODEX_WEB")
        ]
    )
    return max_, reports


def deliver(settings, slack, manager) -> bool:
    client = web_client(settings, sleep=SleepRecorder())
    deliverer = DigestDeliverer(settings, client, "replica-a")
    period_end = utc_today() - dt.timedelta(days=1)
    return deliverer.deliver(manager, DigestDelivery.KIND_MANAGER, period_end, utc_now())


def test_the_digest_shows_its_chart_under_the_heading(settings, slack, managed):
    manager, reports = managed
    assert deliver(settings, slack, manager)
    ((file_id, uploaded),) = slack.files.items()
    assert uploaded["channel"] == "DUMAX"
    image = matplotlib.image.imread(io.BytesIO(uploaded["data"]), format="png")
    assert image.shape == (HEIGHT, WIDTH, 4)
    for report in reports:
        assert report.display_name in uploaded["alt_txt"]
    assert "Data as of" in uploaded["alt_txt"] and "(7 days)" in uploaded["alt_txt"]

    (posted,) = slack.calls_to("chat.postMessage")
    blocks = posted.params["blocks"]
    assert blocks[0]["type"] == "header"
    shown = ImageBlock(**blocks[2])
    assert shown.slack_file is not None and shown.slack_file.to_dict() == {"id": file_id}
    assert shown.alt_text == uploaded["alt_txt"]
    for report in reports:
        assert [v.surface for v in views_of(report)].count("chart") == 1


def test_a_refused_upload_leaves_the_digest_as_text(settings, slack, managed):
    manager, reports = managed
    slack.fail_next("files.getUploadURLExternal", 200, {"ok": False, "error": "not_allowed"})
    assert deliver(settings, slack, manager)
    (posted,) = slack.calls_to("chat.postMessage")
    assert "image" not in [b["type"] for b in posted.params["blocks"]]
    assert "Report 0" in str(posted.params["blocks"])
    assert not any("data" in f and f["data"] for f in slack.files.values())
    assert "chart" not in [v.surface for v in views_of(reports[0])]
    assert [v.surface for v in views_of(reports[0])] == ["digest"]

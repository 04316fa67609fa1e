"""The "Send chart to my DM" buttons, pressed as Slack sends them (signed block_actions):
the chart is uploaded into the presser's DM through files_upload_v2's three steps, shown
there with an image block naming the file, and logged; access is decided again on each
press."""

from __future__ import annotations

import datetime as dt
import io

import matplotlib.image
from slack_sdk.models.blocks import ActionsBlock, ImageBlock

from bot.chart_drawing import HEIGHT, WIDTH
from bot.rendering import format_day
from sync.org.access_log import views_of


def response_url_answers(slack, count):
    return [call.params for call in slack.wait_for("response_url", count)][:count]


def stats_button(answer: dict) -> str:
    """The value of the "Send chart to my DM" button under a stats answer."""
    actions = [b for b in answer["blocks"] if b["type"] == "actions"]
    (block,) = actions
    (button,) = ActionsBlock(**block).elements
    assert button.action_id == "send_chart" and button.text.text == "Send chart to my DM"
    return button.value


def assert_png_of_chart_size(data: bytes) -> None:
    image = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert image.shape == (HEIGHT, WIDTH, 4)
    assert len({tuple(p) for p in image[::7, ::7].reshape(-1, 4).tolist()}) > 8


def test_the_button_sends_the_chart_to_the_askers_dm_as_an_image_block(bot, slack, org):
    bot.command("UMGR", "stats <@UREP|remy> 7d")
    (answer,) = response_url_answers(slack, 1)
    assert answer["response_type"] == "ephemeral"
    value = stats_button(answer)
    assert value.startswith(f"stats {org['rep'].id} ")

    bot.block_action("UMGR", "send_chart", value)
    (completed,) = slack.wait_for("files.completeUploadExternal")
    assert completed.params["channel_id"] == "DUMGR"  # the presser's own DM, nobody else's
    ((file_id, uploaded),) = slack.files.items()
    assert_png_of_chart_size(uploaded["data"])
    assert uploaded["length"] == len(uploaded["data"])
    assert uploaded["filename"].startswith("codex-stats-") and uploaded["filename"].endswith(".png")
    first, last = value.split()[2:]
    assert "Remy Report" in uploaded["alt_txt"] and "(7 days)" in uploaded["alt_txt"]
    assert "Data as of" in uploaded["alt_txt"]
    assert uploaded["title"] == "Remy Report: daily Codex credits by surface"

    (posted,) = slack.wait_for("chat.postMessage")
    assert posted.params["channel"] == "DUMGR"
    image = ImageBlock(**posted.params["blocks"][0])
    assert image.slack_file is not None and image.slack_file.to_dict() == {"id": file_id}
    assert image.alt_text == uploaded["alt_txt"]
    assert image.title is not None and image.title.text == uploaded["title"]
    # The period the answer covered, in the words people read.
    first_day, last_day = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    assert f"{format_day(first_day)} – {format_day(last_day)}" in image.alt_text

    done = response_url_answers(slack, 2)[1]
    assert done["response_type"] == "ephemeral" and done["replace_original"] is False
    assert done["text"] == "The chart is in your DM with codexbot."
    assert [v.surface for v in views_of(org["rep"])].count("chart") == 1


def test_a_viewer_who_lost_access_is_refused_and_gets_no_file(bot, slack, org):
    bot.command("UMGR", "stats <@UREP|remy> 30d")
    value = stats_button(response_url_answers(slack, 1)[0])
    rep = org["rep"]
    rep.manager = org["stranger"]  # moved to another team before the button was pressed
    rep.save()

    bot.block_action("UMGR", "send_chart", value)
    refusal = response_url_answers(slack, 2)[1]
    assert refusal["text"].startswith("I can't show Codex stats for that person")
    assert not slack.calls_to("files.getUploadURLExternal") and not slack.files
    assert not slack.calls_to("chat.postMessage")
    assert "chart" not in [v.surface for v in views_of(rep)]


def test_a_crafted_button_gets_the_same_refusal_and_no_file(bot, slack, org):
    period = "2026-10-01 2026-10-07"
    crafted = [
        f"stats {org['stranger'].id} {period}",  # someone outside the presser's line
        f"stats 999999 {period}",  # nobody
        f"stats {org['rep'].id} 2026-01-01 2026-12-31",  # a year: no such period is offered
        "stats 1 not-a-date",
        "",
    ]
    for n, value in enumerate(crafted, start=1):
        bot.block_action("UMGR", "send_chart", value)
        refusal = response_url_answers(slack, n)[n - 1]
        assert refusal["text"].startswith("I can't show Codex stats for that person"), value
    assert not slack.files and not slack.calls_to("chat.postMessage")


def test_a_refused_upload_says_so_and_logs_nothing(bot, slack, org):
    bot.command("UMGR", "stats <@UREP|remy> 7d")
    value = stats_button(response_url_answers(slack, 1)[0])
    slack.fail_next("files.getUploadURLExternal", 200, {"ok": False, "error": "not_allowed"})
    bot.block_action("UMGR", "send_chart", value)
    failed = response_url_answers(slack, 2)[1]
    assert failed["text"] == "Slack didn't take the chart. Please try again in a minute."
    assert not slack.calls_to("chat.postMessage")
    assert "chart" not in [v.surface for v in views_of(org["rep"])]


def test_the_home_tab_button_shows_the_team_trend_in_the_tab(bot, slack, org):
    bot.event({"type": "app_home_opened", "user": "UMGR", "tab": "home"})
    (home,) = slack.wait_for("views.publish")
    buttons = [b for b in home.params["view"]["blocks"] if b["type"] == "actions"]
    (button,) = ActionsBlock(**buttons[0]).elements
    assert (button.action_id, button.value) == ("send_chart", "home")

    bot.block_action("UMGR", "send_chart", "home")
    published = slack.wait_for("views.publish", 2)[1]
    ((file_id, uploaded),) = slack.files.items()
    assert uploaded["channel"] == "DUMGR"
    assert_png_of_chart_size(uploaded["data"])
    assert "reporting line" in uploaded["alt_txt"] and "(30 days)" in uploaded["alt_txt"]
    images = [b for b in published.params["view"]["blocks"] if b["type"] == "image"]
    (image,) = [ImageBlock(**b) for b in images]
    assert image.slack_file is not None and image.slack_file.to_dict() == {"id": file_id}
    # The team chart draws the manager's line: both reports, logged as chart views.
    for key in ("rep", "peer"):
        assert "chart" in [v.surface for v in views_of(org[key])]
    assert "chart" not in [v.surface for v in views_of(org["stranger"])]

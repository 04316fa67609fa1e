"""Slack messages and views, rendered from the Block Kit JSON templates in templates/slack/.

Every message carries a plain `text` beside its blocks (notifications and screen readers
use it). Slack's limits are enforced here, once, so no template can make Slack refuse a post.
"""

from __future__ import annotations

import json

from bot.rendering import environment, words
from sync.notices import Notice
from sync.reports.adoption import AdoptionAnswer
from sync.reports.answers import (
    AccessLogAnswer,
    Answer,
    ForgetConfirmation,
    Help,
    Status,
    TeamUsage,
    Transparency,
)
from sync.reports.digest import Digest
from sync.reports.directory_admin import (
    DirectoryAnswer,
    DirectoryHistory,
    DirectoryOverview,
    UnmatchedUsage,
)
from sync.reports.organisation import OrganisationUsage
from sync.reports.queries import StatsAnswer
from sync.reports.schedules import DigestScheduleAnswer

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
SECTION_TEXT_LIMIT = 3000
FALLBACK_TEXT_LIMIT = 3000
FIELD_ERROR_LIMIT = 150


# Which template renders each kind of answer, and the name it knows the answer by.
_ANSWER_TEMPLATES: dict[type, tuple[str, str]] = {
    StatsAnswer: ("stats", "answer"),
    TeamUsage: ("team", "team"),
    OrganisationUsage: ("organisation", "organisation"),
    AdoptionAnswer: ("adoption", "adoption"),
    DigestScheduleAnswer: ("digest_schedule", "schedule"),
    AccessLogAnswer: ("access_log", "log"),
    Transparency: ("transparency", "transparency"),
    Status: ("status", "status"),
    ForgetConfirmation: ("forget_confirmation", "confirmation"),
    DirectoryOverview: ("org", "overview"),
    UnmatchedUsage: ("org_unmatched", "unmatched"),
    DirectoryHistory: ("org_history", "history"),
    Notice: ("notice", "notice"),
}


def render_answer(answer: Answer | DirectoryAnswer | AdoptionAnswer) -> list[dict]:
    """The messages for what a deciding function (sync/reports/answers.py) returned."""
    if isinstance(answer, Digest):  # a long digest becomes several messages, not a cut one
        return render_messages("digest", digest=answer)
    if isinstance(answer, Help):
        return [render_message("help", problem=answer.problem)]
    template_name, name = _ANSWER_TEMPLATES[type(answer)]
    return [render_message(template_name, **{name: answer})]


def render_message(template_name: str, **context) -> dict:
    """`{"text": ..., "blocks": [...]}` for chat.postMessage, respond() and ack()."""
    message = _render_json(template_name, context)
    message["blocks"] = _within_limit(message["blocks"], MESSAGE_BLOCK_LIMIT)
    message["text"] = message["text"][:FALLBACK_TEXT_LIMIT]
    return message


def render_messages(template_name: str, **context) -> list[dict]:
    """Like render_message, but a long message becomes several instead of being cut."""
    message = _render_json(template_name, context)
    blocks = _shorten_sections(message["blocks"])
    size = MESSAGE_BLOCK_LIMIT
    messages = []
    for start in range(0, len(blocks), size):
        text = message["text"] if start == 0 else message["text"] + " (continued)"
        messages.append(
            {"text": text[:FALLBACK_TEXT_LIMIT], "blocks": blocks[start : start + size]}
        )
    return messages


def render_field_errors(errors: dict[str, Notice]) -> dict[str, str]:
    """A modal's `response_action: errors`: plain text under each field, as Slack allows."""
    return {
        block_id: _shorten(words(notice), FIELD_ERROR_LIMIT) for block_id, notice in errors.items()
    }


def render_view(template_name: str, **context) -> dict:
    """A modal or Home tab view."""
    view = _render_json(template_name, context)
    view["blocks"] = _within_limit(view["blocks"], VIEW_BLOCK_LIMIT)
    return view


def _render_json(template_name: str, context: dict) -> dict:
    text = environment().get_template(f"slack/{template_name}.json.j2").render(**context)
    return json.loads(text)


def _shorten_sections(blocks: list[dict]) -> list[dict]:
    for block in blocks:
        if block.get("type") == "section" and "text" in block:
            block["text"]["text"] = _shorten(block["text"]["text"], SECTION_TEXT_LIMIT)
    return blocks


def _within_limit(blocks: list[dict], limit: int) -> list[dict]:
    blocks = _shorten_sections(blocks)
    if len(blocks) <= limit:
        return blocks
    cut = len(blocks) - (limit - 1)
    more = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"…and {cut} more not shown here."}],
    }
    return [*blocks[: limit - 1], more]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

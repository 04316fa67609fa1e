"""Exports out of codexbot: the CSV `/codex export` decides (sync/reports/exports.py),
written within a bound and uploaded into the asker's DM, and the words that go with it."""

from __future__ import annotations

import io
import logging
import os
import tempfile
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.rendering import render
from bot.slack import send_file_to_direct_message
from sync.notices import Notice
from sync.reports.exports import Export, ExportTooLarge, write_export

log = logging.getLogger(__name__)

# What a DM takes: the file is built in memory (about 110 bytes a line, so some 22 MB
# here), a fifth of what a spreadsheet opens (1,048,576 rows). A 90-day export of a
# 10,000-person organisation (up to 3.6 million lines) is refused, pointing to
# `codexbot export`, which streams to a file of any size.
DM_EXPORT_ROW_LIMIT = 200_000


def export_heading(export: Export) -> str:
    """The file's first line: which UTC days it covers and which of them no sync read."""
    return render("export_heading.txt.j2", export=export).strip()


def export_filename(export: Export) -> str:
    period = export.period
    return f"codex-usage-{export.scope}-{period.first_day}-to-{period.last_day}.csv"


def write_export_file(export: Export, path: Path) -> int:
    """Write `export` to `path`, streamed, as a private file (0600: it holds people's usage)
    that appears only once complete: a failure midway leaves no half export behind."""
    part = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed, then renamed or deleted
        "w",
        encoding="utf-8-sig",  # with a byte-order mark, Excel reads the names as UTF-8
        newline="",  # the csv writer ends its lines itself
        dir=path.parent,
        prefix=f".{path.name}.",
        suffix=".part",
        delete=False,
    )
    try:
        with part:
            lines = write_export(export, part, export_heading(export))
        os.replace(part.name, path)
    except BaseException:
        Path(part.name).unlink(missing_ok=True)
        raise
    return lines


def send_export(client: WebClient, slack_user_id: str, export: Export) -> Notice:
    """Write `export` and upload it into the DM with `slack_user_id`; what to tell them."""
    buffer = io.StringIO()
    try:
        lines = write_export(export, buffer, export_heading(export), row_limit=DM_EXPORT_ROW_LIMIT)
    except ExportTooLarge as exc:
        return exc.notice
    summary = {
        "lines": lines,
        "people": len(export.people),
        "first_day": export.period.first_day,
        "last_day": export.period.last_day,
    }
    try:
        send_file_to_direct_message(
            client,
            slack_user_id,
            filename=export_filename(export),
            # With a byte-order mark, Excel reads the names as UTF-8, not as ANSI.
            content=buffer.getvalue().encode("utf-8-sig"),
            title=render("export_title.txt.j2", export=export).strip(),
            comment=render("export_comment.txt.j2", export=export, lines=lines).strip(),
        )
    except SlackClientError as exc:
        log.warning("export upload failed: %s", type(exc).__name__)
        return Notice("export_not_sent")
    return Notice("export_sent", summary)

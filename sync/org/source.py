"""The HRIS file `[org] source` names, read at each sync and imported again when its content
changed (its SHA-256 is kept in OrgSource), all or nothing as `codexbot org import` does,
its changes recorded in the directory's history as made by `file PATH`.

A refused file changes nothing; it is recorded once in the history (its problems counted,
the first few quoted as the import words them) and not read again until it changes. A
file that cannot be read is recorded the same way, once until it can be. Neither stops
the sync that reads it; the scheduler tells the admins (refused_since).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path

from sync.clock import utc_timestamp
from sync.config import Settings
from sync.notices import Notice
from sync.org.history import IMPORTED, REFUSED, hris_actor, last_change_by, record_change
from sync.org.importer import ArchiveMissing, ImportCounts, ImportPlan, import_org_data
from sync.org.org_csv import OrgImportError, fingerprint, read_org_file
from sync.store.models import OrgSource, database

log = logging.getLogger(__name__)

# What reading the source did at a sync.
SOURCE_IMPORTED = "imported"
SOURCE_UNCHANGED = "unchanged"
SOURCE_REFUSED = "refused"

# The fingerprint kept for a file that could not be read: it is recorded once, and read
# (and imported) again as soon as it can be.
UNREAD = ""
# A refusal quotes this many of its problems in the history; the count says the rest.
PROBLEMS_QUOTED = 3
QUOTED_CHARS = 300


@dataclass(frozen=True)
class SourceRead:
    outcome: str  # SOURCE_IMPORTED, SOURCE_UNCHANGED or SOURCE_REFUSED
    plan: ImportPlan | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceState:
    """What became of the source file, as `codexbot status` and the sync summary say it."""

    path: str
    read_at: dt.datetime | None  # when its current content was read; None: not yet
    outcome: str | None  # SOURCE_IMPORTED or SOURCE_REFUSED at that read
    counts: ImportCounts | None  # what the import changed
    problems: int = 0  # why it was refused: how many problems, the first few
    first_problems: tuple[str, ...] = ()


def is_source_file(settings: Settings, path: str | os.PathLike) -> bool:
    source = settings.org.source
    return source is not None and _same_file(path, source)


def archive_policy(settings: Settings, path: str | os.PathLike) -> ArchiveMissing | None:
    """Whether importing `path` archives the people it does not list: only with
    `[org] archive_missing`, and only for the source file itself (scheduled or by hand),
    never for another file someone imports."""
    if not settings.org.archive_missing or not is_source_file(settings, path):
        return None
    return ArchiveMissing(
        admin_emails=tuple(settings.slack.admin_emails),
        max_share=settings.org.archive_missing_max_share,
    )


def import_org_source(settings: Settings) -> SourceRead | None:
    """Read the source file and import it if its content changed; None without a source.
    Refusals and unreadable files are recorded and logged, never raised."""
    path = settings.org.source
    if not path:
        return None
    actor = hris_actor(path)
    known = OrgSource.get_or_none(OrgSource.path == path)
    try:
        data = read_org_file(path)
    except OrgImportError as exc:
        log.warning("the org file %s cannot be read: %s", path, exc)
        if known is None or known.fingerprint != UNREAD:
            _refused(path, UNREAD, exc.problems)
        return SourceRead(SOURCE_REFUSED, problems=tuple(exc.problems))
    file_fingerprint = fingerprint(data)
    if known is not None and known.fingerprint == file_fingerprint:
        return SourceRead(SOURCE_UNCHANGED)
    try:
        with database.atomic():
            plan = import_org_data(
                data,
                path,
                columns=settings.org.columns,
                archive_missing=archive_policy(settings, path),
                actor=actor,
            )
            _remember(path, file_fingerprint)
    except OrgImportError as exc:
        log.warning(
            "the org file %s was refused, nothing changed (%s problems); first: %s",
            path,
            len(exc.problems),
            exc.problems[0],
        )
        _refused(path, file_fingerprint, exc.problems)
        return SourceRead(SOURCE_REFUSED, problems=tuple(exc.problems))
    log.info("the org file %s was imported: %s", path, plan.counts)
    return SourceRead(SOURCE_IMPORTED, plan=plan)


def source_state(path: str) -> SourceState:
    known = OrgSource.get_or_none(OrgSource.path == path)
    last = last_change_by(hris_actor(path), (IMPORTED, REFUSED))
    if known is None or last is None:
        return SourceState(path, None, None, None)
    detail = last.detail
    if last.action == IMPORTED:
        names = [f.name for f in fields(ImportCounts)]
        counts = ImportCounts(**{name: _count(detail.get(name)) for name in names})
        return SourceState(path, known.imported_at, SOURCE_IMPORTED, counts)
    first = detail.get("first")
    return SourceState(
        path,
        known.imported_at,
        SOURCE_REFUSED,
        None,
        problems=_count(detail.get("problems")),
        first_problems=tuple(str(p) for p in first) if isinstance(first, list) else (),
    )


def refused_since(path: str, since: dt.datetime) -> Notice | None:
    """The admins' notice if `path` was refused (or could not be read) at `since` or
    after, else None. A refusal is recorded once per content of the file, and an
    unreadable file once until it can be read, so one sync run sees it: the one that
    read it."""
    state = source_state(path)
    if state.outcome != SOURCE_REFUSED or state.read_at is None or state.read_at < since:
        return None
    return Notice(
        "org_source_refused",
        {"file": path, "problems": state.problems, "first": list(state.first_problems)},
    )


def _refused(path: str, file_fingerprint: str, problems: list[str]) -> None:
    detail: dict[str, object] = {
        "file": path,
        "problems": len(problems),
        "first": [problem[:QUOTED_CHARS] for problem in problems[:PROBLEMS_QUOTED]],
    }
    if file_fingerprint != UNREAD:
        detail["fingerprint"] = file_fingerprint
    with database.atomic():
        record_change(hris_actor(path), REFUSED, None, detail)
        _remember(path, file_fingerprint)


def _remember(path: str, file_fingerprint: str) -> None:
    OrgSource.insert(
        path=path, fingerprint=file_fingerprint, imported_at=utc_timestamp()
    ).on_conflict(
        conflict_target=[OrgSource.path],
        update={OrgSource.fingerprint: file_fingerprint, OrgSource.imported_at: utc_timestamp()},
    ).execute()


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()

"""The usage revision: one counter that every writer of usage bumps in the transaction
that writes it (a sync's page, the rows a re-read window drops, retention, forgetting a
workspace). Roll-ups of usage (sync/reports/adoption_rollups.py) are built at a revision
and read only while it is current, so no write leaves a stale one on show; what they hold
is a cache, rebuilt from the rows whenever it is missing.
"""

from __future__ import annotations

from peewee import Database

from sync.store.models import (
    AdoptionRollup,
    AdoptionRollupLine,
    AdoptionRollupSurface,
    AdoptionRollupTotal,
    UsageRevision,
    database,
)

# One statement, whether or not the row exists yet (a new database has none).
_BUMP = (
    'INSERT INTO "usage_revision" ("id", "revision") VALUES (1, 1) '
    'ON CONFLICT ("id") DO UPDATE SET "revision" = "usage_revision"."revision" + 1'
)
ROLLUP_MODELS = (AdoptionRollup, AdoptionRollupLine, AdoptionRollupSurface, AdoptionRollupTotal)


def note_usage_changed(db: Database | None = None) -> None:
    """Bump the usage revision: call it inside the transaction that writes usage."""
    (db or database).execute_sql(_BUMP)


def usage_revision() -> int:
    revision = UsageRevision.select(UsageRevision.revision).where(UsageRevision.id == 1).scalar()
    return revision or 0


def forget_rollups(db: Database) -> None:
    """Empty every roll-up of `db` and bump its revision (`codexbot db copy` into it)."""
    with db.atomic():
        for model in ROLLUP_MODELS:
            db.execute_sql(f'DELETE FROM "{model._meta.table_name}"')
        note_usage_changed(db)

"""Schema migrations: one step per schema change, each from version N-1 to N.

Version 1 is the schema of commit f327c5b, the first one released. A new database is
created whole at the latest version; an older one runs the steps it lacks, in order, in
one transaction. Steps are written with playhouse.migrate, so one step serves SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable

from peewee import Database
from playhouse.migrate import SchemaMigrator, migrate


def _claims_replace_leases_and_handled_events(db: Database) -> None:
    """Version 2: leases, Slack events already answered and digests being sent became one
    mechanism, claims (the lease table, renamed); the connection's unread `active` flag
    is gone. Events answered just before the upgrade are forgotten: at worst a retry of
    one of them that Slack sends during the upgrade is answered twice."""
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.rename_table("lease", "claim"),
        migrator.drop_column("connection", "active"),
    )
    db.execute_sql('DROP TABLE "handled_event"')


MIGRATIONS: dict[int, Callable[[Database], None]] = {
    2: _claims_replace_leases_and_handled_events,
}
SCHEMA_VERSION = max(MIGRATIONS)

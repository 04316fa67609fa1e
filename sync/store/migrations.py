"""Schema migrations: one step per schema change, each from version N-1 to N.

Version 1 is the schema of commit f327c5b, the first one released. A new database is
created whole at the latest version; an older one runs the steps it lacks, in order, in
one transaction. Steps are written with playhouse.migrate, so one step serves SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from peewee import (
    SQL,
    AutoField,
    BigIntegerField,
    CharField,
    CompositeKey,
    Database,
    DateField,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
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


def _usage_per_workspace_and_coverage(db: Database) -> None:
    """Version 3: usage is kept per workspace (its key starts with the workspace), a
    ledger records the days each workspace has completely synced, and sync runs keep
    their workspace, the rows they rejected and a warning. Existing usage and runs belong
    to the connected workspace; the ledger starts from the days past successful runs read.
    """

    class Frozen(Model):  # this version's tables as they are created here, whatever comes later
        class Meta:
            database = db
            legacy_table_names = False

    class Workspace(Frozen):
        workspace_id = CharField(primary_key=True)
        connected_at = DateTimeField()
        last_connected_at = DateTimeField()
        history_from = DateField(null=True)

    class DailyUsage(Frozen):
        workspace_id = CharField()
        codex_user_id = CharField()
        day = DateField()
        client_id = CharField()
        threads = IntegerField(default=0)
        turns = IntegerField(default=0)
        credits = DoubleField(default=0)
        input_tokens = BigIntegerField(null=True)
        output_tokens = BigIntegerField(null=True)
        total_tokens = BigIntegerField(null=True)
        sync_run = IntegerField(null=True)

        class Meta:
            primary_key = CompositeKey("workspace_id", "codex_user_id", "day", "client_id")

    class SyncedDay(Frozen):
        workspace_id = CharField()
        day = DateField()
        synced_at = DateTimeField()

        class Meta:
            primary_key = CompositeKey("workspace_id", "day")

    connection = db.execute_sql(
        'SELECT "workspace_id", "connected_at" FROM "connection"'
    ).fetchone()
    # Usage synced while no connection is left has no known workspace: "" keeps it apart.
    workspace_id, connected_at = connection or ("", None)
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("sync_run", "workspace_id", CharField(null=True)),
        migrator.add_column("sync_run", "rejected", TextField(null=True)),
        migrator.add_column("sync_run", "warning", TextField(null=True)),
        migrator.rename_table("daily_usage", "daily_usage_v2"),
    )
    db.execute_sql(f'UPDATE "sync_run" SET "workspace_id" = {db.param}', (workspace_id,))
    db.create_tables([Workspace, DailyUsage, SyncedDay], safe=False)
    columns = ", ".join(
        f'"{name}"'
        for name in ("codex_user_id", "day", "client_id", "threads", "turns", "credits")
        + ("input_tokens", "output_tokens", "total_tokens", "sync_run")
    )
    db.execute_sql(
        f'INSERT INTO "daily_usage" ("workspace_id", {columns}) '
        f'SELECT {db.param}, {columns} FROM "daily_usage_v2"',
        (workspace_id,),
    )
    db.execute_sql('DROP TABLE "daily_usage_v2"')
    db.execute_sql('CREATE INDEX "daily_usage_day" ON "daily_usage" ("day")')

    runs = db.execute_sql(
        """SELECT "window_start", "started_at", "finished_at" FROM "sync_run" """
        """WHERE "outcome" = 'ok' ORDER BY "id" """
    ).fetchall()
    synced: dict[dt.date, dt.datetime] = {}
    for window_start, started_at, finished_at in runs:
        first, started = _date(window_start), _datetime(started_at)
        # A day is complete once it has ended: the run's own start day was still filling.
        for offset in range((started.date() - first).days):
            synced[first + dt.timedelta(days=offset)] = _datetime(finished_at)
    has_usage = db.execute_sql('SELECT 1 FROM "daily_usage" LIMIT 1').fetchone()
    if connection or runs or has_usage:
        now = _datetime(connected_at) if connected_at else dt.datetime(2000, 1, 1)
        Workspace.insert(
            workspace_id=workspace_id,
            connected_at=now,
            last_connected_at=now,
            history_from=min(synced) if synced else None,
        ).execute()
    rows = [(workspace_id, day, at) for day, at in sorted(synced.items())]
    for start in range(0, len(rows), 500):
        SyncedDay.insert_many(
            rows[start : start + 500],
            fields=[SyncedDay.workspace_id, SyncedDay.day, SyncedDay.synced_at],
        ).execute()


def _date(value) -> dt.date:
    """A date as the driver hands it back (SQLite: ISO text)."""
    return dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _datetime(value) -> dt.datetime:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _directory_kept_current(db: Database) -> None:
    """Version 4: the directory keeps itself current: people gain a department, the
    identity provider's id and when Slack deactivated their account; its changes are
    recorded, and the HRIS file last imported is remembered. Sync runs are indexed by
    workspace and outcome, which every answer's "data as of" reads."""

    class Frozen(Model):  # this version's tables as they are created here, whatever comes later
        class Meta:
            database = db
            legacy_table_names = False

    class DirectoryChange(Frozen):
        changed_at = DateTimeField(index=True)
        actor = CharField()
        action = CharField()
        subject = CharField(null=True)
        detail = TextField(null=True)

    class OrgSource(Frozen):
        path = CharField(primary_key=True)
        fingerprint = CharField()
        imported_at = DateTimeField()

    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("employee", "department", CharField(null=True)),
        migrator.add_column("employee", "external_id", CharField(null=True)),
        migrator.add_index("employee", ("external_id",), unique=True),
        migrator.add_column("employee", "slack_deactivated_at", DateTimeField(null=True)),
        migrator.add_index("sync_run", ("workspace_id", "outcome", "finished_at")),
    )
    db.create_tables([DirectoryChange, OrgSource], safe=False)


def _digests_timed_to_one_on_ones(db: Database) -> None:
    """Version 5: managers choose their own digest day and time and set 1:1 slots per
    report; people gain the time zone Slack's profile gives."""

    class Frozen(Model):  # this version's tables as they are created here, whatever comes later
        class Meta:
            database = db
            legacy_table_names = False

    class Employee(Frozen):  # only what the foreign keys below need
        id = AutoField()

    class DigestSchedule(Frozen):
        manager = ForeignKeyField(Employee, primary_key=True, on_delete="CASCADE")
        weekday = IntegerField()
        time = CharField()

    class OneOnOne(Frozen):
        id = AutoField()
        manager = ForeignKeyField(Employee, on_delete="CASCADE")
        report = ForeignKeyField(Employee, on_delete="CASCADE")
        weekday = IntegerField()
        time = CharField()

        class Meta:
            indexes = ((("manager", "report"), True),)

    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("employee", "slack_timezone", CharField(null=True)))
    db.create_tables([DigestSchedule, OneOnOne], safe=False)


def _cached_input_tokens_kept(db: Database) -> None:
    """Version 6: usage keeps its cached input tokens, the part of input tokens the model
    read from its prompt cache, so answers can give cache share. Rows already stored get
    none (NULL: unknown, not zero): the next syncs' trailing window re-reads the recent
    days, and the cache share of older days stays unknown until a sync re-reads them."""
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("daily_usage", "cached_input_tokens", BigIntegerField(null=True)))


def _adoption_rolled_up(db: Database) -> None:
    """Version 7: adoption answers read roll-ups, the sums of a window per Codex account
    (and per account and client) built once per usage revision, a counter every writer
    of usage bumps. The cache starts empty, at revision 0."""

    class Frozen(Model):  # this version's tables as they are created here, whatever comes later
        class Meta:
            database = db
            legacy_table_names = False

    class UsageRevision(Frozen):
        id = IntegerField(primary_key=True, default=1, constraints=[SQL("CHECK (id = 1)")])
        revision = BigIntegerField(default=0)

    class AdoptionRollup(Frozen):
        id = AutoField()
        workspace_id = CharField()
        window_first = DateField()
        previous_first = DateField()
        first = DateField()
        recent_first = DateField()
        idle_first = DateField()
        last_day = DateField()
        revision = BigIntegerField()
        built_at = DateTimeField()
        organisation = CharField(null=True)

        class Meta:
            indexes = (
                (
                    (
                        "workspace_id",
                        "window_first",
                        "previous_first",
                        "first",
                        "recent_first",
                        "idle_first",
                        "last_day",
                        "revision",
                    ),
                    True,
                ),
            )

    class AdoptionRollupLine(Frozen):
        rollup = IntegerField()
        codex_user_id = CharField()
        cut_day = DateField()
        days = IntegerField()
        previous_days = IntegerField()
        recent_days = IntegerField()
        idle_window_days = IntegerField()
        credits = DoubleField()
        previous_credits = DoubleField()
        threads = BigIntegerField()
        previous_threads = BigIntegerField()
        turns = BigIntegerField()
        previous_turns = BigIntegerField()
        last_row_day = DateField()

        class Meta:
            primary_key = CompositeKey("rollup", "codex_user_id", "cut_day")

    class AdoptionRollupSurface(Frozen):
        rollup = IntegerField()
        codex_user_id = CharField()
        client_id = CharField()
        cut_day = DateField()
        credits = DoubleField()
        previous_credits = DoubleField()
        input_tokens = BigIntegerField()
        cached_input_tokens = BigIntegerField()
        cached_gaps = BigIntegerField()
        previous_input_tokens = BigIntegerField()
        previous_cached_input_tokens = BigIntegerField()
        previous_cached_gaps = BigIntegerField()

        class Meta:
            primary_key = CompositeKey("rollup", "codex_user_id", "client_id", "cut_day")

    class AdoptionRollupTotal(Frozen):
        rollup = IntegerField()
        client_id = CharField()
        credits = DoubleField()
        previous_credits = DoubleField()
        input_tokens = BigIntegerField()
        cached_input_tokens = BigIntegerField()
        cached_gaps = BigIntegerField()
        previous_input_tokens = BigIntegerField()
        previous_cached_input_tokens = BigIntegerField()
        previous_cached_gaps = BigIntegerField()

        class Meta:
            primary_key = CompositeKey("rollup", "client_id")

    db.create_tables(
        [
            UsageRevision,
            AdoptionRollup,
            AdoptionRollupLine,
            AdoptionRollupSurface,
            AdoptionRollupTotal,
        ],
        safe=False,
    )


MIGRATIONS: dict[int, Callable[[Database], None]] = {
    2: _claims_replace_leases_and_handled_events,
    3: _usage_per_workspace_and_coverage,
    4: _directory_kept_current,
    5: _digests_timed_to_one_on_ones,
    6: _cached_input_tokens_kept,
    7: _adoption_rolled_up,
}
SCHEMA_VERSION = max(MIGRATIONS)

"""The tables codexbot keeps. Only counts are stored: never code, prompts or conversations."""

from __future__ import annotations

from peewee import (
    SQL,
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    CompositeKey,
    DatabaseProxy,
    DateField,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

database = DatabaseProxy()

ROLE_EMPLOYEE = "employee"
ROLE_ADMIN = "admin"
# Sees aggregates of the whole organisation above the group-size floor, never one
# person's figures (sync/org/access.py).
ROLE_ANALYST = "analyst"
ROLES = (ROLE_EMPLOYEE, ROLE_ADMIN, ROLE_ANALYST)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = IntegerField()
    applied_at = DateTimeField()


class Employee(BaseModel):
    """A person in the org directory. Emails are stored lower-cased: matching ignores case."""

    id = AutoField()
    email = CharField(unique=True)
    name = CharField(default="")
    manager = ForeignKeyField("self", null=True, backref="direct_reports", on_delete="SET NULL")
    role = CharField(default=ROLE_EMPLOYEE)
    archived_on = DateField(null=True)
    slack_user_id = CharField(null=True, unique=True)
    timezone = CharField(null=True)
    department = CharField(null=True)
    # The identity provider's id for this person (SCIM `externalId`), when it sent one.
    external_id = CharField(null=True, unique=True)
    # When Slack reported the person's account deactivated: they lose every view at once,
    # before the directory archives them; their history stays theirs.
    slack_deactivated_at = DateTimeField(null=True)
    # The time zone Slack's profile gives (`tz`): used when the directory names none.
    slack_timezone = CharField(null=True)
    # Preferences set from Slack (/codex digest ...); the org import never touches them.
    digest_opt_out = BooleanField(default=False)
    self_digest = BooleanField(default=False)

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def is_analyst(self) -> bool:
        return self.role == ROLE_ANALYST

    @property
    def display_name(self) -> str:
        return self.name or self.email


class EmailAlias(BaseModel):
    """A Codex account email that belongs to an employee whose directory email differs."""

    codex_email = CharField(primary_key=True)
    employee = ForeignKeyField(Employee, backref="aliases", on_delete="CASCADE")


class CodexUser(BaseModel):
    """A Codex account as the API reports it; its email may be missing."""

    user_id = CharField(primary_key=True)
    email = CharField(null=True, index=True)


class Workspace(BaseModel):
    """A ChatGPT workspace codexbot has been connected to. Its usage is a history of its
    own: answers read the connected workspace's only."""

    workspace_id = CharField(primary_key=True)
    connected_at = DateTimeField()  # the first time
    last_connected_at = DateTimeField()
    # The first day its first sync read: no data before it is expected, none is missing.
    history_from = DateField(null=True)


class DailyUsage(BaseModel):
    """One Codex user's counts for one UTC day on one client surface, in one workspace.

    Token counts are NULL while the API has not published them: unknown is not zero.
    `sync_run` marks which run last wrote the row, so a re-read window can drop rows
    the API no longer reports.
    """

    workspace_id = CharField()
    codex_user_id = CharField()
    day = DateField()
    client_id = CharField()
    threads = IntegerField(default=0)
    turns = IntegerField(default=0)
    credits = DoubleField(default=0)
    # 64-bit: a heavy user's monthly tokens pass PostgreSQL's 32-bit integer.
    input_tokens = BigIntegerField(null=True)
    output_tokens = BigIntegerField(null=True)
    total_tokens = BigIntegerField(null=True)
    sync_run = IntegerField(null=True)
    # The part of input_tokens read from the prompt cache (what cache share divides). NULL
    # also on rows stored before schema v6 that no sync has re-read since.
    cached_input_tokens = BigIntegerField(null=True)

    class Meta:
        primary_key = CompositeKey("workspace_id", "codex_user_id", "day", "client_id")
        indexes = ((("day",), False),)


class SyncedDay(BaseModel):
    """The coverage ledger: a UTC day a sync read completely for a workspace. A day of the
    history without a row is missing data, and answers say so."""

    workspace_id = CharField()
    day = DateField()
    synced_at = DateTimeField()

    class Meta:
        primary_key = CompositeKey("workspace_id", "day")


class SyncRun(BaseModel):
    OUTCOME_RUNNING = "running"
    OUTCOME_OK = "ok"
    OUTCOME_FAILED = "failed"
    # Found still "running" by a later run: the process died (killed, crashed) midway.
    OUTCOME_INTERRUPTED = "interrupted"
    # Stopped at [sync] deadline_minutes: what it stored stays, the lease is released.
    OUTCOME_TIMED_OUT = "timed_out"

    id = AutoField()
    workspace_id = CharField(null=True)
    started_at = DateTimeField()
    finished_at = DateTimeField(null=True)
    window_start = DateField()
    window_end = DateField()
    pages = IntegerField(default=0)
    rows = IntegerField(default=0)
    unmatched_users = IntegerField(null=True)
    duration_seconds = DoubleField(null=True)
    outcome = CharField(default=OUTCOME_RUNNING)
    error = TextField(null=True)  # a stored Notice
    # Rows the API sent that were not stored, as JSON {reason: count} (sync/codex/rows.py).
    rejected = TextField(null=True)
    # A broken contract the sync survived (a stored Notice), e.g. more pages promised
    # without a token.
    warning = TextField(null=True)

    class Meta:
        # Every answer reads its workspace's last successful sync ("data as of"): an hourly
        # sync adds 8,760 runs a year, which an answer must not scan.
        indexes = ((("workspace_id", "outcome", "finished_at"), False),)


class Connection(BaseModel):
    """The single Codex connection for the workspace; the key is stored encrypted."""

    id = IntegerField(primary_key=True, default=1, constraints=[SQL("CHECK (id = 1)")])
    workspace_id = CharField()
    api_key_encrypted = TextField()
    key_last4 = CharField()
    connected_at = DateTimeField()
    connected_by = CharField(null=True)
    # Set when a sync was refused for its credentials or plan: scheduled syncs stop until
    # the connection is replaced, and the admins are told once.
    sync_paused_reason = TextField(null=True)


class Claim(BaseModel):
    """Who does something that must happen once (run a job, answer an event, send a
    digest) until when; see sync/store/claims.py."""

    name = CharField(primary_key=True)
    holder = CharField()
    expires_at = DateTimeField()


class DigestDelivery(BaseModel):
    """What became of one digest (kind, employee, period): sent, failed and when it is
    tried again, or waiting for complete data. Who sends it, once, is decided by a claim
    (bot/digests.py)."""

    KIND_MANAGER = "manager"
    KIND_SELF = "self"
    # A 1:1's prep: the kind is "one_on_one:<report id>", the employee the manager and the
    # period end the 1:1's day on the manager's clock (bot/digests.py), once per occurrence.
    KIND_ONE_ON_ONE = "one_on_one"
    STATUS_SENT = "sent"
    STATUS_FAILED = "failed"
    # Due, but its period is not fully synced yet: tried again at each tick.
    STATUS_WAITING = "waiting"

    id = AutoField()
    kind = CharField()
    employee = ForeignKeyField(Employee, on_delete="CASCADE")
    period_end = DateField()
    status = CharField()
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(null=True)
    # When the latest attempt claimed the send.
    claimed_at = DateTimeField()
    sent_at = DateTimeField(null=True)
    slack_ts = CharField(null=True)
    error = TextField(null=True)

    class Meta:
        indexes = ((("kind", "employee", "period_end"), True),)


class DigestSchedule(BaseModel):
    """A manager's own digest day and time, in their time zone (`/codex digest schedule`);
    without one, the [digest] settings apply."""

    manager = ForeignKeyField(Employee, primary_key=True, on_delete="CASCADE", backref="+")
    weekday = IntegerField()  # 0 is Monday
    time = CharField()  # "HH:MM"


class OneOnOne(BaseModel):
    """A manager's weekly 1:1 slot with one report, in the manager's time zone: that
    report's section of the digest arrives as its own DM a lead time before each one."""

    id = AutoField()
    manager = ForeignKeyField(Employee, on_delete="CASCADE", backref="+")
    report = ForeignKeyField(Employee, on_delete="CASCADE", backref="+")
    weekday = IntegerField()  # 0 is Monday
    time = CharField()  # "HH:MM"

    class Meta:
        indexes = ((("manager", "report"), True),)


class AccessLog(BaseModel):
    """Who looked at whose stats, where and when: people can ask who viewed theirs."""

    SURFACES = (
        "slash command",
        "dm",
        "home",
        "team",
        "digest",
        "cli",
        "export",
        "chart",
        "adoption",
    )

    id = AutoField()
    viewer = ForeignKeyField(Employee, on_delete="CASCADE", backref="+")
    target = ForeignKeyField(Employee, on_delete="CASCADE", backref="+")
    surface = CharField()
    viewed_at = DateTimeField()

    class Meta:
        indexes = ((("target", "viewed_at"), False), (("viewed_at",), False))


class DirectoryChange(BaseModel):
    """One change to the org directory: who made it (an identity provider over SCIM, an
    HRIS file, Slack, an admin), what it was and whom it concerned, for `/codex org
    history`. `detail` names the fields changed and their new values, never a secret."""

    id = AutoField()
    changed_at = DateTimeField(index=True)
    actor = CharField()
    action = CharField()
    subject = CharField(null=True)  # the email of the person concerned
    detail = TextField(null=True)


class OrgSource(BaseModel):
    """The HRIS file an `[org] source` names, as last read: it is imported again at a
    sync only when its content changed. Whether that read imported it or refused it, and
    why, is in the directory's history (sync/org/source.py)."""

    path = CharField(primary_key=True)
    fingerprint = CharField()  # SHA-256 of the file's bytes; empty when it could not be read
    imported_at = DateTimeField()  # when that content was read


class UsageRevision(BaseModel):
    """A counter every writer of usage bumps in its own transaction (sync/store/rollups.py):
    a roll-up built at one revision is exact while the revision stays."""

    id = IntegerField(primary_key=True, default=1, constraints=[SQL("CHECK (id = 1)")])
    revision = BigIntegerField(default=0)


class AdoptionRollup(BaseModel):
    """The adoption answer's sums of one window (sync/reports/adoption_rollups.py) over a
    workspace's usage at one usage revision: its lines are per Codex account, so every
    scope reads the same roll-up."""

    id = AutoField()
    workspace_id = CharField()
    # The window's bounds (sync/reports/adoption_rollups.py, Bounds) and its last day.
    window_first = DateField()
    previous_first = DateField()
    first = DateField()
    recent_first = DateField()
    idle_first = DateField()
    last_day = DateField()
    revision = BigIntegerField()
    built_at = DateTimeField()
    # Which accounts the organisation's surface totals (AdoptionRollupTotal) sum: a
    # SHA-256 of their ids, which an answer compares with its own (the directory may have
    # changed since).
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


class AdoptionRollupLine(BaseModel):
    """One Codex account's sums over a roll-up's window: active days (period, the one
    before, the last 7 days, the idle window), credits, threads and turns (period, before)."""

    rollup = IntegerField()  # AdoptionRollup.id; deleted with it (sync/reports/adoption_rollups.py)
    codex_user_id = CharField()
    # The sums are of the rows up to this day: the window's last day, or a leaver's last day
    # (the cut an answer makes for them; any other cut is summed from the rows).
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
    # The account's last day with a row up to the window's end: a leaver's account with
    # none after their last day needs no cut (sync/reports/adoption.py).
    last_row_day = DateField()

    class Meta:
        primary_key = CompositeKey("rollup", "codex_user_id", "cut_day")


class AdoptionRollupSurface(BaseModel):
    """One Codex account's sums on one client over a roll-up's window, for the period and
    the one before: credits, input and cached input tokens where known, rows lacking
    cached tokens."""

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


class AdoptionRollupTotal(BaseModel):
    """A roll-up's surface sums on one client over the organisation's accounts (those
    its `organisation` names): what the organisation's answer reads instead of 40k rows."""

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


ALL_MODELS = [
    SchemaVersion,
    Employee,
    EmailAlias,
    CodexUser,
    Workspace,
    DailyUsage,
    SyncedDay,
    SyncRun,
    Connection,
    Claim,
    DigestDelivery,
    AccessLog,
    DirectoryChange,
    OrgSource,
    DigestSchedule,
    OneOnOne,
    UsageRevision,
    AdoptionRollup,
    AdoptionRollupLine,
    AdoptionRollupSurface,
    AdoptionRollupTotal,
]

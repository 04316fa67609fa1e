"""Every setting codexbot reads, with its default beside it.

Settings come from an optional TOML file (`--config` or `CODEXBOT_CONFIG`), then the
environment variables below override it. A bad value fails at start with the key's name.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_CODEX_API_BASE_URL = "https://api.chatgpt.com/v1/analytics/codex"
# The Codex Analytics API serves the last 90 days: no sync can read further back, and no
# period anyone asks for is longer, so a fresh install can answer every question.
API_HISTORY_DAYS = 90


class ConfigError(Exception):
    """A configuration problem, worded for an operator."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = "sqlite:///codexbot.db"
    # Apply pending schema migrations at start. With false, an older database is left
    # alone and codexbot refuses to serve until `codexbot db upgrade` has run.
    auto_upgrade: bool = True
    # PostgreSQL: connections this process keeps open for its threads (listeners, jobs).
    pool_size: Annotated[int, Field(ge=2, le=200)] = 20

    @field_validator("url")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("use sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
        return value


class CodexSettings(_Section):
    api_base_url: str = DEFAULT_CODEX_API_BASE_URL
    # Used by `codexbot connect` only; syncs use the stored, encrypted connection.
    api_key: str | None = None
    workspace_id: str | None = None
    page_size: Annotated[int, Field(ge=1, le=30000)] = 5000
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 6
    max_retry_seconds: Annotated[float, Field(gt=0)] = 120.0

    @field_validator("api_base_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _http_url(value)


def _http_url(value: str) -> str:
    """`value` if it is an http:// or https:// URL with a host."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


class SecuritySettings(_Section):
    secret_key: str | None = None


class SlackSettings(_Section):
    bot_token: str | None = None
    app_token: str | None = None
    signing_secret: str | None = None
    api_url: str | None = None
    admin_emails: list[str] = []
    # Threads for the slow work behind Slack's requests (answers, DMs, the Home tab), and
    # how many requests may wait for one before people are told the bot is busy.
    workers: Annotated[int, Field(ge=1, le=64)] = 8
    queued_work: Annotated[int, Field(ge=0)] = 1000
    # Slack's own requests are a few kilobytes: a larger body is refused (413) unread.
    max_body_bytes: Annotated[int, Field(ge=4096)] = 1024 * 1024


class SyncSettings(_Section):
    backfill_days: Annotated[int, Field(ge=1, le=API_HISTORY_DAYS)] = API_HISTORY_DAYS
    trailing_days: Annotated[int, Field(ge=1, le=API_HISTORY_DAYS)] = 5
    interval_minutes: Annotated[int, Field(ge=1)] = 60
    # Any sync ends after this long, whatever the API does; what it stored stays.
    deadline_minutes: Annotated[float, Field(gt=0)] = 30
    # Pages are committed together until a transaction holds this many rows (fewer when
    # the API is slow to send the next page): a crash loses at most the open one, which the
    # next sync reads again. See sync/ingest/job.py, _StoredPages.
    transaction_rows: Annotated[int, Field(ge=1)] = 200_000


class DigestSettings(_Section):
    enabled: bool = True
    day: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = (
        "monday"
    )
    time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "09:00"
    period_days: Annotated[int, Field(ge=1, le=45)] = 7
    timezone: str = "UTC"
    # How long before a manager's 1:1 slot (`/codex digest 1on1`) that report's prep
    # arrives; at most a day, so the prep is about the days before that 1:1.
    one_on_one_lead_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 60

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class RetentionSettings(_Section):
    # Unset keeps everything. Older rows are deleted after each sync.
    usage_days: Annotated[int, Field(ge=1)] | None = None
    access_log_days: Annotated[int, Field(ge=1)] | None = None


# The org CSV's columns (sync/org/org_csv.py); a mapping names each as an HRIS export
# calls it.
ORG_COLUMNS = (
    "email",
    "name",
    "manager_email",
    "role",
    "archived_on",
    "slack_user_id",
    "timezone",
    "department",
)


class OrgSettings(_Section):
    # An HRIS export (CSV) imported again at each sync when its content changed, all or
    # nothing, as `codexbot org import` does. Unset: the directory changes only by hand,
    # SCIM or Slack.
    source: str | None = None
    # True: people in the directory and missing from a newer file are archived from that
    # day, except config admins and people provisioned over SCIM (sync/org/importer.py).
    archive_missing: bool = False
    # With archive_missing: a file that would archive more than this share of the people
    # not archived, and more than ten of them, is refused and changes nothing. A truncated
    # or filtered export looks like a mass leaving; raise it to 1 for a real one.
    archive_missing_max_share: Annotated[float, Field(gt=0, le=1)] = 0.25
    # Our column name -> the file's header, e.g. manager_email = "Manager Email"; headers
    # match whatever their case and surrounding spaces. Columns nobody maps are ignored.
    columns: dict[str, str] = {}

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(ORG_COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown column {', '.join(unknown)} (known: {', '.join(ORG_COLUMNS)})"
            )
        headers = [header.strip() for header in value.values()]
        if any(not header for header in headers):
            raise ValueError("a column is mapped to an empty header")
        if len(set(headers)) != len(headers):
            raise ValueError("two columns are mapped to the same header")
        return value


class ScimSettings(_Section):
    # The bearer token the identity provider sends to /scim/v2. Unset: no SCIM endpoint.
    bearer_token: Annotated[str, Field(min_length=16)] | None = None
    # The SCIM root as the identity provider reaches it (https://HOST/scim/v2), which the
    # locations in answers start with. Unset: each request's Host header, with http://
    # unless the server itself serves TLS; so behind a proxy that ends TLS, set it.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _root_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = httpx.URL(_http_url(value))
        if url.query or url.fragment:
            raise ValueError("must have no query or fragment")
        return value.rstrip("/")


class PrivacySettings(_Section):
    # An aggregate over people whose own figures the viewer may not see covers at least
    # this many of them; a smaller group shows as "fewer than N people" (sync/org/privacy.py).
    min_group_size: Annotated[int, Field(ge=2, le=1000)] = 5
    # False (works-council mode): managers see their team's aggregates only, never one
    # person's figures; each person still sees their own.
    individual_views: bool = True
    # Works-council mode for these directory departments only (individual_views stays
    # true for everyone else).
    aggregate_only_departments: list[str] = []


class AdoptionSettings(_Section):
    # Cohorts by a person's own level over the period (sync/reports/adoption.py): light
    # from 1 active day; moderate and heavy from both this share of the period's days
    # active and these credits per 30 days (pro-rated to the period's length).
    moderate_active_day_share: Annotated[float, Field(gt=0, le=1)] = 0.25
    moderate_credits: Annotated[float, Field(ge=0)] = 10.0
    heavy_active_day_share: Annotated[float, Field(gt=0, le=1)] = 0.6
    heavy_credits: Annotated[float, Field(ge=0)] = 100.0
    # A matched Codex account with no usage for this many days is an idle seat.
    idle_days: Annotated[int, Field(ge=1, le=API_HISTORY_DAYS)] = 30


class LoggingSettings(_Section):
    # "json": one JSON object a line (time, level, logger, message, exception).
    format: Literal["text", "json"] = "text"


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    codex: CodexSettings = CodexSettings()
    security: SecuritySettings = SecuritySettings()
    slack: SlackSettings = SlackSettings()
    sync: SyncSettings = SyncSettings()
    digest: DigestSettings = DigestSettings()
    retention: RetentionSettings = RetentionSettings()
    logging: LoggingSettings = LoggingSettings()
    org: OrgSettings = OrgSettings()
    scim: ScimSettings = ScimSettings()
    privacy: PrivacySettings = PrivacySettings()
    adoption: AdoptionSettings = AdoptionSettings()


# Environment variable -> (section, key). Operators' scripts rely on these names.
ENVIRONMENT_OVERRIDES = {
    "DATABASE_URL": ("database", "url"),
    "CODEX_API_BASE_URL": ("codex", "api_base_url"),
    "CODEX_API_KEY": ("codex", "api_key"),
    "CODEX_WORKSPACE_ID": ("codex", "workspace_id"),
    "CODEXBOT_SECRET_KEY": ("security", "secret_key"),
    "SLACK_BOT_TOKEN": ("slack", "bot_token"),
    "SLACK_APP_TOKEN": ("slack", "app_token"),
    "SLACK_SIGNING_SECRET": ("slack", "signing_secret"),
    "SLACK_API_URL": ("slack", "api_url"),
    "CODEXBOT_LOG_FORMAT": ("logging", "format"),
    "SCIM_BEARER_TOKEN": ("scim", "bearer_token"),
    "SCIM_PUBLIC_URL": ("scim", "public_url"),
}


def load_settings(
    config_path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    config_path = config_path or environ.get("CODEXBOT_CONFIG")
    raw: dict = {}
    if config_path:
        path = Path(config_path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    for variable, (section, key) in ENVIRONMENT_OVERRIDES.items():
        value = environ.get(variable)
        if value:
            raw.setdefault(section, {})[key] = value
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None

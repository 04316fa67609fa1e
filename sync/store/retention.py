"""Deleting what is older than the configured retention after each sync, and claims that
lapsed a day ago or more (bookkeeping nobody reads again)."""

from __future__ import annotations

import datetime as dt
import logging

from sync.clock import utc_timestamp, utc_today
from sync.config import RetentionSettings
from sync.store.claims import forget_expired
from sync.store.models import AccessLog, DailyUsage, database
from sync.store.rollups import note_usage_changed

log = logging.getLogger(__name__)


def apply_retention(retention: RetentionSettings) -> tuple[int, int]:
    """(usage rows, access log rows) deleted."""
    forget_expired(utc_timestamp() - dt.timedelta(days=1))
    usage_deleted = views_deleted = 0
    if retention.usage_days:
        cutoff = utc_today() - dt.timedelta(days=retention.usage_days)
        with database.atomic():  # the usage revision moves with the rows
            note_usage_changed()
            usage_deleted = DailyUsage.delete().where(DailyUsage.day < cutoff).execute()
    if retention.access_log_days:
        cutoff_time = utc_timestamp() - dt.timedelta(days=retention.access_log_days)
        views_deleted = AccessLog.delete().where(AccessLog.viewed_at < cutoff_time).execute()
    if usage_deleted or views_deleted:
        log.info(
            "retention: deleted %s usage rows, %s access log rows", usage_deleted, views_deleted
        )
    return usage_deleted, views_deleted

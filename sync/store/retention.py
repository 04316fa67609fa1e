"""Deleting what is older than the configured retention, after each sync."""

from __future__ import annotations

import datetime as dt
import logging

from sync.clock import utc_timestamp, utc_today
from sync.config import RetentionSettings
from sync.org.access_log import delete_views_before
from sync.store.models import DailyUsage

log = logging.getLogger(__name__)


def apply_retention(retention: RetentionSettings) -> tuple[int, int]:
    """(usage rows, access log rows) deleted."""
    usage_deleted = views_deleted = 0
    if retention.usage_days:
        cutoff = utc_today() - dt.timedelta(days=retention.usage_days)
        usage_deleted = DailyUsage.delete().where(DailyUsage.day < cutoff).execute()
    if retention.access_log_days:
        views_deleted = delete_views_before(
            utc_timestamp() - dt.timedelta(days=retention.access_log_days)
        )
    if usage_deleted or views_deleted:
        log.info(
            "retention: deleted %s usage rows, %s access log rows", usage_deleted, views_deleted
        )
    return usage_deleted, views_deleted

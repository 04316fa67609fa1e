"""Delivering digests by DM: at the configured local time, once per person and period,
and only on complete data.

A send is claimed first and recorded as sent when Slack accepts the message, so a restart
or a second replica never sends twice; a failed send is retried with backoff. A digest
whose period is not fully synced yet (no sync completed since it ended, or a day missing
in it) waits, is tried again at each tick, and the admins hear once if it is more than a
day late.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.admins import tell_admins
from bot.messages import render_message, render_messages
from bot.slack import send_direct_message
from sync.clock import utc_now
from sync.config import DigestSettings, Settings
from sync.notices import Notice
from sync.org.access import digest_recipients, self_digest_recipients
from sync.org.access_log import record_views
from sync.org.chart import OrgChart, load_org_chart
from sync.reports.coverage import Coverage
from sync.reports.digest import compose_digest
from sync.reports.periods import Period
from sync.reports.queries import stats_answer
from sync.store.claims import claim_once, held_claim, release, try_claim, unique_holder
from sync.store.models import DigestDelivery, Employee

log = logging.getLogger(__name__)

DIGEST_LEASE = "digest"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# How long one send may take; a claim older than this belongs to a process that died.
STALE_CLAIM = dt.timedelta(minutes=10)
MAX_RETRY_DELAY = dt.timedelta(hours=1)
# A digest waits for complete data this long at most: then the next one is due anyway.
WAITING_DAYS = 7
LATE_NOTICE_CLAIM_SECONDS = 30 * 24 * 3600


def digest_period_end(local_now: dt.datetime, digest: DigestSettings) -> dt.date | None:
    """The last day a digest due at `local_now` covers, or None when none is due.

    Due on the configured weekday from the configured time until that day ends, so a
    replica that restarts at 11:00 still sends the 09:00 digest.
    """
    hour, minute = (int(part) for part in digest.time.split(":"))
    if local_now.weekday() != WEEKDAYS.index(digest.day):
        return None
    if (local_now.hour, local_now.minute) < (hour, minute):
        return None
    return local_now.date() - dt.timedelta(days=1)


class DigestDeliverer:
    def __init__(self, settings: Settings, client: WebClient, holder: str) -> None:
        self.settings = settings
        self.client = client
        self.holder = holder
        self._slack_timezones: dict[str, str | None] = {}
        self._coverage: Coverage | None = None
        self._chart: OrgChart | None = None

    def deliver_due(self) -> int:
        """Send every digest now due; returns how many were sent."""
        if not self.settings.digest.enabled:
            return 0
        with held_claim(DIGEST_LEASE, self.holder) as held:
            if not held:
                return 0
            now = utc_now()
            # Read once for the whole run: every period due now or still waiting.
            self._coverage = Coverage.load(now.date() - self._coverage_span(), now.date())
            self._chart = load_org_chart()
            sent = 0
            for manager in digest_recipients(now.date()):
                if not manager.digest_opt_out:
                    sent += self._deliver_if_due(manager, DigestDelivery.KIND_MANAGER, now)
            for employee in self_digest_recipients(now.date()):
                sent += self._deliver_if_due(employee, DigestDelivery.KIND_SELF, now)
            for waiting in _waiting(now.date() - dt.timedelta(days=WAITING_DAYS)):
                sent += int(self.deliver(waiting.employee, waiting.kind, waiting.period_end, now))
            self._tell_admins_if_late(now)
            return sent

    def _coverage_span(self) -> dt.timedelta:
        """How far back a run's coverage reaches: a waiting digest's previous period."""
        return dt.timedelta(days=2 * self.settings.digest.period_days + WAITING_DAYS + 2)

    def _deliver_if_due(self, employee: Employee, kind: str, now: dt.datetime) -> int:
        local_now = now.astimezone(self._timezone_of(employee))
        period_end = digest_period_end(local_now, self.settings.digest)
        if period_end is None:
            return 0
        return int(self.deliver(employee, kind, period_end, now))

    def deliver(self, employee: Employee, kind: str, period_end: dt.date, now: dt.datetime):
        """Send one digest unless it was sent already, is being sent, is backing off after
        a failure, or its period is not fully synced yet (then it waits); True if this call
        sent it."""
        now = now.replace(tzinfo=None)
        key = (kind, employee.id, period_end)
        if not _due(_delivery(*key), now):
            return False
        # Claimed for the length of a send: if this process dies mid-send, the claim
        # expires and another tick sends it again.
        claim, attempt = f"digest:{kind}:{employee.id}:{period_end.isoformat()}", unique_holder()
        if not try_claim(claim, attempt, STALE_CLAIM.total_seconds()):
            return False
        try:
            delivery = _delivery(*key)
            if not _due(delivery, now):  # finished by another replica just before the claim
                return False
            delivery = delivery or _new_delivery(*key)
            if not self._period_synced(period_end, now):
                delivery.status = DigestDelivery.STATUS_WAITING
                delivery.claimed_at = now
                delivery.next_attempt_at = None
                delivery.save()
                return False
            try:
                user_id = self._slack_user_id(employee)
                messages, shown = self.compose(employee, kind, period_end)
                timestamps = [send_direct_message(self.client, user_id, m) for m in messages]
            except (SlackApiError, SlackClientError, OSError, LookupError) as exc:
                _record_failure(delivery, exc, now)
                return False
            record_views(employee, shown, "digest")  # only once Slack has shown them
            delivery.status = DigestDelivery.STATUS_SENT
            delivery.claimed_at = delivery.sent_at = now
            delivery.slack_ts = timestamps[0]
            delivery.error = None
            delivery.save()
            return True
        finally:
            release(claim, attempt)

    def compose(self, employee: Employee, kind: str, period_end: dt.date):
        """The messages to send, and the people whose stats they show."""
        today = period_end + dt.timedelta(days=1)
        days = self.settings.digest.period_days
        if kind == DigestDelivery.KIND_SELF:
            answer = stats_answer(employee, Period.ending_before(today, days))
            return [render_message("stats", answer=answer)], []
        digest = compose_digest(employee, today, days, self._coverage, self._chart)
        shown = [entry.answer.employee for entry in digest.entries]
        return render_messages("digest", digest=digest), shown

    def _period_synced(self, period_end: dt.date, now: dt.datetime) -> bool:
        coverage = self._coverage or Coverage.load(now.date() - self._coverage_span(), now.date())
        days = self.settings.digest.period_days
        period = Period.ending_before(period_end + dt.timedelta(days=1), days)
        return coverage.complete(period)

    def _tell_admins_if_late(self, now: dt.datetime) -> None:
        """Once per period: digests still waiting a day after they were due."""
        late_before = now.date() - dt.timedelta(days=1)
        for period_end in _waiting_periods(now.date() - dt.timedelta(days=WAITING_DAYS)):
            if period_end + dt.timedelta(days=1) >= late_before:
                continue
            if claim_once(f"digests-late:{period_end.isoformat()}", LATE_NOTICE_CLAIM_SECONDS):
                days = self.settings.digest.period_days
                period = Period.ending_before(period_end + dt.timedelta(days=1), days)
                assert self._coverage is not None  # loaded by deliver_due
                late = Notice(
                    "digests_late",
                    {
                        "period_end": period_end,
                        "data_as_of": self._coverage.data_as_of,
                        "missing": self._coverage.missing(period),
                    },
                )
                tell_admins(self.client, self.settings, late)

    def _timezone_of(self, employee: Employee) -> ZoneInfo:
        """The directory's time zone, else Slack's, else the configured default."""
        for name in (employee.timezone, self._slack_timezone(employee)):
            if name:
                try:
                    return ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    continue
        return ZoneInfo(self.settings.digest.timezone)

    def _slack_timezone(self, employee: Employee) -> str | None:
        if not employee.slack_user_id:
            return None
        if employee.slack_user_id not in self._slack_timezones:
            try:
                user = self.client.users_info(user=employee.slack_user_id)["user"]
                self._slack_timezones[employee.slack_user_id] = user.get("tz")
            except (SlackApiError, SlackClientError, OSError):
                return None
        return self._slack_timezones[employee.slack_user_id]

    def _slack_user_id(self, employee: Employee) -> str:
        if employee.slack_user_id:
            return employee.slack_user_id
        try:
            user = self.client.users_lookupByEmail(email=employee.email)["user"]
        except SlackApiError as exc:
            raise LookupError(f"{employee.email} has no Slack account") from exc
        employee.slack_user_id = user["id"]
        employee.save(only=[Employee.slack_user_id])
        return employee.slack_user_id


def _delivery(kind: str, employee_id: int, period_end: dt.date) -> DigestDelivery | None:
    return DigestDelivery.get_or_none(
        DigestDelivery.kind == kind,
        DigestDelivery.employee == employee_id,
        DigestDelivery.period_end == period_end,
    )


def _new_delivery(kind: str, employee_id: int, period_end: dt.date) -> DigestDelivery:
    return DigestDelivery(kind=kind, employee=employee_id, period_end=period_end)


def _waiting(since: dt.date) -> list[DigestDelivery]:
    return list(
        DigestDelivery.select().where(
            DigestDelivery.status == DigestDelivery.STATUS_WAITING,
            DigestDelivery.period_end >= since,
        )
    )


def _waiting_periods(since: dt.date) -> list[dt.date]:
    return sorted({delivery.period_end for delivery in _waiting(since)})


def _due(delivery: DigestDelivery | None, now: dt.datetime) -> bool:
    if delivery is None:
        return True
    if delivery.status == DigestDelivery.STATUS_SENT:
        return False
    return delivery.next_attempt_at is None or delivery.next_attempt_at <= now


def _record_failure(delivery: DigestDelivery, exc: Exception, now: dt.datetime) -> None:
    delivery.attempts += 1
    delivery.claimed_at = now
    delay = min(dt.timedelta(minutes=2**delivery.attempts), MAX_RETRY_DELAY)
    delivery.status = DigestDelivery.STATUS_FAILED
    delivery.next_attempt_at = now + delay
    delivery.error = f"{type(exc).__name__}: {exc}"[:500]
    delivery.save()
    log.warning(
        "digest %s for employee %s failed, retry at %s",
        delivery.id,
        delivery.employee_id,
        delivery.next_attempt_at,
    )

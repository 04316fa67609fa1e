"""Who may see whose Codex usage, who is an admin, and what "archived" means: the one
policy every surface (slash commands, DMs, Home tab, digests, alerts, the CLI) asks.

A person sees their own usage and that of everyone below them in the reporting chain;
admins (directory role `admin`, or an email in `slack.admin_emails`) see everyone;
archived people see nothing. Peers, one's own manager and other branches are private.

Two things narrow that (`[privacy]`, docs/privacy.md): works-council mode
(`individual_views = false`, or the person's department in `aggregate_only_departments`)
leaves their managers only aggregates of a team that includes them; and analysts (directory
role `analyst`) see aggregates of the whole organisation, never one person. Both reach
this module as an `AccessPolicy`, which is passed wherever admin emails are (it is the
collection of admin emails too). Aggregates such viewers get obey the group-size floor of
sync/org/privacy.py.

Archiving is decided here and nowhere else. Someone whose `archived_on` is day D is
archived from D onwards (a date still in the future is not archived yet), and D is still
their day: activity up to and including D is theirs, later activity is nobody's.

Access is lost on archiving, and also, at once, when Slack reports the person's account
deactivated (before the directory says they left): `has_access` is the viewer's side of
every check. Their history is untouched by the latter: it still counts for their manager.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from peewee import Expression, fn

from sync.clock import utc_today
from sync.org.chart import manager_ids_above, reporting_chain
from sync.store.models import ROLE_ADMIN, Employee

if TYPE_CHECKING:
    from sync.config import Settings


class _Archivable(Protocol):
    @property
    def archived_on(self) -> dt.date | None: ...


class _Viewing(_Archivable, Protocol):
    @property
    def slack_deactivated_at(self) -> dt.datetime | None: ...


def is_archived(person: _Archivable, day: dt.date | None = None) -> bool:
    """Archived on `day` (a UTC day, default today): from `archived_on` onwards."""
    return person.archived_on is not None and person.archived_on <= (day or utc_today())


def archived_where(day: dt.date, people=Employee) -> Expression:
    """is_archived(person, day) as a SQL condition on `people` (Employee or an alias)."""
    return people.archived_on.is_null(False) & (people.archived_on <= day)


def has_access(person: _Viewing, day: dt.date | None = None) -> bool:
    """Whether `person` may see anything on `day`: not archived, and their Slack account
    not deactivated."""
    return not is_archived(person, day) and person.slack_deactivated_at is None


def access_where(day: dt.date, people=Employee) -> Expression:
    """has_access(person, day) as a SQL condition on `people`."""
    return ~archived_where(day, people) & people.slack_deactivated_at.is_null()


def activity_counts(person: _Archivable, day: dt.date) -> bool:
    """Whether Codex activity on `day` is attributed to `person`: not after their last day."""
    return person.archived_on is None or day <= person.archived_on


def activity_counts_where(day: dt.date, people=Employee) -> Expression:
    """activity_counts(person, day) as a SQL condition on `people`."""
    return people.archived_on.is_null() | (people.archived_on >= day)


def is_admin(
    employee: Employee | None,
    email: str | None = None,
    admin_emails: Collection[str] = (),
    day: dt.date | None = None,
) -> bool:
    """Admins are employees with role admin, plus the emails the config lists.

    A config admin need not be in the directory yet: someone has to connect Codex and
    import the org first. Someone who lost access (archived, Slack account deactivated)
    is never an admin, whatever the config lists.
    """
    if employee is not None and not has_access(employee, day):
        return False
    emails = _normalized(admin_emails)
    if employee is not None and (employee.is_admin or employee.email in emails):
        return True
    return email is not None and email != "" and email.strip().lower() in emails


@dataclass(frozen=True)
class Admins:
    """Everyone who is an admin on a day: directory people, and config emails that are
    nobody in the directory (they can only be reached by that email)."""

    employees: list[Employee]
    emails_outside_directory: list[str]


def admins(admin_emails: Collection[str] = (), day: dt.date | None = None) -> Admins:
    day = day or utc_today()
    emails = _normalized(admin_emails)
    employees = list(
        Employee.select()
        .where(
            ((Employee.role == ROLE_ADMIN) | Employee.email.in_(sorted(emails))) & access_where(day)
        )
        .order_by(Employee.email)
    )
    in_directory = {
        email
        for (email,) in Employee.select(Employee.email)
        .where(Employee.email.in_(sorted(emails)))
        .tuples()
    }
    return Admins(employees, sorted(emails - in_directory))


@dataclass(frozen=True)
class Viewer:
    """Who is asking: their directory entry (None for someone not in it) and the email
    their account gives, which can make them a config admin before they are in it."""

    employee: Employee | None
    email: str | None = None

    def is_admin(self, admin_emails: Collection[str]) -> bool:
        return is_admin(self.employee, self.email, admin_emails)


@dataclass(frozen=True)
class AccessPolicy(Collection[str]):
    """The admin emails and the `[privacy]` settings, read from the settings once.

    It is a collection of the admin emails, so it goes wherever admin emails went; a plain
    collection of emails stands for the default policy (individual views on, floor 5)."""

    admin_emails: frozenset[str] = frozenset()
    individual_views: bool = True
    aggregate_only_departments: frozenset[str] = frozenset()
    min_group_size: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        privacy = settings.privacy
        return cls(
            frozenset(_normalized(settings.slack.admin_emails)),
            privacy.individual_views,
            frozenset(_department(name) for name in privacy.aggregate_only_departments),
            privacy.min_group_size,
        )

    def __contains__(self, email: object) -> bool:
        return email in self.admin_emails

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.admin_emails))

    def __len__(self) -> int:
        return len(self.admin_emails)

    def shows_individually(self, person: Employee) -> bool:
        """Whether `person`'s managers may see their own figures (not in works-council
        mode, globally or by their department)."""
        if not self.individual_views:
            return False
        return _department(person.department or "") not in self.aggregate_only_departments

    @property
    def works_council(self) -> bool:
        """Whether works-council mode holds for anyone (globally or for a department)."""
        return not self.individual_views or bool(self.aggregate_only_departments)


def policy_of(admin_emails: Collection[str]) -> AccessPolicy:
    """The policy `admin_emails` stands for: itself, or the default policy with them."""
    if isinstance(admin_emails, AccessPolicy):
        return admin_emails
    return AccessPolicy(frozenset(_normalized(admin_emails)))


def may_view(
    viewer: Employee | None,
    target: Employee,
    admin_emails: Collection[str] = (),
    day: dt.date | None = None,
) -> bool:
    """Whether `viewer` may see `target`'s own figures: themself; an admin; a manager
    above them unless works-council mode holds for `target`. Never an analyst (but for
    themself), nor a peer. `admin_emails`: an AccessPolicy, or just the admin emails."""
    if viewer is None or not has_access(viewer, day):
        return False
    if viewer.id == target.id or is_admin(viewer, admin_emails=admin_emails, day=day):
        return True
    if viewer.is_analyst or not policy_of(admin_emails).shows_individually(target):
        return False
    return viewer.id in manager_ids_above(target)


def aggregates_only(
    viewer: Employee | None, target: Employee, admin_emails: Collection[str] = ()
) -> bool:
    """Whether a refusal to show `target` to `viewer` is the privacy mode's, said as such:
    `viewer` is an analyst, or manages `target` in works-council mode. Any other refusal
    stays the plain one that never tells whether someone exists."""
    if viewer is None or not has_access(viewer) or viewer.id == target.id:
        return False
    if is_admin(viewer, admin_emails=admin_emails):
        return False
    if viewer.is_analyst:
        return True
    policy = policy_of(admin_emails)
    return not policy.shows_individually(target) and viewer.id in manager_ids_above(target)


def sees_organisation(viewer: Viewer, admin_emails: Collection[str]) -> bool:
    """Whether `viewer` may see aggregates of the whole organisation: admins (each figure)
    and analysts (above the group-size floor)."""
    employee = viewer.employee
    if viewer.is_admin(admin_emails):
        return True
    return employee is not None and employee.is_analyst and has_access(employee)


def manages(manager: Employee, report: Employee, day: dt.date | None = None) -> bool:
    """Whether `manager` is above `report` in the reporting chain (directly or higher) and
    both are still here on `day`: who may set a 1:1 with someone and get its prep by DM.
    Being an admin is not being someone's manager."""
    if manager.id == report.id or not has_access(manager, day) or not has_access(report, day):
        return False
    return manager.id in manager_ids_above(report)


def team_of(manager: Employee, day: dt.date | None = None) -> list[Employee]:
    """The people a manager's team views show: everyone below them, archived people
    included (their history before leaving still counts); nobody for a manager who lost
    access."""
    return reporting_chain(manager) if has_access(manager, day) else []


def digest_recipients(day: dt.date) -> list[Employee]:
    """Managers who get a 1:1-prep digest: with access on `day`, and at least one direct
    report who is not archived on `day`."""
    report = Employee.alias()
    has_reports = report.select(report.id).where(
        (report.manager == Employee.id) & (report.id != Employee.id) & ~archived_where(day, report)
    )
    return list(Employee.select().where(access_where(day), fn.EXISTS(has_reports)))


def self_digest_recipients(day: dt.date) -> list[Employee]:
    """People who asked for a summary of their own usage and have access on `day`."""
    return list(Employee.select().where(Employee.self_digest, access_where(day)))


def digest_subjects(manager: Employee, first_day: dt.date) -> list[Employee]:
    """The direct reports a digest whose period starts on `first_day` covers: everyone with
    a day in that period that is still theirs. Someone who left before it has nothing to
    discuss in a 1:1."""
    reports = (
        Employee.select()
        .where((Employee.manager == manager.id) & (Employee.id != manager.id))
        .where(activity_counts_where(first_day))
        .order_by(Employee.name, Employee.email)
    )
    return list(reports)


def _normalized(emails: Collection[str]) -> set[str]:
    return {email.strip().lower() for email in emails}


def _department(name: str) -> str:
    return " ".join(name.split()).casefold()

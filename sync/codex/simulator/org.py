"""A synthetic org: the employee directory plus the Codex accounts the API reports.

The two sides deliberately disagree the way real ones do: some employees have no Codex
account, some accounts belong to no employee, some report their email in another case
or not at all, and some people have left but still show usage.
"""

from __future__ import annotations

import csv
import datetime
import random
import uuid
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

ROLE_EMPLOYEE = "employee"
ROLE_ADMIN = "admin"
DOMAIN = "example.com"
CONTRACTOR_DOMAINS = ("northwind-contractors.com", "acme-consulting.io", "freelance.dev")
TIMEZONES = (
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Europe/London",
    "UTC",
)
# A client id no grouping table knows, so that "Other" gets exercised.
UNKNOWN_SURFACE = "CODEX_SLACK"
# (client_id, share of accounts that use it); an account's first surface is its main one.
SURFACE_SHARES = (
    ("CODEX_CLI", 0.55),
    ("CODEX_IDE_VSCODE", 0.5),
    ("CODEX_WEB", 0.35),
    ("CODEX_DESKTOP_APP", 0.15),
    ("CODEX_GITHUB", 0.15),
    ("CODEX_IDE_JETBRAINS", 0.1),
    ("CODEX_GITHUB_ACTION", 0.03),
    (UNKNOWN_SURFACE, 0.01),
)
# Full density (`every_day_accounts`): every employee on every day on these four, one from
# each group people read, as the stats and digest benchmarks store them.
FULL_DENSITY_SURFACES = ("CODEX_CLI", "CODEX_IDE_VSCODE", "CODEX_WEB", "CODEX_GITHUB")
CSV_HEADER = ("email", "name", "manager_email", "role", "archived_on", "slack_user_id", "timezone")

FIRST_NAMES = (
    "Aarav Ada Adele Ahmed Aiko Alan Alejandro Alice Amara Amir Ana Anders Andrea Anika Arjun "
    "Astrid Ben Bianca Bo Carlos Carmen Chen Chiara Chloe Dana Daniel Dev Diego Dmitri Elena "
    "Eli Emma Erik Fatima Felix Fiona Gabriel Grace Hana Hannah Hiro Ines Ingrid Isaac Ivan "
    "Jamal James Jana Javier Jin Joao Jonas Julia Kai Kamala Karin Kenji Kofi Lars Layla Lea "
    "Leo Lena Liam Lina Luca Lucia Maya Mei Mateo Mia Miguel Mohammed Nadia Naomi Nia Nikhil "
    "Nina Noah Olga Omar Oscar Paolo Priya Rahul Rania Ravi Rosa Ryan Sam Santiago Sara Sofia "
    "Sven Tariq Tess Theo Tomas Uma Valentina Victor Wei Yara Yuki Zara Zoe"
).split()
LAST_NAMES = (
    "Abe Adeyemi Alvarez Andersen Bauer Becker Bianchi Brown Campbell Chen Costa Cruz Das "
    "Dubois Eriksson Fernandes Fischer Garcia Gonzalez Gupta Haddad Hansen Hernandez Hoffmann "
    "Ito Iyer Jansen Johansson Jones Kapoor Kato Kelly Khan Kim Kowalski Kumar Larsen Lee "
    "Lopez Martin Meyer Miller Moreau Murphy Nakamura Nguyen Nielsen Novak Okafor Olsen Park "
    "Patel Perez Petrov Popescu Quinn Rao Reddy Ricci Rossi Russo Sato Schmidt Schneider Silva "
    "Singh Smith Sousa Suzuki Tanaka Taylor Thomas Torres Vargas Wagner Walker Wang Weber "
    "Williams Wilson Wong Yamamoto Yilmaz Young Zhang Zimmermann"
).split()
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    manager_email: str | None
    role: str
    archived_on: datetime.date | None
    slack_user_id: str | None
    timezone: str | None


@dataclass(frozen=True)
class CodexAccount:
    """A Codex user as the API sees it.

    `email` is what the API reports (maybe mixed case, maybe None). `person_email` is the
    ground truth: the lower-case email of the employee who owns the account, kept even
    when the API withholds the email (the bot cannot match those: see `matchable`).
    """

    user_id: str
    email: str | None
    person_email: str | None
    activity: float
    intensity: float
    surfaces: tuple[str, ...]
    # Last day with usage; None while the account is still used. Set for people who left
    # and whose account was deprovisioned, so their usage stops on that day.
    active_until: datetime.date | None = None

    @property
    def matchable(self) -> bool:
        """Whether a correct sync can tie this account to an employee by email."""
        return self.email is not None and self.person_email is not None


@dataclass
class SimulatedOrg:
    people: list[Person]
    accounts: list[CodexAccount]
    workspace_id: str
    api_key: str
    seed: int = 0


def generate_org(employees: int, seed: int, today: datetime.date | None = None) -> SimulatedOrg:
    if employees < 1:
        raise ValueError("employees must be at least 1")
    if today is None:
        today = datetime.datetime.now(datetime.UTC).date()
    rng = random.Random(f"org:{seed}:{employees}")
    names, emails = _names(rng, employees)
    managers = _manager_tree(rng, employees)
    has_reports = set(managers) - {None}

    admins = _admins(rng, employees)
    leaves = [i for i in range(employees) if i not in has_reports and i not in admins and i]
    archived = sorted(rng.sample(leaves, min(len(leaves), round(employees * 0.02))))
    archived_on = {i: today - datetime.timedelta(days=rng.randint(1, 60)) for i in archived}

    slack_ids: set[str] = set()
    people = []
    for i in range(employees):
        slack_id = None
        manager = managers[i]
        if rng.random() < 0.95:
            slack_id = _slack_id(rng, slack_ids)
        people.append(
            Person(
                email=emails[i],
                name=names[i],
                manager_email=None if manager is None else emails[manager],
                role=ROLE_ADMIN if i in admins else ROLE_EMPLOYEE,
                archived_on=archived_on.get(i),
                slack_user_id=slack_id,
                timezone=rng.choice(TIMEZONES) if rng.random() < 0.97 else None,
            )
        )

    accounts = _accounts(rng, people, archived, archived_on)
    workspace_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    api_key = f"sk-sim-{rng.getrandbits(128):032x}"
    return SimulatedOrg(people, accounts, workspace_id, api_key, seed)


def every_day_accounts(org: SimulatedOrg) -> list[CodexAccount]:
    """One account per employee (leavers included), each used every day on every one of
    FULL_DENSITY_SURFACES: the simulator's full density, the most rows an org of this size
    can have. People keep the account the realistic org gives them (its user id, and
    the email as the API reports it); those without one get one under their email.
    Contractors, who are not employees, have none. Deterministic for the org's seed."""
    rng = random.Random(f"full:{org.seed}:{len(org.people)}")
    owned = {a.person_email: a for a in org.accounts if a.person_email is not None}
    taken = {a.user_id for a in org.accounts}
    accounts = []
    for person in org.people:
        account = owned.get(person.email)
        if account is None:
            user_id = f"user-{rng.getrandbits(64):016x}"
            while user_id in taken:
                user_id = f"user-{rng.getrandbits(64):016x}"
            taken.add(user_id)
            _, intensity = _profile(rng)
            account = CodexAccount(user_id, person.email, person.email, 1.0, intensity, ())
        accounts.append(
            replace(account, activity=1.0, surfaces=FULL_DENSITY_SURFACES, active_until=None)
        )
    accounts.sort(key=lambda a: a.user_id)
    return accounts


def write_org_csv(org: SimulatedOrg, path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        for p in org.people:
            writer.writerow(
                (
                    p.email,
                    p.name,
                    p.manager_email or "",
                    p.role,
                    p.archived_on.isoformat() if p.archived_on else "",
                    p.slack_user_id or "",
                    p.timezone or "",
                )
            )


def _names(rng: random.Random, count: int, domain: str = DOMAIN) -> tuple[list[str], list[str]]:
    names, emails, seen = [], [], set()
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower()
        email, n = f"{local}@{domain}", 1
        while email in seen:
            n += 1
            email = f"{local}{n}@{domain}"
        seen.add(email)
        names.append(f"{first} {last}")
        emails.append(email)
    return names, emails


def _manager_tree(rng: random.Random, count: int) -> list[int | None]:
    """Fill managers breadth-first with 5-8 reports each.

    Only 40% of the people are candidates to manage, which makes the tree grow
    deeper with size (4-5 levels under the CEO at 200 people, 8-9 at 10,000).
    """
    managers: list[int | None] = [None] * count
    candidates: deque[int] = deque()
    current, room = 0, rng.randint(3, 5)  # the CEO's staff
    for i in range(1, count):
        if room == 0:
            # Nobody left to manage only when the last people all declined: promote one.
            current = candidates.popleft() if candidates else i - 1
            room = rng.randint(5, 8)
        managers[i] = current
        room -= 1
        if current == 0 or rng.random() < 0.4:
            candidates.append(i)
    return managers


def _admins(rng: random.Random, count: int) -> set[int]:
    wanted = rng.choice((2, 3))
    pool = list(range(1, count)) if count > wanted else list(range(count))
    return set(rng.sample(pool, min(wanted, len(pool))))


def _slack_id(rng: random.Random, taken: set[str]) -> str:
    while True:
        slack_id = "U" + "".join(rng.choices(_ALNUM, k=10))
        if slack_id not in taken:
            taken.add(slack_id)
            return slack_id


def _profile(rng: random.Random) -> tuple[float, float]:
    """(activity, intensity): a few heavy users, many regular, some rare, some idle."""
    r = rng.random()
    if r < 0.12:
        return rng.uniform(0.85, 0.98), rng.uniform(2.0, 4.0)
    if r < 0.6:
        return rng.uniform(0.45, 0.8), rng.uniform(0.7, 1.6)
    if r < 0.88:
        return rng.uniform(0.08, 0.35), rng.uniform(0.3, 1.0)
    return rng.uniform(0.0, 0.02), rng.uniform(0.2, 0.6)


def _surfaces(rng: random.Random) -> tuple[str, ...]:
    picked = [client for client, share in SURFACE_SHARES if rng.random() < share]
    if not picked:
        picked = ["CODEX_WEB"]
    # The main surface is not always the most common one.
    if len(picked) > 1 and rng.random() < 0.3:
        rng.shuffle(picked)
    return tuple(picked)


def _mixed_case(rng: random.Random, email: str) -> str:
    local, domain = email.split("@")
    style = rng.randrange(3)
    if style == 0:
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain
    if style == 1:
        return email.upper()
    return local + "@" + domain.capitalize()


def _accounts(
    rng: random.Random,
    people: list[Person],
    archived: list[int],
    archived_on: dict[int, datetime.date],
) -> list[CodexAccount]:
    user_ids: set[str] = set()

    def new_user_id() -> str:
        while True:
            user_id = f"user-{rng.getrandbits(64):016x}"
            if user_id not in user_ids:
                user_ids.add(user_id)
                return user_id

    archived_set = set(archived)
    # Every other leaver keeps an account that was never deprovisioned and is still used.
    still_used = set(archived[::2])
    owners = [i for i in range(len(people)) if i in archived_set or rng.random() < 0.85]
    owned = [i for i in owners if i not in archived_set]
    no_email = set(rng.sample(owned, min(len(owned), max(2, round(len(owners) * 0.01)))))

    accounts = []
    for i in owners:
        email = people[i].email
        activity, intensity = _profile(rng)
        active_until = None
        if i in archived_set:
            activity = max(activity, 0.5)
            active_until = None if i in still_used else archived_on[i]
        reported: str | None = email
        if i in no_email:
            reported = None
        elif rng.random() < 0.1:
            reported = _mixed_case(rng, email)
        accounts.append(
            CodexAccount(
                new_user_id(), reported, email, activity, intensity, _surfaces(rng), active_until
            )
        )

    contractors = max(2, round(len(owners) * 0.015))
    for n in range(contractors):
        _, (email,) = _names(rng, 1, CONTRACTOR_DOMAINS[n % len(CONTRACTOR_DOMAINS)])
        local, domain = email.split("@")
        email = f"{local}{n + 1}@{domain}"  # contractors share domains: keep them unique
        activity, intensity = _profile(rng)
        accounts.append(
            CodexAccount(new_user_id(), email, None, activity, intensity, _surfaces(rng))
        )

    if not any(UNKNOWN_SURFACE in a.surfaces for a in accounts):
        k = rng.randrange(len(accounts))
        accounts[k] = replace(accounts[k], surfaces=(*accounts[k].surfaces, UNKNOWN_SURFACE))
    # The API lists users in its own order, unrelated to the directory's.
    accounts.sort(key=lambda a: a.user_id)
    return accounts

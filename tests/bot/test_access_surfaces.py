"""The access matrix, run through every surface that shows stats: `/codex stats` (by mention
and by email), `/codex team` (one's own, an admin's organisation, `@manager`'s), `/codex
export` (the CSV in the DM), DMs, the Home tab, digests (preview and delivered) and the
CLI; and `/codex org`, for admins only. Each runs in both privacy modes (docs/privacy.md):
individual views on, and works-council mode (`[privacy] individual_views = false`), where
managers see their reporting line only in sums (above the group-size floor, which this
small org mostly is not) and digests are team-level; and for every viewer role: self,
manager, skip-level, peer, analyst (sums only, never a person) and admin.

The expected answers come from a table written here, independently of sync/access.py: each
(viewer, target) pair gets a relation (self, report, skip-level, manager, peer, ...), and
POLICY says which relations may see stats. Everyone has a distinctive name, so a leak is
found by searching what each surface rendered for names. Every cell is counted both ways:
a name shown where the policy forbids it is a leak, a name the surface should show but
doesn't is a miss. Both counts must be zero.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner
from factories import person, store_usage, usage
from freezegun import freeze_time

from bot.cli import cli
from bot.digests import DigestDeliverer
from bot.rendering import words
from bot.slack import web_client
from sync.clock import utc_today
from sync.reports.directory_admin import ADMINS_ONLY
from sync.store.models import Employee, database

ARCHIVED_DAYS_AGO = 40
ORG_REFUSAL = words(ADMINS_ONLY)

# key: (name, manager, role). Names share no word with each other or with any template.
PEOPLE = {
    "ceo": ("Quentin Apex", None, "employee"),
    "vp": ("Valentina Vortex", "ceo", "employee"),
    "mgr": ("Mortimer Midway", "vp", "employee"),
    "rep1": ("Rosalind Quill", "mgr", "employee"),
    "rep2": ("Percival Nettle", "mgr", "employee"),
    "admin": ("Zelda Adminova", None, "admin"),
    "stranger": ("Sigourney Faraway", "ceo", "employee"),
    "outpost": ("Octavia Outpost", "stranger", "employee"),
    # A former manager, archived, whose report still points at them.
    "archived": ("Archibald Formerly", "vp", "employee"),
    "leftover": ("Ursula Leftover", "archived", "employee"),
    "analyst": ("Anneliese Lens", "ceo", "analyst"),
}
ARCHIVED = {"archived"}
# Known to the directory by Slack id; the others are matched by their Slack email.
STORED_SLACK_IDS = {"ceo", "vp", "mgr", "admin", "archived"}
OUTSIDER = "outsider"  # in Slack, not in the directory
VIEWERS = [*PEOPLE, OUTSIDER]
TARGETS = list(PEOPLE)
SELF_DIGEST = {"rep1", "archived"}

# Who may see whose stats, by how the viewer relates to the target.
POLICY = {
    "self": True,
    "report": True,
    "skip-level report": True,
    "manager": False,
    "skip-level manager": False,
    "peer": False,
    "stranger": False,  # another branch of the org
    "admin viewer": True,
    "analyst viewer": False,  # sums of the organisation only
    "archived viewer": False,
    "not in directory": False,
}
# Works-council mode: managers, direct or skip-level, see their people only in sums.
WORKS_COUNCIL_POLICY = {**POLICY, "report": False, "skip-level report": False}
MODES = {"individual views": True, "works council": False}


def name(key: str) -> str:
    return PEOPLE[key][0]


def email(key: str) -> str:
    return f"{key}@example.com"


def slack_id(key: str) -> str:
    return "U" + key.upper()


def managers_above(key: str) -> list[str]:
    chain, boss = [], PEOPLE[key][1]
    while boss is not None:
        chain.append(boss)
        boss = PEOPLE[boss][1]
    return chain


def relation(viewer: str, target: str) -> str:
    if viewer == OUTSIDER:
        return "not in directory"
    if viewer in ARCHIVED:
        return "archived viewer"
    if PEOPLE[viewer][2] == "admin":
        return "admin viewer"
    if viewer == target:
        return "self"
    if PEOPLE[viewer][2] == "analyst":
        return "analyst viewer"
    if PEOPLE[target][1] == viewer:
        return "report"
    if viewer in managers_above(target):
        return "skip-level report"
    if PEOPLE[viewer][1] == target:
        return "manager"
    if target in managers_above(viewer):
        return "skip-level manager"
    if PEOPLE[viewer][1] is not None and PEOPLE[viewer][1] == PEOPLE[target][1]:
        return "peer"
    return "stranger"


def allowed(viewer: str, target: str, individual_views: bool = True) -> bool:
    return (POLICY if individual_views else WORKS_COUNCIL_POLICY)[relation(viewer, target)]


def sees_people(viewer: str, individual_views: bool) -> bool:
    """Whether team views, Home and digests list `viewer`'s people one by one."""
    return individual_views or is_admin(viewer)


def active(viewer: str) -> bool:
    return viewer in PEOPLE and viewer not in ARCHIVED


def is_admin(viewer: str) -> bool:
    return active(viewer) and PEOPLE[viewer][2] == "admin"


def reporting_line(viewer: str) -> set[str]:
    """Everyone below `viewer`, all levels, archived people included."""
    if viewer not in PEOPLE:
        return set()
    return {key for key in PEOPLE if viewer in managers_above(key)}


def organisation_named() -> set[str]:
    """What an admin's organisation view names: the people at the top, and each branch by
    the person heading it (right below the top); everyone else only in the sums."""
    top = {key for key, (_, boss, _) in PEOPLE.items() if boss is None}
    return top | {key for key, (_, boss, _) in PEOPLE.items() if boss in top}


def digest_rows(manager: str) -> set[str]:
    """A digest names direct reports only (not those archived before the period);
    skip-levels appear as a roll-up without names."""
    if not active(manager):
        return set()
    return {k for k, (_, boss, _) in PEOPLE.items() if boss == manager and k not in ARCHIVED}


def test_the_table_covers_every_relation():
    seen = {relation(v, t) for v in VIEWERS for t in TARGETS}
    assert seen == set(POLICY)
    assert relation("rep1", "rep2") == "peer"
    assert relation("rep1", "mgr") == "manager"
    assert relation("rep1", "vp") == "skip-level manager"
    assert relation("vp", "rep1") == "skip-level report"
    assert relation("mgr", "stranger") == "stranger"
    assert relation("ceo", "admin") == "stranger"
    assert relation("vp", "leftover") == "skip-level report"  # below an archived manager
    assert digest_rows("vp") == {"mgr"}
    assert digest_rows("ceo") == {"vp", "stranger", "analyst"}
    assert relation("analyst", "rep1") == "analyst viewer"
    assert relation("analyst", "analyst") == "self"
    assert not allowed("mgr", "rep1", individual_views=False)
    assert allowed("rep1", "rep1", individual_views=False)


# --------------------------------------------------------------------------- the org


def build_company(slack, today: dt.date) -> dict[str, Employee]:
    made: dict[str, Employee] = {}
    for key, (full_name, boss, role) in PEOPLE.items():  # managers come before reports
        archived_on = today - dt.timedelta(days=ARCHIVED_DAYS_AGO) if key in ARCHIVED else None
        made[key] = person(email(key), full_name, made.get(boss), role, archived_on)
        if key in STORED_SLACK_IDS:
            made[key].slack_user_id = slack_id(key)
        made[key].self_digest = key in SELF_DIGEST
        made[key].save()
        slack.add_user(slack_id(key), email(key).upper())
    slack.add_user(slack_id(OUTSIDER), email(OUTSIDER))
    slack.add_user("USENTINEL", None)
    # Two periods of usage for everyone, archived people included (their history stays).
    records = [
        usage(f"codex-{key}", today - dt.timedelta(days=offset), email=email(key), credits=n + 1)
        for n, key in enumerate(PEOPLE)
        for offset in range(1, 15)
    ]
    store_usage(records)
    return made


@pytest.fixture
def company(slack, sqlite_db):
    return build_company(slack, utc_today())


@pytest.fixture(params=list(MODES.values()), ids=list(MODES))
def individual_views(request, settings) -> bool:
    """The privacy mode the bot runs in: set before the bot starts (ask for it first)."""
    settings.privacy.individual_views = request.param
    return request.param


# --------------------------------------------------------------------------- the cells


@dataclass
class Matrix:
    """Each (surface, viewer, asked-about, person) is a cell: shown or not, allowed or not."""

    cells: int = 0
    required: int = 0  # cells that must show someone
    leaks: list = field(default_factory=list)
    misses: list = field(default_factory=list)
    wrong: list = field(default_factory=list)  # answers of the wrong kind

    def check(self, surface, viewer, asked, output: str, must=(), may=(), emails=True):
        """`must`: people the answer has to show; `may`: people it may name (the viewer in
        their own digest); anyone else named is a leak."""
        for key in PEOPLE:
            self.cells += 1
            self.required += key in must
            shown = name(key) in output or (emails and email(key) in output.lower())
            cell = (surface, viewer, asked, key)
            if shown and key not in must and key not in may:
                self.leaks.append(cell)
            elif key in must and not shown:
                self.misses.append(cell)

    def assert_clean(self):
        assert not self.leaks, f"{len(self.leaks)} of {self.cells} cells leak: {self.leaks}"
        assert not self.misses, f"{len(self.misses)} cells miss what they should show: " + str(
            self.misses
        )
        assert not self.wrong, f"{len(self.wrong)} answers of the wrong kind: {self.wrong}"


def rendered(params: dict) -> str:
    return json.dumps(params, ensure_ascii=False)


def check_stats_answer(
    matrix, surface, viewer, target, text, output, emails=True, individual_views=True, why=True
):
    """`why`: whether the surface says why the privacy mode refused (the CLI does not)."""
    ok = allowed(viewer, target, individual_views)
    matrix.check(surface, viewer, target, output, must={target} if ok else (), emails=emails)
    # Right wording too: an allowed answer is about the target, a refusal shows no stats.
    if ok != text.startswith(f"Codex usage for {name(target)}") or (
        not ok and "Codex usage for" in output
    ):
        matrix.wrong.append((surface, viewer, target, text[:80]))
    # A refusal by the privacy mode says so (to those it refuses, and nobody else).
    said = "Works-council mode" in text or "Analysts see" in text
    by_mode = not ok and active(viewer) and allowed(viewer, target)
    by_mode |= not ok and active(viewer) and PEOPLE[viewer][2] == "analyst"
    if said != (by_mode and why):
        matrix.wrong.append((surface + " reason", viewer, target, text[:80]))


# --------------------------------------------------------------------------- Slack


@pytest.mark.parametrize("viewer", VIEWERS)
def test_slack_surfaces_show_nothing_the_policy_forbids(
    individual_views, bot, slack, company, viewer
):
    mode = individual_views
    matrix = Matrix()
    me = slack_id(viewer)
    answers: list[dict] = []

    def command(text: str) -> dict:
        assert bot.command(me, text).status_code == 200
        answers.append(slack.wait_for("response_url", len(answers) + 1)[len(answers)].params)
        assert answers[-1]["response_type"] == "ephemeral"
        return answers[-1]

    # /codex stats @target 30d, for every target, and the same by their email.
    for target in TARGETS:
        answer = command(f"stats <@{slack_id(target)}|{target}> 30d")
        check_stats_answer(
            matrix, "slash", viewer, target, answer["text"], rendered(answer), True, mode
        )
        answer = command(f"stats {email(target).upper()} 30d")
        check_stats_answer(
            matrix, "slash email", viewer, target, answer["text"], rendered(answer), True, mode
        )

    # /codex org ...: the directory for admins, one refusal for everyone else.
    for text in ("org", "org unmatched", "org history"):
        answer = command(text)
        matrix.check(text, viewer, "-", rendered(answer))
        if (answer["text"] == ORG_REFUSAL) == is_admin(viewer):
            matrix.wrong.append((text, viewer, "-", answer["text"][:80]))

    # A DM naming anyone answers about its sender, and only them.
    for n, target in enumerate(TARGETS, start=1):
        assert bot.dm(me, f"stats for <@{slack_id(target)}|{target}> 30d").status_code == 200
        posted = slack.wait_for("chat.postMessage", n)[n - 1].params
        assert posted["channel"] == f"D{me}"
        must = {viewer} if active(viewer) else set()
        matrix.check("dm", viewer, target, rendered(posted), must=must)
        about_sender = viewer in PEOPLE and posted["text"].startswith(
            f"Codex usage for {name(viewer)}"
        )
        if about_sender != active(viewer):
            matrix.wrong.append(("dm", viewer, target, posted["text"][:80]))

    # /codex team: the reporting line, nobody else; for an admin without one, the
    # organisation by branch.
    # An analyst gets the organisation too, above the floor: in this org of 12 only their
    # own one-person branch is big enough (the rest is summed, naming nobody).
    team = command("team 30d")
    must = reporting_line(viewer) if active(viewer) and sees_people(viewer, mode) else set()
    if is_admin(viewer) and not must:
        must = organisation_named() - {viewer}
    matrix.check("team", viewer, "-", rendered(team), must=must, may={viewer})
    summed = active(viewer) and reporting_line(viewer) and not sees_people(viewer, mode)
    if summed and "own figures are private here" not in rendered(team):
        matrix.wrong.append(("team", viewer, "-", team["text"][:80]))

    # /codex team @target: the target's reporting line, for whoever may see the target.
    for target in TARGETS:
        answer = command(f"team <@{slack_id(target)}|{target}> 30d")
        ok = allowed(viewer, target, mode) and sees_people(viewer, mode)
        must = reporting_line(target) if ok else set()
        matrix.check("team @", viewer, target, rendered(answer), must=must, may={viewer, target})

    # /codex export @target: a CSV in the asker's own DM with the target's lines, or nothing.
    for target in TARGETS:
        before = set(slack.files)
        answer = command(f"export <@{slack_id(target)}|{target}> 30d")
        sent = [slack.files[file_id] for file_id in sorted(set(slack.files) - before)]
        content = "".join(file["data"].decode("utf-8-sig") for file in sent)
        ok = allowed(viewer, target, mode)
        # A leaver's usage here is all after they left: nobody's, so no lines of theirs.
        must = {target} if ok and target not in ARCHIVED else set()
        matrix.check("export", viewer, target, rendered(answer) + content, must=must)
        if len(sent) != ok or any(file["channel"] != f"D{me}" for file in sent):
            matrix.wrong.append(("export", viewer, target, answer["text"][:80]))

    # The Home tab: the viewer's own stats (under "Your Codex usage", without their name)
    # and the people below them.
    assert bot.event({"type": "app_home_opened", "user": me, "tab": "home"}).status_code == 200
    (home,) = slack.wait_for("views.publish")
    assert home.params["user_id"] == me
    view = rendered(home.params["view"])
    assert ("Active days" in view) == active(viewer)
    must = reporting_line(viewer) if active(viewer) and sees_people(viewer, mode) else set()
    matrix.check("home", viewer, "-", view, must=must, may={viewer})

    # The digest preview: direct reports by name, skip-levels only as roll-ups; in
    # works-council mode one team-level section naming nobody.
    preview = command("digest preview")
    must = digest_rows(viewer) if sees_people(viewer, mode) else set()
    matrix.check("digest preview", viewer, "-", rendered(preview), must=must, may={viewer})
    if ("Your team, summed" in rendered(preview)) != bool(digest_rows(viewer) and not must):
        matrix.wrong.append(("digest preview", viewer, "-", preview["text"][:80]))

    # "What can my manager see?": their managers by name (those still here), the admins,
    # in which mode, and who viewed them; to those with access only.
    assert bot.dm(me, "What can my manager see?").status_code == 200
    posted = slack.wait_for("chat.postMessage", len(TARGETS) + 1)[-1].params
    managers = {key for key in managers_above(viewer) if active(key)} if viewer in PEOPLE else ()
    must = {*managers, "admin"} if active(viewer) else set()
    matrix.check("transparency", viewer, "-", rendered(posted), must=must, may={viewer})
    expected = "see your own figures" if mode else "see sums only (works-council mode)"
    if active(viewer) != (expected in posted["text"]):
        matrix.wrong.append(("transparency", viewer, "-", posted["text"][:80]))

    # Every request was answered exactly once: the sentinels' answers come last.
    assert bot.command("USENTINEL", "stats").status_code == 200
    assert bot.dm("USENTINEL", "usage").status_code == 200
    responses = slack.wait_for("response_url", len(answers) + 1)
    dms = slack.wait_for("chat.postMessage", len(TARGETS) + 2)
    assert "not in codexbot's directory" in responses[-1].params["text"]
    assert dms[-1].params["channel"] == "DUSENTINEL"
    assert len(responses) == len(answers) + 1 and len(dms) == len(TARGETS) + 2
    assert len(slack.calls_to("views.publish")) == 1
    assert matrix.cells == len(PEOPLE) * (5 * len(TARGETS) + 3 + 4)
    assert (matrix.required > 0) == active(viewer)  # nothing to show is right for them
    matrix.assert_clean()


# --------------------------------------------------------------------------- digests


@pytest.mark.parametrize("individual_views", list(MODES.values()), ids=list(MODES))
def test_delivered_digests_name_only_direct_reports(settings, slack, sqlite_db, individual_views):
    settings.privacy.individual_views = individual_views
    with freeze_time("2026-11-02 12:00:00"):  # a Monday, past 09:00 everywhere it matters
        build_company(slack, utc_today())
        sent = DigestDeliverer(settings, web_client(settings), "replica-a").deliver_due()
    posts = slack.calls_to("chat.postMessage")
    by_recipient: dict[str, list[str]] = {}
    for post in posts:
        by_recipient.setdefault(post.params["channel"].removeprefix("DU").lower(), []).append(
            rendered(post.params)
        )
    managers = {key for key in PEOPLE if digest_rows(key)}
    assert managers == {"ceo", "vp", "mgr", "stranger"}  # not the archived former manager
    assert set(by_recipient) == managers | {"rep1"}  # and rep1's own weekly summary
    assert sent == len(posts) == len(by_recipient)
    matrix = Matrix()
    for recipient, messages in by_recipient.items():
        output = "\n".join(messages)
        if recipient in managers:
            must = digest_rows(recipient) if individual_views else set()
            matrix.check("digest", recipient, "-", output, must=must, may={recipient})
            if ("Your team, summed" in output) == individual_views:
                matrix.wrong.append(("digest", recipient, "-", output[:80]))
        else:
            matrix.check("self digest", recipient, "-", output, must={recipient})
    matrix.assert_clean()


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def run_cli(sqlite_db):
    env = {
        "DATABASE_URL": f"sqlite:///{sqlite_db.database}",
        "CODEXBOT_CONFIG": "",
        "CODEXBOT_SECRET_KEY": None,
        "CODEX_API_KEY": None,
        "SLACK_BOT_TOKEN": None,
    }

    def run(*args, config: str = ""):
        opened = database.obj
        try:
            environment = {**env, "CODEXBOT_CONFIG": config}
            return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)
        finally:
            # The CLI opens its own connection and binds the models to it: bind them back.
            if database.obj is not opened:
                database.obj.close()
                database.initialize(opened)

    return run


@pytest.mark.parametrize("individual_views", list(MODES.values()), ids=list(MODES))
@pytest.mark.parametrize("viewer", VIEWERS)
def test_cli_shows_nothing_the_policy_forbids(run_cli, company, viewer, individual_views, tmp_path):
    mode = individual_views
    config = tmp_path / "codexbot.toml"
    config.write_text(f"[privacy]\nindividual_views = {str(mode).lower()}\n")
    matrix = Matrix()
    for target in TARGETS:
        result = run_cli(
            "stats", email(target), "--as", email(viewer), "--days", "30", config=str(config)
        )
        assert "Traceback" not in result.output
        assert result.exit_code == (0 if allowed(viewer, target, mode) else 1), result.output
        # The refusal repeats the emails the operator typed: only names count as shown.
        check_stats_answer(
            matrix, "cli stats", viewer, target, result.output, result.output, False, mode, False
        )
    preview = run_cli("digest", "preview", email(viewer), config=str(config))
    assert preview.exit_code == (0 if active(viewer) else 1), preview.output
    must = digest_rows(viewer) if sees_people(viewer, mode) else set()
    matrix.check("cli digest", viewer, "-", preview.output, must=must, may={viewer}, emails=False)
    if ("Your team, summed" in preview.output) != bool(digest_rows(viewer) and not must):
        matrix.wrong.append(("cli digest", viewer, "-", preview.output[:80]))
    assert matrix.cells == len(PEOPLE) * (len(TARGETS) + 1)
    assert (matrix.required > 0) == active(viewer)  # nothing to show is right for them
    matrix.assert_clean()

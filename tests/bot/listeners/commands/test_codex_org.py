"""`/codex org` and its subcommands for admins, `/codex stats EMAIL`, and the plain answers
for mismatches (an unresolved @name, no Codex account), signed and sent as Slack sends them."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import person, store_usage, usage

from bot.rendering import words
from sync.clock import utc_timestamp, utc_today
from sync.org.source import import_org_source
from sync.reports.directory_admin import ADMINS_ONLY, UNMATCHED_LISTED
from sync.store.models import AccessLog, DirectoryChange, EmailAlias, Employee

REFUSAL = words(ADMINS_ONLY)
ORG_COMMANDS = ["org", "org unmatched", "org history", "org alias rex@old.example.com <@UPEER|pia>"]


def answers(slack, count):
    calls = slack.wait_for("response_url", count)
    assert len(calls) == count
    for call in calls:
        assert call.params["response_type"] == "ephemeral"
    return [call.params for call in calls]


def ask(bot, slack, user_id, text):
    """Send `/codex TEXT` as `user_id` and return its (only new) answer."""
    before = len(slack.calls_to("response_url"))
    assert bot.command(user_id, text).status_code == 200
    return answers(slack, before + 1)[-1]


def body(answer) -> str:
    """Everything a person reads in an answer: its blocks' texts, in order."""
    texts = []
    for block in answer["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(element["text"] for element in block.get("elements", []))
    return "\n".join(texts)


@pytest.fixture
def unmatched(org):
    """Codex accounts nobody in the directory owns: a big one and seven small ones."""
    today = utc_today()
    records = [
        usage("codex-rex", today - dt.timedelta(days=n), email="rex@old.example.com", credits=5.0)
        for n in (1, 2, 3)
    ]
    records += [
        usage(f"codex-c{n}", today - dt.timedelta(days=2), email=f"c{n}@contractor.io", credits=n)
        for n in range(1, 8)
    ]
    store_usage(records)
    return org


# --------------------------------------------------------------------------- /codex org


def test_org_overview_for_an_admin(bot, slack, unmatched):
    answer = ask(bot, slack, "UADMIN", "org")
    text = body(answer)
    assert answer["blocks"][0]["text"]["text"] == "codexbot's directory"
    assert "*Source* CSV imports (`codexbot org import`): none yet" in text
    assert "*People* 7: 6 active, 1 archived" in text
    assert "*Last change* none recorded yet" in text
    assert "*Unmatched Codex users* 8, whose usage counts for nobody; the biggest first:" in text
    # The five biggest, biggest first, with their usage; the rest counted, with the way on.
    lines = [line for line in text.splitlines() if line.startswith("• ")]
    assert lines[0].startswith("• `rex@old.example.com`  15 credits, last seen ")
    assert [line.split("`")[1] for line in lines] == [
        "rex@old.example.com",
        "c7@contractor.io",
        "c6@contractor.io",
        "c5@contractor.io",
        "c4@contractor.io",
    ]
    assert "…and 3 more: `/codex org unmatched` lists them." in text
    assert "`/codex org alias CODEX_EMAIL @person`" in text
    assert answer["text"].startswith("codexbot's directory: 7 people (6 active, 1 archived); 8 ")


def test_org_overview_names_the_hris_file_scim_and_the_last_change(
    bot, slack, org, settings, tmp_path
):
    source = tmp_path / "people.csv"
    source.write_text("email,name\nnia@example.com,Nia New\n")
    settings.org.source = str(source)
    settings.scim.bearer_token = "s" * 32
    import_org_source(settings)
    Employee.update(slack_deactivated_at=utc_timestamp()).where(
        Employee.email == "stranger@example.com"
    ).execute()

    text = body(ask(bot, slack, "UCONFIGADMIN", "org"))

    assert f"*Source* HRIS file `{source}`: imported " in text
    assert ": 1 added, 0 updated" in text
    assert "*Source* SCIM from your identity provider: no change yet" in text
    assert "CSV imports" not in text
    assert "*People* 8: 6 active, 1 archived, 1 deactivated in Slack" in text
    last = next(line for line in text.splitlines() if line.startswith("*Last change*"))
    assert f"file {source} · *file imported*: added 1" in last
    assert "*Unmatched Codex users* none" in text


def test_org_unmatched_lists_them_with_their_usage_bounded(bot, slack, org):
    today = utc_today()
    store_usage(
        [
            usage(
                f"codex-x{n:02d}", today - dt.timedelta(days=1), email=f"x{n:02d}@ex.io", credits=n
            )
            for n in range(1, UNMATCHED_LISTED + 4)
        ]
    )
    answer = ask(bot, slack, "UADMIN", "org unmatched")
    text = body(answer)
    lines = [line for line in text.splitlines() if line.startswith("• ")]
    assert len(lines) == UNMATCHED_LISTED
    assert (
        lines[0] == f"• `x53@ex.io`  53 credits, last seen {today - dt.timedelta(days=1):%a %-d %b}"
    )
    assert lines[-1].startswith("• `x04@ex.io`  4 credits")
    assert "…and 3 more (`codexbot org unmatched` lists them all)." in text
    assert answer["text"] == "53 unmatched Codex users, biggest first"


def test_org_history_lists_the_last_changes_newest_first(bot, slack, unmatched):
    assert (
        "No directory changes are recorded yet" in ask(bot, slack, "UADMIN", "org history")["text"]
    )
    ask(bot, slack, "UADMIN", "org alias c1@contractor.io <@UPEER|pia>")
    ask(bot, slack, "UCONFIGADMIN", "org alias C2@Contractor.io rep@example.com")

    text = body(ask(bot, slack, "UADMIN", "org history"))

    lines = [line for line in text.splitlines() if line.startswith("`")]
    assert len(lines) == 2
    assert " · admin config.admin@example.com · *alias added* · rep@example.com: " in lines[0]
    assert lines[0].endswith("Codex email c2@contractor.io")
    assert " · admin admin@example.com · *alias added* · peer@example.com: " in lines[1]
    assert "newest first: when, who, what, whom." in text


def test_org_history_is_bounded(bot, slack, org):
    DirectoryChange.insert_many(
        [
            {
                "changed_at": utc_timestamp() - dt.timedelta(minutes=n),
                "actor": "scim",
                "action": "updated",
                "subject": f"p{n:02d}@example.com",
            }
            for n in range(30)
        ]
    ).execute()
    text = body(ask(bot, slack, "UADMIN", "org history"))
    subjects = [line.split(" · ")[-1] for line in text.splitlines() if line.startswith("`")]
    assert subjects == [f"p{n:02d}@example.com" for n in range(20)]
    assert "The last 20 changes" in text and "Older ones are kept" in text


# --------------------------------------------------------------------------- alias


def test_an_alias_from_slack_moves_the_usage_and_is_recorded(bot, slack, unmatched):
    assert "10.5 credits" in ask(bot, slack, "UREP", "stats")["text"]

    done = ask(bot, slack, "UADMIN", "org alias Rex@Old.Example.com <@UREP|remy>")

    yesterday = utc_today() - dt.timedelta(days=1)
    assert done["text"] == (
        "rex@old.example.com now counts for Remy Report (rep@example.com): its 15 credits of "
        f"Codex usage, last used {yesterday:%a %-d %b}, are theirs now. "
        "`/codex org history` shows the change."
    )
    assert "25.5 credits" in ask(bot, slack, "UREP", "stats")["text"]  # 10.5 + 15
    (change,) = DirectoryChange.select()
    assert (change.actor, change.action, change.subject) == (
        "admin admin@example.com",
        "alias added",
        "rep@example.com",
    )
    history = body(ask(bot, slack, "UADMIN", "org history"))
    assert "admin@example.com · *alias added* · rep@example.com: Codex email rex@old" in history
    overview = body(ask(bot, slack, "UADMIN", "org"))
    assert "*Unmatched Codex users* 7," in overview and "rex@old" not in overview.split("*Un")[1]
    assert "admin@example.com · *alias added* · rep@example.com" in overview  # the last change

    # Again: nothing changes, nothing is recorded. To someone else: it moves, saying from whom.
    again = ask(bot, slack, "UADMIN", "org alias rex@old.example.com rep@example.com")
    assert again["text"] == "rex@old.example.com already counts for Remy Report: nothing changed."
    moved = ask(bot, slack, "UCONFIGADMIN", "org alias rex@old.example.com <@UPEER>")
    assert moved["text"].startswith(
        "rex@old.example.com now counts for Pia Peer (peer@example.com) instead of Remy Report: "
        "its 15 credits"
    )
    assert "10.5 credits" in ask(bot, slack, "UREP", "stats")["text"]
    assert [
        (c.actor, c.subject) for c in DirectoryChange.select().order_by(DirectoryChange.id)
    ] == [
        ("admin admin@example.com", "rep@example.com"),
        ("admin config.admin@example.com", "peer@example.com"),
    ]


def test_someone_with_no_codex_account_is_told_the_slack_fix_and_it_works(bot, slack, org):
    newbie = person("newbie@example.com", "Nico Newbie", manager=org["mgr"])
    slack.add_user("UNEWBIE", newbie.email)
    told = ask(bot, slack, "UNEWBIE", "stats")
    assert (
        "No Codex account matches newbie@example.com (an admin can link one: "
        "`/codex org alias CODEX_EMAIL newbie@example.com`)"
    ) in body(told)
    store_usage([usage("codex-nico", utc_today() - dt.timedelta(days=1), email="nico@home.io")])
    ask(bot, slack, "UADMIN", "org alias nico@home.io newbie@example.com")
    assert "1 credits" in ask(bot, slack, "UNEWBIE", "stats")["text"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "org alias rex-at-old <@UREP>",
            "`rex-at-old` isn't an email address: name the Codex account by the email it uses",
        ),
        (
            "org alias rex@old.example.com <@UOUTSIDER>",
            "That person isn't in codexbot's directory.",
        ),
        ("org alias rex@old.example.com nobody@example.com", "That person isn't in codexbot's"),
        (
            "org alias PEER@example.com <@UREP>",
            "peer@example.com is Pia Peer's directory email: its Codex usage counts for them, "
            "so it can't be an alias of Remy Report.",
        ),
        (
            "org alias rep@example.com <@UREP>",
            "rep@example.com is Remy Report's directory email already",
        ),
        ("org alias rex@old.example.com @remy", 'I couldn\'t tell who "@remy" is'),
    ],
)
def test_an_alias_is_refused_in_plain_words_and_changes_nothing(bot, slack, unmatched, text, said):
    answer = ask(bot, slack, "UADMIN", text)
    assert said in answer["text"]
    assert EmailAlias.select().count() == 0
    assert DirectoryChange.select().count() == 0


# --------------------------------------------------------------------------- who may


@pytest.fixture
def former_admins(org, slack, settings):
    """A config admin who left, and a directory admin whose Slack account was deactivated."""
    gone = person(
        "gone.admin@example.com", "Gus Gone", archived_on=utc_today() - dt.timedelta(days=1)
    )
    asleep = person("asleep.admin@example.com", "Ali Asleep", role="admin")
    for key, employee in (("UGONEADMIN", gone), ("UASLEEPADMIN", asleep)):
        employee.slack_user_id = key
        employee.save()
        slack.add_user(key, employee.email)
    Employee.update(slack_deactivated_at=utc_timestamp()).where(Employee.id == asleep.id).execute()
    settings.slack.admin_emails.append("gone.admin@example.com")
    return org


@pytest.mark.parametrize("asker", ["UMGR", "UREP", "UOUTSIDER", "UGONEADMIN", "UASLEEPADMIN"])
def test_org_commands_are_refused_to_everyone_but_admins(bot, slack, former_admins, asker):
    for n, text in enumerate(ORG_COMMANDS, start=1):
        assert bot.command(asker, text).status_code == 200
        assert answers(slack, n)[-1]["text"] == REFUSAL
    assert EmailAlias.select().count() == 0
    assert DirectoryChange.select().count() == 0
    # Refused before anything is looked up: the person named is never asked of Slack.
    assert not [c for c in slack.calls_to("users.info") if c.params.get("user") == "UPEER"]


@pytest.mark.parametrize("asker", ["UADMIN", "UCONFIGADMIN"])
def test_org_commands_answer_directory_and_config_admins(bot, slack, former_admins, asker):
    for n, text in enumerate(ORG_COMMANDS, start=1):
        assert bot.command(asker, text).status_code == 200
        assert answers(slack, n)[-1]["text"] != REFUSAL
    assert EmailAlias.get().codex_email == "rex@old.example.com"


# --------------------------------------------------------------------------- stats EMAIL


def test_stats_by_email_answers_for_a_report_and_logs_the_view(bot, slack, org):
    answer = ask(bot, slack, "UMGR", "stats REP@Example.com 30d")
    assert answer["text"].startswith("Codex usage for Remy Report,")
    assert "(30 days)" in answer["blocks"][1]["elements"][0]["text"]
    (view,) = AccessLog.select()
    assert (view.viewer_id, view.target_id, view.surface) == (
        org["mgr"].id,
        org["rep"].id,
        "slash command",
    )
    # The mailto link Slack makes of an email it recognises reads the same.
    linked = ask(bot, slack, "UMGR", "stats <mailto:rep@example.com|rep@example.com>")
    assert linked["text"].startswith("Codex usage for Remy Report,")


@pytest.mark.parametrize("email", ["rep@example.com", "nobody@example.com"])
def test_stats_by_email_is_refused_to_a_peer_as_a_mention_is(bot, slack, org, email):
    by_email = ask(bot, slack, "UPEER", f"stats {email}")
    by_mention = ask(bot, slack, "UPEER", "stats <@UREP|remy>")
    assert by_email["text"] == by_mention["text"]
    assert by_email["text"].startswith("I can't show Codex stats for that person")
    assert AccessLog.select().count() == 0


def test_an_unresolved_mention_gets_a_precise_hint(bot, slack, org):
    answer = ask(bot, slack, "UMGR", "stats @remy 30d")
    assert answer["text"].startswith(
        'I couldn\'t tell who "@remy" is: pick them from the @-menu so Slack links them, '
        "or use their email."
    )
    assert "isn't a period I know" not in answer["text"]
    audit = ask(bot, slack, "UADMIN", "audit @remy")
    assert 'I couldn\'t tell who "@remy" is' in audit["text"]


def test_help_names_the_org_commands_and_email(bot, slack, org):
    text = body(ask(bot, slack, "UREP", "help"))
    for command in (
        "/codex org`",
        "/codex org unmatched",
        "/codex org alias",
        "/codex org history",
    ):
        assert command in text
    assert "their email works too" in text

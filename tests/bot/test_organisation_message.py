"""An admin's organisation view stays valid Block Kit within Slack's limits however large
the organisation, says how many branches it cuts, and never loses the line for the top."""

from __future__ import annotations

import datetime as dt

from factories import person, store_usage, usage
from slack_sdk.models.blocks import Block

from bot.messages import MESSAGE_BLOCK_LIMIT, SECTION_TEXT_LIMIT, render_message
from sync.clock import utc_today
from sync.reports.organisation import BRANCHES_SHOWN, organisation_usage
from sync.reports.periods import Period
from sync.store.models import Employee


def test_an_organisation_of_a_thousand_branches_fits_one_message(sqlite_db):
    ceo = person("ceo@example.com", "Cleo Chief")
    person("founder@example.com", "<!channel> Founder")  # a second person at the top
    heads = 1000
    Employee.insert_many(
        [(f"h{i:04d}@example.com", f"Head of Department {i:04d}", ceo.id) for i in range(heads)],
        fields=[Employee.email, Employee.name, Employee.manager],
    ).execute()
    today = utc_today()
    store_usage(
        [
            usage(f"u{i}", today - dt.timedelta(days=2), email=f"h{i:04d}@example.com", credits=i)
            for i in range(heads)
        ]
    )
    organisation = organisation_usage(Period.ending_before(today, 30))
    assert len(organisation.branches) == BRANCHES_SHOWN and organisation.hidden == 120
    message = render_message("organisation", organisation=organisation)
    blocks = message["blocks"]
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT
    for block in blocks:
        assert Block.parse(block).to_dict() == block
        if block["type"] == "section":
            assert len(block["text"]["text"]) < SECTION_TEXT_LIMIT  # never cut mid-line
    text = str(blocks)
    assert "*Head of Department 0999* and everyone below · 1 person: 999 credits" in text
    assert "Head of Department 0119*" not in text  # the 120 smallest are counted, not listed
    assert "…and 120 smaller branches" in text
    assert "*At the top, without a manager* (&lt;!channel&gt; Founder, Cleo Chief)" in text
    assert "1,002 people" in blocks[1]["elements"][0]["text"]
    assert "1002 people, 499,500 credits" in message["text"]

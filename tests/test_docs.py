"""The documentation a clone carries: README.md, CHANGELOG.md and docs/*.md link only
files of the repository that exist (a clone has nothing beside it), and anchors that
their target's headings make."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCED_BLOCK = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target); the text may run over lines and hold `code`.
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# [label]: target
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_WEB = ("http://", "https://", "mailto:")


def link_targets(markdown: str) -> list[str]:
    """Every link target of a markdown text, outside code (where `[a](b)` is not a link)."""
    prose = _FENCED_BLOCK.sub("", markdown)
    prose = _INLINE_CODE.sub(lambda code: "x" * len(code.group()), prose)
    return _INLINE_LINK.findall(prose) + _REFERENCE_LINK.findall(prose)


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub makes of a page's headings: lower case, punctuation dropped,
    spaces as hyphens; a repeated heading gets -1, -2, ..."""
    seen: dict[str, int] = {}
    made = set()
    for heading in _HEADING.findall(_FENCED_BLOCK.sub("", markdown)):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays
        slug = re.sub(r"[^\w\- ]", "", text.replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        made.add(slug if count == 0 else f"{slug}-{count}")
    return made


def link_problems(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each link of `page` that is not to the web: a path that leaves
    `root`, names nothing, or an anchor its target page does not have."""
    problems = []
    for target in link_targets(page.read_text(encoding="utf-8")):
        if target.startswith(_WEB):
            continue
        where = f"{page.relative_to(root)}: ({target})"
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            problems.append(f"{where} is neither a web link nor a file of the repository")
            continue
        path, _, anchor = target.partition("#")
        if not path:  # an anchor of the page itself
            linked = page
        else:
            # A leading / is the repository's root, as GitHub reads it.
            base = root if path.startswith("/") else page.parent
            linked = (base / path.lstrip("/")).resolve()
            if not linked.is_relative_to(root):
                problems.append(f"{where} leads outside the repository")
                continue
            if not linked.exists():
                problems.append(f"{where} does not exist")
                continue
        checkable = anchor and linked.suffix == ".md" and linked.is_file()
        if checkable and anchor not in anchors(linked.read_text(encoding="utf-8")):
            problems.append(f"{where}: {linked.name} has no heading #{anchor}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_links_stay_inside_the_repository_and_lead_somewhere(page):
    assert page.exists()
    assert link_problems(page) == []


def test_the_readme_links_every_page_of_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in link_targets(readme)}
    pages = set((ROOT / "docs").glob("*.md"))
    assert pages, "docs/ has no pages"
    assert pages - linked == set()


def test_a_link_outside_the_repository_or_to_nothing_is_found(tmp_path):
    repository = tmp_path / "project"
    (repository / "docs").mkdir(parents=True)
    (repository / "docs" / "api.md").write_text("# The API\n\n## Row fields\n")
    (tmp_path / "shared.md").write_text("# Beside the clone, not in it\n")
    readme = repository / "README.md"
    readme.write_text(
        "See [the API](docs/api.md), [its fields](docs/api.md#row-fields),\n"
        "[the notes](../shared.md), [a page over\ntwo lines](docs/gone.md),\n"
        "[a heading](docs/api.md#no-such-heading), [a file](file:///etc/passwd),\n"
        "[`a path`](/docs/api.md), [the web](https://example.com/x.md), [top](#top).\n"
        "`[code](../not-a-link.md)`\n\n```\n[a block](../not-a-link-either.md)\n```\n"
        "[ref]: ../shared.md\n"
    )
    assert link_problems(readme, repository) == [
        "README.md: (../shared.md) leads outside the repository",
        "README.md: (docs/gone.md) does not exist",
        "README.md: (docs/api.md#no-such-heading): api.md has no heading #no-such-heading",
        "README.md: (file:///etc/passwd) is neither a web link nor a file of the repository",
        "README.md: (#top): README.md has no heading #top",
        "README.md: (../shared.md) leads outside the repository",
    ]


def test_anchors_are_made_as_github_makes_them():
    headings = "# What `make demo` shows\n## Who is inside: the trust boundary\n## A\n## A\n"
    assert anchors(headings) == {
        "what-make-demo-shows",
        "who-is-inside-the-trust-boundary",
        "a",
        "a-1",
    }

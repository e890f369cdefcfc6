"""The README stays short, and every relative link of the README and docs/ leads somewhere.

The README is what a newcomer reads first: what Bytchat is, how to run and test it, and where
the rest is. The reference lives in docs/, one file per subject, linked from the README. A
link to a file or heading that was moved or renamed fails here rather than in a reader's
browser.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_MAX_LINES = 200

FENCED_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _prose(path: Path) -> str:
    """The file's text without code, where brackets and hashes are not Markdown."""
    return INLINE_CODE.sub("", FENCED_BLOCK.sub("", path.read_text()))


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCED_BLOCK.sub("", path.read_text())):
        anchor = _anchor(heading)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    return anchors


def _relative_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(_prose(path)) if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


def test_the_readme_is_short():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines: keep it to what Bytchat is, how to run and test it and "
        f"where the rest is (at most {README_MAX_LINES}); move reference material to docs/"
    )


def test_the_readme_links_every_document_in_docs():
    linked = {(README.parent / target.split("#")[0]).resolve() for target in _relative_links(README)}
    unlinked = [path.name for path in DOCS if path.resolve() not in linked]
    assert DOCS, "docs/ holds the reference"
    assert not unlinked, f"link from the README's Documentation table: {unlinked}"


@pytest.mark.parametrize("document", [README, *DOCS], ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(document: Path):
    broken = []
    for target in _relative_links(document):
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"broken links in {document.relative_to(ROOT)}: {broken}"

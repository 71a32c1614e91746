"""The README is a front door (under 250 lines) and no relative link in it or in docs/ is dead.

A link is dead when its file does not exist, or when its ``#anchor`` names no heading (as GitHub
slugs them) and no ``<a id="…">`` of the file it points at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
EXPLICIT_ANCHOR = re.compile(r'<a id="([^"]+)">')
FENCE = re.compile(r"^(```|~~~)")


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercased, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    lines = _prose(path.read_text())
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in lines:
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            slug = github_slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
        found.update(EXPLICIT_ANCHOR.findall(line))
    return found


def relative_links(path: Path) -> list[str]:
    links = []
    for line in _prose(path.read_text()):
        line = re.sub(r"`[^`]*`", "", line)  # code spans are not links
        links += [
            target for target in LINK.findall(line) if not re.match(r"[a-z][a-z0-9+.-]*:", target)
        ]
    return links


def test_the_readme_is_a_front_door_under_250_lines():
    assert len(README.read_text().splitlines()) < 250


def test_the_slugs_are_githubs():
    assert github_slug("The embedded shape: its broker and its supervisor") == (
        "the-embedded-shape-its-broker-and-its-supervisor"
    )
    assert github_slug("`http` — HTTP") == "http--http"
    assert github_slug("Soak: both shapes for 30 minutes, as shipped") == (
        "soak-both-shapes-for-30-minutes-as-shipped"
    )


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_and_an_anchor_that_exist(document):
    dead = []
    links = relative_links(document)
    for link in links:
        target, _, anchor = link.partition("#")
        path = (document.parent / target).resolve() if target else document
        if not path.exists():
            dead.append(f"{link}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            dead.append(f"{link}: no heading or anchor {anchor!r} in {path.relative_to(ROOT)}")
    assert not dead, f"{document.relative_to(ROOT)}: " + "; ".join(dead)


def test_every_document_in_docs_is_linked_from_the_index():
    index = ROOT / "docs" / "README.md"
    linked = {(index.parent / link.partition("#")[0]).resolve() for link in relative_links(index)}
    unlinked = [path.name for path in DOCUMENTS[1:] if path != index and path not in linked]
    assert not unlinked, f"docs/README.md does not link {unlinked}"

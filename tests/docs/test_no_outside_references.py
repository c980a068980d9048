"""Nothing in the repository points at documents that are not in it.

The repository must explain itself: a doc, a docstring or a code comment that cites a design
note, a contract page or an issue kept somewhere else sends the reader to a file they do not
have. Each such reference is replaced by a link to the doc in docs/ that now holds the fact, or
by the reason written out where it is used.

Checked: docs/, README.md, the code and tests (daemon/, client/, proto/, testcloud/, tests/,
bench/, examples/) and the files at the root (pyproject.toml, Dockerfile, .ci/run). One test per
area (each page of docs/ is an area of its own), so a failure names the area; its message
lists every `path:line: text`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Names of documents that are not in this repository, and the phrases that cite them. Written
# split so that this file does not match itself.
OUTSIDE = (
    "contracts" + ".md",
    "design" + " decision",
    "shared" + "/",
    "swanlab-cloud-api" + ".md",
    "DEVELOPERS" + ".md",
    "must" + "-show",  # the numbered demands of the issue that asked for the code
    "the issue" + "'s",
)
PATTERN = re.compile("|".join(re.escape(name) for name in OUTSIDE), re.IGNORECASE)
AREAS = {
    **{f"docs/{page.name}": [f"docs/{page.name}"] for page in sorted((REPO / "docs").iterdir())},
    "README.md": ["README.md"],
    "daemon": ["daemon"],
    "client": ["client"],
    "proto": ["proto"],
    "testcloud": ["testcloud"],
    "tests": ["tests"],
    "bench": ["bench"],
    "examples": ["examples"],
    "root": ["pyproject.toml", "Dockerfile", ".ci/run"],
}
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}


def files(area: str) -> list[Path]:
    found = []
    for name in AREAS[area]:
        top = REPO / name
        candidates = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        found += [p for p in candidates if not SKIP_DIRS & set(p.relative_to(REPO).parts)]
    return found


def references(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except UnicodeDecodeError:  # an image or other binary file
        return []
    rel = path.relative_to(REPO)
    return [f"{rel}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if PATTERN.search(line)]


@pytest.mark.parametrize("area", list(AREAS))
def test_nothing_refers_to_documents_outside_the_repository(area: str) -> None:
    found = [ref for path in files(area) for ref in references(path)]
    assert found == [], f"{area} refers to documents outside the repository:\n" + "\n".join(found)


def test_the_check_finds_what_it_looks_for() -> None:
    """Each name is found anywhere on a line and in any case: the check cannot pass by not looking."""
    assert [name for name in OUTSIDE if not PATTERN.search(f"x = 1  # as {name.upper()} says")] == []

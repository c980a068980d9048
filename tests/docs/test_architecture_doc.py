"""Every repository path the docs name must exist, so the docs cannot rot silently.

The docs are docs/*.md and the README.

A path counts when it is written from the repository root (`daemon/swanlabd/storage/runstore.py`,
`tests/client/test_fork.py`) or from a package (`swanlabd/upload/forwarder.py` is under `daemon/`,
`swanlab_client/_run.py` under `client/`, `swanlabd_pb/service.proto` under `proto/`). A
`::test_name` after a test file must name a test in it (a trailing `...` abbreviates the name).
Relative Markdown links (`[x](forwarder.md)`) must point at an existing page.

Paths outside the repository (`/etc/...`, `~/.swanlab/.netrc`, `<data root>/...`,
`doc/log_format.md` of LevelDB, `shared/...`) and bare file names (`_sync.py`, or another
project's `datastore.py`) are not checked: they name no place in this repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
ROOTS = ("client/", "daemon/", "proto/", "testcloud/", "tests/", "bench/", "examples/", "docs/")
PACKAGES = {
    "swanlabd/": "daemon/",
    "swanlab_client/": "client/",
    "swanlabd_pb/": "proto/",
    "swanlab_testcloud/": "testcloud/",
}
SUFFIXES = (".py", ".proto", ".md", ".toml", ".service", ".pyi")
# A path from the root or a package, anywhere in the text (backticks or not), with an optional ::test.
PATH = re.compile(
    r"(?<![\w./<$~-])((?:%s)[\w./-]*?(?:/|%s))(::[\w.]+)?(?![\w/])"
    % ("|".join(re.escape(r) for r in (*ROOTS, *PACKAGES)), "|".join(re.escape(s) for s in SUFFIXES))
)
LINK = re.compile(r"\]\(([\w./-]+\.md)(?:#[\w-]*)?\)")


def resolve(path: str) -> Path:
    for package, root in PACKAGES.items():
        if path.startswith(package):
            return REPO / root / path
    return REPO / path


def mentions(doc: Path) -> list[tuple[str, str | None]]:
    """(path, test name or None) for every repository path the doc names."""
    return [(m.group(1), m.group(2)[2:] if m.group(2) else None) for m in PATH.finditer(doc.read_text())]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_repository_path_in_the_docs_exists(doc: Path) -> None:
    missing = []
    for path, test in mentions(doc):
        target = resolve(path)
        if not target.exists():
            missing.append(path)
        elif test is not None:
            # `test_x_...` abbreviates a name: then the name only has to start that way.
            end = "" if test.endswith("...") else r"\b"
            if not re.search(r"def " + re.escape(test.rstrip(".")) + end, target.read_text()):
                missing.append(f"{path}::{test}")
    assert missing == [], f"{doc.name} names paths that do not exist"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_between_docs_resolves(doc: Path) -> None:
    broken = [target for target in LINK.findall(doc.read_text()) if not (doc.parent / target).is_file()]
    assert broken == [], f"{doc.name} links to missing pages"


# The module behind each stage of docs/architecture.md, in flow order.
STAGE_MODULES = (
    "client/swanlab_client/_run.py",
    "client/swanlab_client/_sender.py",
    "client/swanlab_client/_transport.py",
    "daemon/swanlabd/ingest/server.py",
    "daemon/swanlabd/storage/runstore.py",
    "daemon/swanlabd/format/backup.py",
    "daemon/swanlabd/storage/state.py",
    "daemon/swanlabd/upload/forwarder.py",
    "daemon/swanlabd/upload/cloudapi.py",
    "daemon/swanlabd/ingest/monitor.py",
)


def test_the_architecture_page_names_each_stage_module_and_tests() -> None:
    """The data-path page is the map: it must keep naming the code behind each stage, and tests."""
    paths = {path for path, _ in mentions(REPO / "docs" / "architecture.md")}
    assert [m for m in STAGE_MODULES if m not in paths] == []
    assert any(p.startswith("tests/") for p in paths)

"""Every repository path the docs name must exist, so the docs cannot rot silently.

The docs are docs/*.md and the README.

A path counts when it is written from the repository root (`daemon/swanlabd/storage/runstore.py`,
`tests/client/test_fork.py`) or from a package (`swanlabd/upload/registry.py` is under `daemon/`,
`swanlab_client/_run.py` under `client/`, `swanlabd_pb/service.proto` under `proto/`). A
`::test_name` after a test file must name a test in it (a trailing `...` abbreviates the name).
Relative Markdown links (`[x](upload.md)`) must point at an existing page.

Paths on the host (`/etc/...`, `~/.swanlab/.netrc`, `<data root>/...`), another project's files
(`doc/log_format.md` of LevelDB) and bare file names (`_sync.py`, or another project's
`datastore.py`) are not checked: they name no place in this repository.

docs/architecture.md opens with the source tree: one line per folder (a path from the root and
what it holds), then an indented line naming its modules. Every folder and module it names must
exist, every package of the daemon and every module of the daemon and the client must be named,
and the import rules it states must be the ones the import-linter contracts in pyproject.toml
check.
"""

from __future__ import annotations

import re
import tomllib
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
_STARTS = "|".join(re.escape(r) for r in (*ROOTS, *PACKAGES))
_ENDS = "|".join(re.escape(s) for s in SUFFIXES)
PATH = re.compile(rf"(?<![\w./<$~-])((?:{_STARTS})[\w./-]*?(?:/|{_ENDS}))(::[\w.]+)?(?![\w/])")
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
    "daemon/swanlabd/upload/registry.py",
    "daemon/swanlabd/upload/cloudapi.py",
    "daemon/swanlabd/ingest/monitor.py",
)


def test_the_architecture_page_names_each_stage_module_and_tests() -> None:
    """The data-path page is the map: it must keep naming the code behind each stage, and tests."""
    paths = {path for path, _ in mentions(REPO / "docs" / "architecture.md")}
    assert [m for m in STAGE_MODULES if m not in paths] == []
    assert any(p.startswith("tests/") for p in paths)


ARCHITECTURE = REPO / "docs" / "architecture.md"
# The folders the tree must show, each with what it holds.
TREE_FOLDERS = (
    *(f"daemon/swanlabd/{layer}/" for layer in ("format", "local", "storage", "ingest", "upload", "service", "cli")),
    "client/swanlab_client/",
    "proto/swanlabd_pb/",
    "testcloud/swanlab_testcloud/",
    "tests/",
)


def opening_tree() -> dict[str, list[str]]:
    """{folder: [module names]} of the indented block that docs/architecture.md must open with.

    The page starts with its title and a blank line, then the block: a folder line is indented 4
    spaces (path, then what it holds, the description maybe wrapped onto lines indented further),
    and a module line is indented 6 spaces.
    """
    lines = ARCHITECTURE.read_text().splitlines()
    assert lines[0].startswith("# ") and lines[1] == "", "the page opens with its title, then the tree"
    tree: dict[str, list[str]] = {}
    folder = None
    for line in lines[2:]:
        if not line.startswith("    "):
            break
        if not line.startswith("     "):
            folder = line.split()[0]
            tree[folder] = []
        elif line.startswith("      ") and not line.startswith("       "):
            assert folder is not None, line
            tree[folder].extend(line.split())
    return tree


def test_the_architecture_page_opens_with_the_tree() -> None:
    tree = opening_tree()
    assert [folder for folder in TREE_FOLDERS if folder not in tree] == []
    assert all(modules for modules in tree.values()), "each folder line is followed by its modules"


def test_every_folder_and_module_in_the_tree_exists() -> None:
    missing = [
        folder + module
        for folder, modules in opening_tree().items()
        for module in ["", *modules]
        if not (REPO / folder / module).exists()
    ]
    assert missing == []


@pytest.mark.parametrize("package", ["daemon/swanlabd", "client/swanlab_client"])
def test_the_tree_names_every_package_and_module(package: str) -> None:
    """A new package or module of the daemon or the client goes into the tree with it."""
    tree = opening_tree()
    named = {folder + module for folder, modules in tree.items() for module in modules} | set(tree)
    root = REPO / package
    on_disk = [
        str(path.relative_to(REPO)) + ("/" if path.is_dir() else "")
        for path in sorted(root.rglob("*"))
        if "__pycache__" not in path.parts
        and (path.suffix == ".py" and path.name not in ("__init__.py", "__main__.py") or path.is_dir())
        and path != root
    ]
    assert [path for path in on_disk if path not in named] == []


def test_the_import_rules_on_the_page_are_the_contracts_import_linter_checks() -> None:
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    text = ARCHITECTURE.read_text()
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers" and c["layers"][0].startswith("swanlabd.")]
    direction = " -> ".join(layer.replace("swanlabd.", "") for layer in layers)
    assert f"    {direction}\n" in text
    (forbidden,) = [c["forbidden_modules"] for c in contracts if c.get("source_modules") == ["swanlab_client"]]
    packages = {p.name for p in (REPO / "daemon" / "swanlabd").iterdir() if (p / "__init__.py").exists()}
    allowed = sorted(packages - {m.removeprefix("swanlabd.") for m in forbidden})
    assert f"    client/swanlab_client -> {', '.join(allowed)} " in text

"""Every public name of the official SDK (0.10.3) is in swanlab_client, or docs/client.md says why not.

The referee venv (tests/testcloud/sdk_venv.py) lists the names (tests/client/scripts/official_api.py):
the top level, `Run`, `Config` and `Settings` with its nested classes and their fields. The
table in docs/client.md ("The official SDK's public names") has one row per name: "supported",
"differs: how" or "not supported: why". A name swanlab_client lacks must be "not supported"
with a reason; a "supported" callable must have the official signature.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from testcloud.sdk_venv import official_sdk_python

import swanlab_client

# One xdist worker runs the whole module, so its module-scoped fixture (which runs the official
# SDK) runs once, not once per worker.
pytestmark = pytest.mark.xdist_group("official-api")

ROOT = Path(__file__).resolve().parents[2]
LISTER = Path(__file__).parent / "scripts" / "official_api.py"
_ROW = re.compile(r"^\| `(?P<name>[^`]+)` \| (?P<status>.+) \|$")
_MISSING = object()


@pytest.fixture(scope="module")
def official() -> dict[str, Any]:
    out = subprocess.run([str(official_sdk_python()), str(LISTER)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def docs_table() -> dict[str, str]:
    text = (ROOT / "docs" / "client.md").read_text()
    section = text.split("## The official SDK's public names", 1)[1].split("\n## ", 1)[0]
    return {m["name"]: m["status"] for line in section.splitlines() if (m := _ROW.match(line))}


def ours(name: str) -> Any:
    """swanlab_client's object for an official name, or _MISSING."""
    parts = name.split(".")
    obj: Any = swanlab_client
    for i, part in enumerate(parts):
        if dataclasses.is_dataclass(obj) and isinstance(obj, type) and i == len(parts) - 1:
            fields = {f.name for f in dataclasses.fields(obj)}
            if part in fields:
                return None  # a field (a default factory leaves no class attribute)
        if part == "run" and obj is swanlab_client:
            return None  # computed on access (the active run or None)
        obj = getattr(obj, part, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


def signature(obj: Any) -> list[list[Any]] | None:
    if isinstance(obj, property) or not callable(obj) or isinstance(obj, type):
        return None
    params = list(inspect.signature(obj).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return [[p.name, p.kind.name, None if p.default is p.empty else repr(p.default)] for p in params]


def test_the_docs_table_has_one_row_per_official_name_and_a_reason_for_each_gap(official):
    table = docs_table()
    assert sorted(set(official) - set(table)) == [], "official names without a row in docs/client.md"
    assert sorted(set(table) - set(official)) == [], "rows for names the official SDK does not have"
    for name, status in table.items():
        assert re.match(r"(supported|differs: .{10,}|not supported: .{10,})", status), (name, status)


def test_every_official_name_is_here_unless_the_docs_say_why_not(official):
    table = docs_table()
    lacking = [n for n in official if ours(n) is _MISSING and not table[n].startswith("not supported: ")]
    assert lacking == []
    present_but_marked = [n for n in official if ours(n) is not _MISSING and table[n].startswith("not supported")]
    assert present_but_marked == [], "the table says 'not supported' for names that exist: update it"


def test_supported_names_have_the_official_signature(official):
    table = docs_table()
    for name, theirs in official.items():
        if theirs is None or not table[name].startswith("supported"):
            continue
        obj = ours(name)
        if isinstance(obj, type):
            continue
        if name.startswith("Run."):  # a property there is a property here too
            obj = inspect.getattr_static(swanlab_client.Run, name.split(".", 1)[1])
        assert signature(obj) == theirs, name


def test_the_sync_bridges_have_the_official_signatures(official):
    """Their rows say "differs" (in what they do, docs/integrations.md), never in how they are called."""
    bridges = ["sync_wandb", "sync_tensorboardX", "sync_tensorboard_torch", "sync_mlflow"]
    assert {name: signature(ours(name)) for name in bridges} == {name: official[name] for name in bridges}

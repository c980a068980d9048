"""The Dockerfile, read statically (no Docker daemon on CI machines): the promises docs/service.md makes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def final_stage() -> dict[str, list[str]]:
    """Instructions of the last stage, continuation lines joined: {"USER": [...], "ENV": [...], ...}."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages = re.split(r"(?m)^FROM ", text)
    out: dict[str, list[str]] = {}
    for line in stages[-1].splitlines()[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.setdefault(word, []).append(rest.strip())
    return out


def test_runs_as_a_non_root_user(final_stage: dict[str, list[str]]) -> None:
    user = final_stage["USER"][-1].split(":")[0]
    assert user not in ("root", "0")


def test_socket_and_data_root_are_volumes(final_stage: dict[str, list[str]]) -> None:
    env = " ".join(final_stage["ENV"])
    socket = re.search(r"SWANLABD_SOCKET=(\S+)", env)
    home = re.search(r"SWANLABD_DATA_ROOT=(\S+)", env)
    assert socket and home
    volumes = json.loads(final_stage["VOLUME"][-1])
    assert str(Path(socket.group(1)).parent) in volumes
    assert home.group(1) in volumes


def test_healthcheck_and_entrypoint_use_the_console_scripts(final_stage: dict[str, list[str]]) -> None:
    health = final_stage["HEALTHCHECK"][-1]
    assert health.endswith('CMD ["swanlabctl", "status"]')
    assert json.loads(final_stage["ENTRYPOINT"][-1]) == ["swanlabd", "run"]
    scripts = (ROOT / "pyproject.toml").read_text()
    assert (
        'swanlabd = "swanlabd.cli.swanlabd:main"' in scripts
        and 'swanlabctl = "swanlabd.cli.swanlabctl:main"' in scripts
    )


def test_build_stage_copies_only_what_exists() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source

"""swanlabd.local.packages: a run's package list, read from the import path its process sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swanlabd.local import packages
from swanlabd_pb import records_pb2 as pb


def install(site: Path, name: str, version: str) -> None:
    """What pip leaves of a package for importlib.metadata: its dist-info folder with METADATA."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def age(*folders: Path, seconds: float = 60) -> None:
    then = time.time() - seconds
    for folder in folders:
        os.utime(folder, (then, then))


def test_the_list_is_every_package_of_every_folder_once_sorted_without_case(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    install(first, "zeta", "1.0")
    install(first, "Alpha", "2.0")
    install(second, "beta_pkg", "0.3")
    install(second, "Alpha", "2.0")  # on both paths: listed once, as pip does
    assert packages.listing([str(first), str(second), str(tmp_path / "missing")]) == (
        "Alpha==2.0\nbeta_pkg==0.3\nzeta==1.0\n"
    )
    assert packages.listing([str(tmp_path / "missing")]) == ""


def test_only_the_headers_name_a_package_as_the_full_parser_reads_them(tmp_path: Path) -> None:
    site = tmp_path / "site"
    body = "Name: not-this\nVersion: 9\n" * 1000  # a long description that looks like headers
    info = site / "real-1.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\r\nName: Real\r\nVersion: 1.2\r\nSummary: x\r\n\r\n{body}")
    egg = site / "old.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: Old\nVersion: 0.9\n")
    odd = site / "odd-1.dist-info"
    odd.mkdir()
    (odd / "METADATA").write_text("Metadata-Version: 2.1\nName:   Odd  \nVersion:\t1\n")
    assert packages.listing([str(site)]) == "Odd==1\nOld==0.9\nReal==1.2\n"


def test_a_package_installed_later_is_listed_by_the_next_run(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "torch", "2.13.0")
    age(site)
    assert packages.listing([str(site)]) == "torch==2.13.0\n"  # kept: the folder is settled
    install(site, "numpy", "2.1.0")
    assert packages.listing([str(site)]) == "numpy==2.1.0\ntorch==2.13.0\n"


def test_a_listing_read_while_its_folder_just_changed_is_not_kept(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "torch", "2.13.0")
    assert packages.listing([str(site)]) == "torch==2.13.0\n"
    # A change within the same clock tick leaves the folder's mtime as it was: only a listing
    # that was not kept sees it.
    stamp = site.stat().st_mtime_ns
    install(site, "numpy", "2.1.0")
    os.utime(site, ns=(stamp, stamp))
    assert packages.listing([str(site)]) == "numpy==2.1.0\ntorch==2.13.0\n"


def test_the_list_of_this_python_matches_pips(tmp_path: Path) -> None:
    """The referee is pip itself, run on the same interpreter: same names (as pip normalizes
    them) and versions."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def normal(name: str) -> str:
        return name.lower().replace("_", "-").replace(".", "-")

    pips = {(normal(p["name"]), p["version"]) for p in json.loads(out)}
    ours = {
        (normal(line.split("==")[0]), line.split("==")[1])
        for line in packages.listing([os.path.abspath(p) for p in sys.path]).splitlines()
    }
    assert ours == pips


def test_resolved_lists_the_sys_path_and_keeps_a_list_given() -> None:
    site = os.path.dirname(os.path.dirname(pytest.__file__))
    stored = packages.resolved(pb.Requirements(sys_path=[site], conda="c"))
    assert f"pytest=={pytest.__version__}" in stored.pip.splitlines()
    assert list(stored.sys_path) == [] and stored.conda == "c"
    given = pb.Requirements(pip="numpy==2.0\n", sys_path=[site])
    assert packages.resolved(given).pip == "numpy==2.0\n"
    plain = pb.Requirements(pip="x==1\n")
    assert packages.resolved(plain) == plain


@pytest.mark.parametrize(
    ("paths", "why"),
    [
        (["relative/site"], "not an absolute path"),
        (["/a\0b"], "not an absolute path"),
        (["/" + "x" * 5000], "not an absolute path"),
        (["/p"] * (packages.MAX_PATHS + 1), "more than 1024"),
    ],
)
def test_an_import_path_the_daemon_would_not_read_is_refused(paths: list[str], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        packages.check(paths)
    packages.check(["/usr/lib/python3.11", "/usr/lib/python311.zip"])

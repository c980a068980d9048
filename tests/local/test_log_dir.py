"""swanlabd.local.paths.check_log_dir: the folder init(log_dir=...) may put run folders in."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from swanlabd.local.paths import check_log_dir


def test_a_missing_folder_is_made_private(tmp_path: Path):
    target = tmp_path / "a" / "swanlog"
    assert check_log_dir(str(target)) == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o700 and stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700


def test_an_existing_private_folder_is_kept(tmp_path: Path):
    (tmp_path / "logs").mkdir(mode=0o755)
    assert check_log_dir(str(tmp_path / "logs")) == tmp_path / "logs"


@pytest.mark.parametrize("given", ["relative/dir", "/tmp/../etc", "/tmp/./x"])
def test_relative_or_dotted_paths_are_refused(given: str):
    with pytest.raises(ValueError, match="absolute path without"):
        check_log_dir(given)


def test_a_symlink_on_the_way_is_refused(tmp_path: Path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    for given in (tmp_path / "link", tmp_path / "link" / "below"):
        with pytest.raises(ValueError, match="symlink"):
            check_log_dir(str(given))
    assert not (tmp_path / "real" / "below").exists()


def test_a_folder_others_may_write_or_rename_in_is_refused(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # no sticky bit: anyone may swap what is inside for a symlink
    with pytest.raises(ValueError, match="rename"):
        check_log_dir(str(shared / "mine"))
    os.chmod(shared, 0o775)
    with pytest.raises(ValueError, match="writable by others"):
        check_log_dir(str(shared))


def test_a_file_is_not_a_folder(tmp_path: Path):
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="not a folder"):
        check_log_dir(str(tmp_path / "f" / "x"))

"""runfolder's rules for ids and names read from a file: the ones StartRun and init() apply.

`check_run_start` is what adoption applies to a folder the daemon did not write; its name rules
must accept exactly what the client's init() accepts (swanlab_client/_validate.py), or a run
recorded by the client could not be adopted, or a folder could name what init() refuses.
"""

from __future__ import annotations

import pytest

from swanlab_client import _validate
from swanlab_client._errors import InvalidNameError
from swanlabd.local import runfolder
from swanlabd_pb import records_pb2 as pb

HOSTILE = "../../../../api/projects/alice/victim?x="


@pytest.mark.parametrize(
    "run_id", [HOSTILE, "a/b", "a?b", "..", ".", "a b", "é", "١٢٣", "ａｂｃ", "", "x" * 65, "a%2Fb", "a\nb"]
)
def test_run_ids_are_ascii_letters_digits_dash_and_underscore_only(run_id):
    with pytest.raises(ValueError, match="run id"):
        runfolder.check_run_id(run_id)
    with pytest.raises(ValueError, match="run id"):
        runfolder.check_run_start(run_id, pb.RunStart(run_id=run_id, project="p"))


@pytest.mark.parametrize("run_id", ["abc", "A-b_9", "x" * 64])
def test_good_run_ids_pass(run_id):
    runfolder.check_run_id(run_id)
    runfolder.check_run_start(run_id, pb.RunStart(run_id=run_id, project="p", experiment_name="e"))


def test_a_new_run_id_passes():
    # Made in the test, not in its parameters: test ids must be the same in every collection.
    run_id = runfolder.new_run_id()
    runfolder.check_run_id(run_id)
    runfolder.check_run_start(run_id, pb.RunStart(run_id=run_id, project="p", experiment_name="e"))


NAMES = ["p", "my-proj_1.0+x", "..", "a/b", "a?b", "a b", "é", "x" * 100, "x" * 101, "a%2F", "a\tb"]


@pytest.mark.parametrize("name", NAMES)
def test_project_names_follow_init(name):
    try:
        _validate.check_project(name)
        client_accepts = True
    except InvalidNameError:
        client_accepts = False
    try:
        runfolder.check_run_start("r", pb.RunStart(project=name))
        file_accepts = True
    except ValueError:
        file_accepts = False
    assert file_accepts == client_accepts


@pytest.mark.parametrize("name", NAMES)
def test_workspaces_follow_the_project_rule(name):
    try:
        runfolder.check_run_start("r", pb.RunStart(project="p", workspace=name))
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == (runfolder.NAME_CHARS.issuperset(name) and len(name) <= runfolder.MAX_PROJECT_LENGTH)


@pytest.mark.parametrize("name", ["e", "run-Jan01", "a b/c?d", "x" * 255, "x" * 256, "   ", "\t"])
def test_experiment_names_follow_init(name):
    try:
        _validate.check_experiment_name(name)
        client_accepts = True
    except InvalidNameError:
        client_accepts = False
    try:
        runfolder.check_run_start("r", pb.RunStart(project="p", experiment_name=name))
        file_accepts = True
    except ValueError:
        file_accepts = False
    assert file_accepts == client_accepts


def test_empty_names_are_allowed_in_a_file_as_startrun_allows_them():
    runfolder.check_run_start("r", pb.RunStart())


def test_a_runstart_naming_another_run_is_refused():
    with pytest.raises(ValueError, match="RunStart names run 'other'"):
        runfolder.check_run_start("r", pb.RunStart(run_id="other", project="p"))

"""Bad and unusual input to log() and init(): the documented behaviour and a clear message."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from memtransport import MemoryConnector, MemoryDaemon, drain, make_run

import swanlab_client
from swanlab_client import InvalidNameError, RunFinishedError, _run

NO_HOOKS = swanlab_client.Settings(hooks=False)


@pytest.fixture
def mem_run():
    mem = MemoryDaemon()
    return mem, make_run(MemoryConnector(mem))


@pytest.fixture
def disabled():
    run = swanlab_client.init(project="input-tests", mode="disabled", reinit=True, settings=NO_HOOKS)
    yield run
    run.finish()


def test_nan_and_inf_are_kept_as_values(mem_run):
    mem, run = mem_run
    run.log({"a": float("nan"), "b": float("inf"), "c": -math.inf, "d": np.float32("nan")})
    drain(run)
    ((_, row),) = mem.rows("r1")
    assert math.isnan(row["a"]) and row["b"] == math.inf and row["c"] == -math.inf and math.isnan(row["d"])


def test_nested_dicts_flatten_with_slash(mem_run):
    mem, run = mem_run
    run.log({"train": {"loss": 1, "opt": {"lr": 0.1}}, "epoch": 2})
    drain(run)
    assert mem.rows("r1") == [(0, {"train/loss": 1.0, "train/opt/lr": 0.1, "epoch": 2.0})]


def test_numpy_scalars_and_0d_arrays_are_numbers(mem_run):
    mem, run = mem_run
    run.log({"i": np.int64(3), "f": np.float16(0.5), "b": np.bool_(True), "arr": np.array(2.5)})
    run.log({"i": np.int64(4), "f": np.float16(1.5), "b": np.bool_(False), "arr": np.array(3.5)})
    drain(run)
    assert mem.rows("r1") == [
        (0, {"i": 3.0, "f": 0.5, "b": 1.0, "arr": 2.5}),
        (1, {"i": 4.0, "f": 1.5, "b": 0.0, "arr": 3.5}),
    ]


def test_step_going_backwards_is_stored_as_logged_with_one_warning(mem_run, caplog):
    mem, run = mem_run
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        run.log({"a": 1}, step=10)
        run.log({"a": 2}, step=3)
        run.log({"a": 3}, step=2)
        run.log({"a": 4})
    drain(run)
    # The automatic step is one more than the highest step logged, as in the official SDK.
    assert [s for s, _ in mem.rows("r1")] == [10, 3, 2, 11]
    warnings = [r for r in caplog.records if "backwards" in r.getMessage()]
    assert len(warnings) == 1 and "3 after 10" in warnings[0].getMessage()


def test_same_step_twice_is_fine_and_auto_steps_continue(mem_run):
    mem, run = mem_run
    run.log({"train": 1}, step=5)
    run.log({"eval": 2}, step=5)
    run.log({"train": 3})
    drain(run)
    assert [s for s, _ in mem.rows("r1")] == [5, 5, 6]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"a": "text"}, ["'a'", "not a number"]),
        ({"a": None}, ["'a'", "None"]),
        ({"a": [1, 2]}, ["'a'", "list"]),
        ({"a": np.zeros(3)}, ["'a'", "shape (3,)"]),
        ({"a": 1 + 2j}, ["'a'", "complex"]),
        ({"a": np.timedelta64(5, "s")}, ["'a'", "timedelta"]),
        ({"": 1}, ["''", "empty"]),
        ({"a\nb": 1}, ["control"]),
        ({"./": 1}, ["'./'", "empty"]),
        ({"__swanlab__.cpu": 1}, ["reserved"]),
    ],
)
def test_a_bad_value_or_key_is_left_out_with_one_warning_and_the_row_kept(mem_run, caplog, data, words):
    mem, run = mem_run
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        for _ in range(3):
            run.log({"ok": 1, **data})  # never raises into the training loop
    drain(run)
    assert mem.rows("r1") == [(0, {"ok": 1.0}), (1, {"ok": 1.0}), (2, {"ok": 1.0})]
    (warning,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]  # once per key
    for word in words:
        assert word in warning


def test_keys_are_cleaned_as_the_official_sdk_cleans_them(mem_run):
    mem, run = mem_run
    run.log({" /x/ ": 1, 3: 2, "准确率": 3, "acc(%)": 4, "a:b": 5, "k" * 600: 6, "a/b": 7, "a": {"b": 8}})
    drain(run)
    ((_, row),) = mem.rows("r1")
    assert row == {"x": 1.0, "3": 2.0, "准确率": 3.0, "acc(%)": 4.0, "a:b": 5.0, "k" * 512: 6.0, "a/b": 8.0}


class OneElementTensor:
    """What log() needs of a torch tensor (torch is not a test dependency): `.item()`."""

    def item(self) -> float:
        return 2.0


def test_strings_holding_numbers_and_one_element_arrays_are_numbers(mem_run):
    mem, run = mem_run
    run.log({"s": "3.5", "n": "nan", "i": "inf", "a": np.array([7.0]), "t": OneElementTensor(), "b": True})
    drain(run)
    ((_, row),) = mem.rows("r1")
    assert math.isnan(row.pop("n")) and math.isnan(row.pop("i"))  # the official SDK stores both as NaN
    assert row == {"s": 3.5, "a": 7.0, "t": 2.0, "b": 1.0}


def test_a_seen_key_set_with_a_bad_value_is_still_left_out(mem_run):
    mem, run = mem_run
    run.log({"a": 1.0, "b": 2})
    run.log({"a": 1.0, "b": "x"})
    drain(run)
    assert mem.rows("r1") == [(0, {"a": 1.0, "b": 2.0}), (1, {"a": 1.0})]


@pytest.mark.parametrize("step", [-1, 1.5, "3", 2**63])
def test_a_bad_step_leaves_the_row_out_with_a_warning(mem_run, caplog, step):
    mem, run = mem_run
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        run.log({"a": 1}, step=step)
    run.log({"a": 2})
    drain(run)
    assert mem.rows("r1") == [(0, {"a": 2.0})]
    assert any("left out a row" in r.getMessage() for r in caplog.records)


def test_numpy_integer_and_bool_steps(mem_run):
    mem, run = mem_run
    run.log({"a": 1}, step=np.int64(4))
    run.log({"a": 2}, step=True)  # the official SDK takes a bool as the int it is
    drain(run)
    assert [s for s, _ in mem.rows("r1")] == [4, 1]


def test_log_of_something_not_a_dict_is_ignored_with_a_warning(caplog):
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        run.log([("a", 1)])
    drain(run)
    assert mem.rows("r1") == [] and any("not list" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("project", ["has space", "a/b", "x" * 101, "中文"])
def test_invalid_project_names_are_a_value_error_at_init(project):
    with pytest.raises(InvalidNameError) as info:
        swanlab_client.init(project=project, mode="disabled", reinit=True)
    assert isinstance(info.value, ValueError) and "project" in str(info.value)


def test_invalid_mode_is_a_value_error():
    with pytest.raises(ValueError, match="mode"):
        swanlab_client.init(project="p", mode="sideways", reinit=True)


def test_disabled_mode_validates_and_stores_nothing(disabled, caplog):
    swanlab_client.log({"a": 1, "nested": {"b": 2.0}})
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        swanlab_client.log({"a": "no"})
    assert any("left out 'a'" in r.getMessage() for r in caplog.records)
    assert disabled.run_dir is None and not disabled._queue


def test_log_after_finish_is_a_usage_error(disabled):
    swanlab_client.finish()
    with pytest.raises(RunFinishedError):
        swanlab_client.log({"a": 1})
    swanlab_client.finish()  # a second finish is a no-op


def test_log_before_init_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(_run, "_current", None)
    with pytest.raises(swanlab_client.NotInitializedError, match="init"):
        swanlab_client.log({"a": 1})
    with pytest.raises(RuntimeError):
        swanlab_client.get_run()
    swanlab_client.finish()  # warns and returns, as the official SDK's does
    assert swanlab_client.run is None and not swanlab_client.has_run()


def test_a_bad_finish_state_is_said_and_leaves_the_run_running(disabled, caplog):
    with caplog.at_level(logging.ERROR, logger="swanlab_client"):
        swanlab_client.finish(state="exploded")
    assert disabled.alive and any("exploded" in r.getMessage() for r in caplog.records)


def test_config_is_a_dict_with_attribute_access(disabled):
    swanlab_client.init(project="p", mode="disabled", config={"lr": 0.1}, reinit=True, settings=NO_HOOKS)
    assert swanlab_client.config.lr == 0.1 and swanlab_client.config["lr"] == 0.1
    swanlab_client.config.epochs = 3
    assert dict(swanlab_client.config) == {"lr": 0.1, "epochs": 3}
    swanlab_client.finish()  # this run replaced the fixture's: finish it, or it stays the active run

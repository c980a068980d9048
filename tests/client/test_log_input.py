"""Bad and unusual input to log() and init(): the documented behaviour and a clear message."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from memtransport import MemoryConnector, MemoryDaemon, drain, make_run

import swanlab_client
from swanlab_client import InvalidKeyError, InvalidNameError, InvalidValueError, RunFinishedError, _run

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
    assert [s for s, _ in mem.rows("r1")] == [10, 3, 2, 3]
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
    ("data", "error", "words"),
    [
        ({"a": "text"}, InvalidValueError, ["'a'", "str"]),
        ({"a": None}, InvalidValueError, ["'a'", "NoneType"]),
        ({"a": [1, 2]}, InvalidValueError, ["'a'", "list"]),
        ({"a": np.zeros(3)}, InvalidValueError, ["'a'", "0-d"]),
        ({"a": 1 + 2j}, InvalidValueError, ["'a'", "complex"]),
        ({"a": np.timedelta64(5, "s")}, InvalidValueError, ["'a'", "timedelta64"]),
        ({"k" * 300: 1}, InvalidKeyError, ["300 characters", "255"]),
        ({3: 1}, InvalidKeyError, ["must be str", "int"]),
        ({"": 1}, InvalidKeyError, ["empty"]),
        ({"a\nb": 1}, InvalidKeyError, ["not allowed"]),
        ({"a": {"": 1}}, InvalidKeyError, ["empty"]),
        ({"/a": 1}, InvalidKeyError, ["'/'"]),
        ({"__swanlab__.cpu": 1}, InvalidKeyError, ["reserved"]),
        ({"a/b": 1, "a": {"b": 2}}, InvalidKeyError, ["twice"]),
    ],
)
def test_bad_rows_raise_a_clear_error_and_log_nothing(mem_run, data, error, words):
    mem, run = mem_run
    run.log({"ok": 1})
    with pytest.raises(error) as info:
        run.log({"ok": 2, **data})
    for word in words:
        assert word in str(info.value)
    assert isinstance(info.value, (TypeError, ValueError))
    drain(run)
    assert mem.rows("r1") == [(0, {"ok": 1.0})]  # the bad row left nothing behind


def test_a_seen_key_set_with_a_bad_value_is_still_rejected(mem_run):
    _, run = mem_run
    run.log({"a": 1.0, "b": 2})
    with pytest.raises(InvalidValueError, match="'b'"):
        run.log({"a": 1.0, "b": "x"})


@pytest.mark.parametrize(("step", "error"), [(-1, ValueError), (True, TypeError), (1.5, TypeError), ("3", TypeError)])
def test_bad_steps(mem_run, step, error):
    _, run = mem_run
    with pytest.raises(error):
        run.log({"a": 1}, step=step)


def test_log_takes_a_dict():
    run = make_run(MemoryConnector(MemoryDaemon()))
    with pytest.raises(TypeError, match="dict"):
        run.log([("a", 1)])


@pytest.mark.parametrize("project", ["has space", "a/b", "x" * 101, "中文"])
def test_invalid_project_names_are_a_value_error_at_init(project):
    with pytest.raises(InvalidNameError) as info:
        swanlab_client.init(project=project, mode="disabled", reinit=True)
    assert isinstance(info.value, ValueError) and "project" in str(info.value)


def test_invalid_mode_is_a_value_error():
    with pytest.raises(ValueError, match="mode"):
        swanlab_client.init(project="p", mode="sideways", reinit=True)


def test_disabled_mode_validates_and_stores_nothing(disabled):
    swanlab_client.log({"a": 1, "nested": {"b": 2.0}})
    with pytest.raises(InvalidValueError):
        swanlab_client.log({"a": "no"})
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
        swanlab_client.finish()


def test_finish_state_names(disabled):
    with pytest.raises(InvalidNameError, match="finish state"):
        swanlab_client.finish(state="exploded")


def test_config_is_a_dict_with_attribute_access(disabled):
    swanlab_client.init(project="p", mode="disabled", config={"lr": 0.1}, reinit=True, settings=NO_HOOKS)
    assert swanlab_client.config.lr == 0.1 and swanlab_client.config["lr"] == 0.1
    swanlab_client.config.epochs = 3
    assert dict(swanlab_client.config) == {"lr": 0.1, "epochs": 3}
    swanlab_client.finish()  # this run replaced the fixture's: finish it, or it stays the active run

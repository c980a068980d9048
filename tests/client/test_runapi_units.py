"""The Run API's pieces without a daemon: async_log, define_metric rules, Settings, callbacks, init() misuse."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import warnings

import pytest
from memtransport import MemoryConnector, MemoryDaemon, drain, make_run

import swanlab_client
from swanlab_client import _callbacks, _settings
from swanlab_client._metrics import MetricRules
from swanlab_client._settings import Settings

NO_HOOKS = Settings(hooks=False)


@pytest.fixture
def mem_run():
    mem = MemoryDaemon()
    return mem, make_run(MemoryConnector(mem))


def test_async_log_threading_logs_the_result_and_finish_waits_for_it(mem_run):
    mem, run = mem_run
    release = threading.Event()

    def slow(x: float) -> dict:
        release.wait(10)
        return {"score": x}

    run.log({"score": 0.0})
    future = run.async_log(slow, 0.5, step=7)
    assert not future.done()
    release.set()
    run._tasks.wait(None)  # what finish() does first
    drain(run)
    assert future.result() == {"score": 0.5} and mem.rows("r1") == [(0, {"score": 0.0}), (7, {"score": 0.5})]


def test_async_log_spawn_runs_in_a_new_process(mem_run):
    mem, run = mem_run
    future = run.async_log(dict, score=1.5)  # a builtin pickles by name into the spawned child
    assert future.result(timeout=60) == {"score": 1.5}
    run._tasks.wait(None)
    drain(run)
    assert mem.rows("r1") == [(0, {"score": 1.5})]


def test_async_log_asyncio_schedules_on_the_running_loop(mem_run):
    mem, run = mem_run

    async def compute() -> dict:
        await asyncio.sleep(0)
        return {"async": 2.0}

    async def main() -> None:
        await run.async_log(compute, mode="asyncio")

    asyncio.run(main())
    drain(run)
    assert mem.rows("r1") == [(0, {"async": 2.0})]
    with pytest.raises(RuntimeError):  # no running loop, as in the official SDK
        run.async_log(compute, mode="asyncio")
    with pytest.raises(NotImplementedError):
        run.async_log(compute, mode="fork")


def test_async_log_that_raises_logs_nothing_and_warns(mem_run, caplog):
    mem, run = mem_run

    def broken() -> dict:
        raise ValueError("nope")

    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        run.async_log(broken).exception(timeout=10)
        run._tasks.wait(None)
    drain(run)
    assert mem.rows("r1") == [] and any("async_log(broken) raised" in r.getMessage() for r in caplog.records)


def test_define_metric_rules_exact_wins_then_the_longest_prefix():
    rules = MetricRules()
    define = dict(x_axis=None, section_name=None, hidden=None, step_sync=None, overwrite=False, step_metric=None)
    rules.define("train/*", **{**define, "section_name": "Train"})
    rules.define("train/val/*", **{**define, "section_name": "Deeper"})
    rules.define("train/loss", **{**define, "hidden": True})
    rules.define("train/loss", **{**define, "x_axis": "_relative_time"})  # merges: hidden stays
    assert rules.column("train/loss") == ("", "_relative_time", True)
    assert rules.column("train/val/x") == ("Deeper", "", False)
    assert rules.column("train/acc") == ("Train", "", False)
    assert rules.column("other") is None
    rules.define("train/loss", **{**define, "section_name": "S", "overwrite": True})
    assert rules.column("train/loss") == ("S", "", False)


def test_a_custom_x_axis_keeps_one_y_point_per_x_value_and_adds_x_only_where_used():
    rules = MetricRules()
    define = dict(x_axis=None, section_name=None, hidden=None, step_sync=None, overwrite=False, step_metric=None)
    rules.define("val/*", **{**define, "x_axis": "epoch"})
    rules.define("lr", **{**define, "x_axis": "epoch", "step_sync": False})

    def row(**values: float) -> dict[str, object]:
        keys, vals = list(values), list(values.values())
        rules.complete(keys, vals)
        return dict(zip(keys, vals, strict=True))

    assert row(**{"val/acc": 0.1}) == {"val/acc": 0.1, "epoch": 0.0}  # X never logged: drawn at 0
    assert row(**{"val/acc": 0.2}) == {}  # X still 0: the point repeats its X value
    assert row(lr=1.0) == {"lr": 1.0}  # no step_sync: no X value, nothing to compare
    assert row(epoch=1, lr=0.5) == {"epoch": 1, "lr": 0.5}
    assert row(epoch=1, lr=0.4) == {"epoch": 1}  # X logged again with the same value
    assert row(**{"val/acc": 0.3, "val/f1": 0.3}) == {"val/acc": 0.3, "val/f1": 0.3, "epoch": 1.0}
    assert row(epoch=1 + 1e-9, **{"val/acc": 0.4}) == {"epoch": 1 + 1e-9}  # within 1e-8: the same X
    assert row(epoch=0, **{"val/acc": 0.5}) == {"epoch": 0, "val/acc": 0.5}  # only the previous X counts


@pytest.mark.parametrize(
    ("key", "kwargs", "said"),
    [
        ("*loss", {}, "single trailing"),
        ("a/*/b", {}, "single trailing"),
        ("", {}, "invalid key"),
        ("y", {"x_axis": "__swanlab__.cpu"}, "invalid x_axis"),
    ],
)
def test_define_metric_refuses_what_the_official_sdk_refuses_with_an_error_line(key, kwargs, said, caplog):
    rules = MetricRules()
    define = dict(x_axis=None, section_name=None, hidden=None, step_sync=None, overwrite=False, step_metric=None)
    with caplog.at_level(logging.ERROR, logger="swanlab_client"):
        rules.define(key, **{**define, **kwargs})
    assert not rules.exact and not rules.prefixes
    assert any(said in r.getMessage() for r in caplog.records)


def test_settings_take_nested_dicts_merge_and_warn_once_per_field(caplog, monkeypatch):
    monkeypatch.setattr(_settings, "_global", Settings())
    monkeypatch.setattr(_settings, "_warned", set())
    swanlab_client.merge_settings({"mode": "offline", "probe": {"monitor": False}, "project": {"name": "p1"}})
    swanlab_client.merge_settings(Settings(experiment=Settings.Experiment(group="g")))
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        first = _settings.for_run(Settings(core={"record_batch": 5}, terminal={"proxy_type": "stdout"}))
        _settings.for_run(None)
    assert (first.mode, first.project.name, first.experiment.group) == ("offline", "p1", "g")
    assert first.terminal.proxy_type == "stdout" and first.core.record_batch == 5
    said = [r.getMessage() for r in caplog.records]
    assert sum("probe.monitor has no effect" in m for m in said) == 1
    assert sum("core.record_batch has no effect" in m for m in said) == 1
    assert not any("terminal.proxy_type" in m or "project.name" in m for m in said)  # honoured: no warning
    with pytest.raises(ValueError, match="no field"):
        swanlab_client.merge_settings({"nope": 1})


def test_init_takes_its_defaults_from_settings(monkeypatch):
    monkeypatch.setattr(_settings, "_global", Settings())
    settings = Settings(
        hooks=False,
        mode="disabled",
        project=Settings.Project(name="from-settings"),
        experiment=Settings.Experiment(name="exp", tags=["t"]),
    )
    run = swanlab_client.init(settings=settings, reinit=True)
    try:
        assert (run.project, run.name, run.mode) == ("from-settings", "exp", "disabled")
        run2 = swanlab_client.init(settings=settings, project="arg-wins", reinit=True)
        assert run2.project == "arg-wins" and not run.alive
    finally:
        swanlab_client.finish()


def test_init_while_a_run_is_active_raises_as_the_official_sdk(monkeypatch):
    run = swanlab_client.init(project="p", mode="disabled", settings=NO_HOOKS, reinit=True)
    try:
        with pytest.raises(RuntimeError, match="inactive Run"):
            swanlab_client.init(project="p", mode="disabled", settings=NO_HOOKS)
        assert swanlab_client.get_run() is run
    finally:
        run.finish()
    with pytest.raises(RuntimeError):
        swanlab_client.get_run()
    with pytest.raises(RuntimeError):
        swanlab_client.save("x")


def test_callbacks_merge_by_name_and_register_callbacks_is_deprecated(monkeypatch):
    monkeypatch.setattr(_callbacks, "_global", {})
    seen: list[str] = []

    class Named(swanlab_client.Callback):
        def __init__(self, name: str) -> None:
            self._name = name

        @property
        def name(self) -> str:
            return self._name

        def on_run_finished(self, state: str, error: str | None = None, *args, **kwargs) -> None:
            seen.append(f"{self._name}:{state}")

    swanlab_client.merge_callbacks([Named("a"), Named("b")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        swanlab_client.register_callbacks(Named("a"))  # replaces the first "a"
    assert caught and caught[0].category is FutureWarning
    run = swanlab_client.init(project="p", mode="disabled", settings=NO_HOOKS, reinit=True, callbacks=Named("c"))
    run.finish("aborted")
    assert seen == ["a:aborted", "b:aborted", "c:aborted"]
    with pytest.raises(TypeError):
        swanlab_client.merge_callbacks([object()])  # type: ignore[list-item]  # the misuse under test


def test_init_config_from_files_and_objects(tmp_path, monkeypatch):
    monkeypatch.setattr(swanlab_client._config, "_global", swanlab_client._config.Config())
    (tmp_path / "c.json").write_text('{"lr": 0.1}')
    (tmp_path / "c.yaml").write_text("lr: 0.2\nlayers: [1, 2]\n")
    (tmp_path / "c.cfg").write_text("lr: 0.3\n")  # no known suffix: JSON, then YAML, as the official SDK
    (tmp_path / "args.json").write_text('{"project": "from-load", "name": "n", "config": {"x": 1}}')
    for given, want in (
        (str(tmp_path / "c.json"), {"lr": 0.1}),
        (tmp_path / "c.yaml", {"lr": 0.2, "layers": [1, 2]}),
        (tmp_path / "c.cfg", {"lr": 0.3}),
        (Hyper(), {"lr": 0.1}),
    ):
        run = swanlab_client.init(project="p", mode="disabled", settings=NO_HOOKS, reinit=True, config=given)
        assert dict(run.config) == want
    run = swanlab_client.init(mode="disabled", settings=NO_HOOKS, reinit=True, load=str(tmp_path / "args.json"))
    assert (run.project, run.name, dict(run.config)) == ("from-load", "n", {"x": 1})
    run.finish()
    with pytest.raises(ValueError):
        swanlab_client.init(project="p", mode="disabled", settings=NO_HOOKS, reinit=True, config=[1, 2])
    with pytest.raises(FileNotFoundError):
        swanlab_client.init(project="p", mode="disabled", settings=NO_HOOKS, reinit=True, config=str(tmp_path / "no"))


@dataclasses.dataclass
class Hyper:
    lr: float = 0.1

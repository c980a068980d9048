"""swanlab_client.config as the official SDK has it: kept from before init(), JSON values, one record per burst."""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
from memtransport import MemoryConnector, MemoryDaemon, drain, make_run

from swanlab_client import _config


def config_records(mem: MemoryDaemon) -> list[dict]:
    return [json.loads(r.config.json) for r in mem.records[("r1", 1)] if r.WhichOneof("kind") == "config"]


def test_changes_between_two_takes_of_the_sender_are_one_record():
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    run._config = _config.activate({"lr": 0.1}, run)
    try:
        run.log({"a": 1})
        for i in range(50):
            run.config[f"k{i}"] = i  # 50 changes, one marker in the queue
        run.config.update({"lr": 0.2})
        run.log({"a": 2})
        drain(run)
        kinds = [r.WhichOneof("kind") for r in mem.records[("r1", 1)]]
        assert kinds.count("config") == 1
        assert kinds.index("config") < len(kinds) - 1  # in order with the rows around it
        assert config_records(mem) == [{"lr": 0.2, **{f"k{i}": i for i in range(50)}}]
        run.config.pop("lr")
        drain(run)
        assert config_records(mem)[-1] == {f"k{i}": i for i in range(50)}
    finally:
        _config.deactivate(run._config)


@dataclasses.dataclass
class Hyper:
    lr: float = 0.1
    layers: tuple = (1, 2)


def test_values_are_stored_as_their_json_form():
    config = _config.Config()
    config.update(argparse.Namespace(batch=32, nan=float("nan")))
    config.set("np", np.float32(0.5))
    config.hyper = Hyper()
    config["big"] = float("inf")
    config[3] = "int key"
    assert dict(config) == {
        "batch": 32,
        "nan": "NaN",
        "np": 0.5,
        "hyper": {"lr": 0.1, "layers": [1, 2]},
        "big": "Inf",
        "3": "int key",
    }
    config.clean()
    assert len(config) == 0


def test_the_proxy_points_to_the_run_while_it_is_active_then_back_to_what_was_set_before():
    _config.config.clean()
    _config.config.before = 1
    run_config = _config.activate({"given": 2}, None)
    try:
        assert dict(_config.config) == {"before": 1, "given": 2}
        _config.config.during = 3
        assert "during" in run_config
    finally:
        _config.deactivate(run_config)
    assert dict(_config.config) == {"before": 1}  # the global config, as the official SDK keeps it
    _config.config.clean()

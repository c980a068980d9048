"""The profile lane sends what the official SDK sends, whatever the config holds."""

from __future__ import annotations

from uploading import cloud_run, finished

from helpers.rawclient import finish
from helpers.waiting import wait_for
from swanlabd_pb import records_pb2 as pb

# JSON as swanlab_client writes a config (json.dumps: non-finite floats as bare tokens).
CONFIG_JSON = (
    '{"max_grad_norm": Infinity, "eps": NaN, "floor": -Infinity,'
    ' "nested": {"clip": [Infinity, 1.5], "ok": 0.1}, "lr": 0.001}'
)
# What swanlab 0.10.3 puts in the profile for that config (its config/parse.py: NaN -> "NaN",
# +-inf -> "Inf", at any depth; the sign of -inf is lost there too).
SDK_CONFIG = {
    "max_grad_norm": "Inf",
    "eps": "NaN",
    "floor": "Inf",
    "nested": {"clip": ["Inf", 1.5], "ok": 0.1},
    "lr": 0.001,
}


def test_non_finite_config_values_go_up_as_the_official_sdk_sends_them(upload_daemon, cloud):
    stub = upload_daemon.stub()
    run = cloud_run(stub, cloud, config=pb.Config(json=CONFIG_JSON))
    finish(stub, run.run_id, 1, 0)
    assert wait_for(lambda: finished(cloud, run.run_id), 30, "final state") == "FINISHED"
    config = cloud.store.profile(run.run_id)["config"]
    assert {key: entry["value"] for key, entry in config.items()} == SDK_CONFIG
    assert [entry["sort"] for entry in config.values()] == list(range(len(SDK_CONFIG)))
    assert cloud.errors() == []

"""A damaged run entry in the state DB costs that run only: the daemon starts and serves the
others, `ls` (daemon up or down) lists the run with what is wrong and never prints a traceback,
and a request naming the run fails with the reason."""

from __future__ import annotations

import json

import grpc
import pytest

from helpers.daemon import DaemonProcess
from helpers.rawclient import finish, keys, rows, start_run, stream
from swanlabd.storage.state import State
from swanlabd_pb import service_pb2 as svc

DAMAGE = {
    "not JSON": (b"{not json", "not JSON"),
    "a field missing": (b'{"run_id": "%s"}', "no 'run_dir'"),
    "unknown state": (b'{"run_id": "%s", "run_dir": "%s", "state": "EXPLODED"}', "unknown state or mode"),
}


def damage(d: DaemonProcess, run_id: str, run_dir: str, template: bytes) -> None:
    raw = template % tuple(v.encode() for v in (run_id, run_dir)[: template.count(b"%s")])
    state = State(d.home / "state")
    try:
        state.runs_db.put(run_id.encode(), raw)
    finally:
        state.close()


def ls_rows(d: DaemonProcess) -> tuple[dict[str, list[str]], dict[str, str], str]:
    """(run id -> table row cells, run id -> its error line, stderr) of `swanlabctl ls`."""
    out = d.ctl("ls")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    cells: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    last = ""
    for line in out.stdout.splitlines()[1:]:
        if line.startswith("  error: "):
            errors[last] = line.removeprefix("  error: ")
        else:
            last = line.split()[0]
            cells[last] = line.split()
    return cells, errors, out.stderr


@pytest.mark.parametrize("template, reason", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_run_entry_costs_that_run_only(template: bytes, reason: str) -> None:
    with DaemonProcess() as d:
        stub = d.stub()
        good = start_run(stub, name="good")
        stream(stub, good.run_id, 1, [[keys(1, {1: "x"})], rows(2, 2)])
        finish(stub, good.run_id, 1, 3)
        bad = start_run(stub, name="bad")
        finish(stub, bad.run_id, 1, 0)
        d.stop()
        damage(d, bad.run_id, bad.run_dir, template)

        for source in ("state DB", "daemon"):
            if source == "daemon":
                d.start()  # it starts, damaged entry and all
            cells, errors, _ = ls_rows(d)
            assert cells[good.run_id][1] == "FINISHED" and good.run_id not in errors, source
            assert cells[bad.run_id][1:3] == ["?", "?"], source
            assert reason in errors[bad.run_id] and "skips this run" in errors[bad.run_id], source
            doc = json.loads(d.ctl("ls", "--json").stdout)
            states = {r["run_id"]: r["state"] for r in doc["runs"]}
            assert states == {good.run_id: "FINISHED", bad.run_id: "RUN_STATE_UNSPECIFIED"}, source

        # A request naming the run says what is wrong with it; the daemon serves on.
        with pytest.raises(grpc.RpcError) as refused:
            d.stub().FinishRun(svc.FinishRunRequest(run_id=bad.run_id, writer=1), timeout=10)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason in refused.value.details()
        again = start_run(d.stub(), name="after")
        assert d.running and again.run_id
        assert "skips this run" in d.output()

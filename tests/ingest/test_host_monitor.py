"""The host sampler: SDK-compatible keys, sane values, process trees, NVML when present."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from helpers.waiting import wait_for
from swanlabd.ingest import monitor
from swanlabd.ingest.monitor import PREFIX, Monitor

HOST_KEYS = {
    "cpu.pct",
    "mem.pct",
    "mem.proc.avail",
    "disk.read",
    "disk.write",
    "disk.usage",
    "network.sent",
    "network.recv",
}
TREE_KEYS = {"cpu.thds", "mem.proc", "mem.proc.pct", "proc.cpu.pct", "proc.count"}


def test_host_sample_has_the_sdk_keys_and_sane_values(tmp_path: Path) -> None:
    m = Monitor(tmp_path, use_nvml=False)
    time.sleep(0.2)  # not a wait: rates are measured over the time since the Monitor was made
    sample = m.sample()
    assert {PREFIX + k for k in HOST_KEYS} <= set(sample)
    assert f"{PREFIX}cpu.0.pct" in sample
    assert all(isinstance(v, float) for v in sample.values())
    for key in ("cpu.pct", "mem.pct", "disk.usage"):
        assert 0.0 <= sample[PREFIX + key] <= 100.0
    assert all(sample[PREFIX + k] >= 0 for k in ("disk.read", "disk.write", "network.sent", "network.recv"))
    assert not any(".gpu." in k for k in sample)


def test_process_tree_counts_children() -> None:
    m = Monitor(use_nvml=False)
    code = (
        "import subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        tree = wait_for(
            lambda: (t := m.sample_process_tree(parent.pid)).get(PREFIX + "proc.count", 0) >= 2 and t,
            20,
            "the parent and its child in the tree",
            interval=0.1,
        )
        assert set(tree) == {PREFIX + k for k in TREE_KEYS}
        assert tree[PREFIX + "mem.proc"] > 1.0  # two Pythons: megabytes resident
        assert tree[PREFIX + "cpu.thds"] >= 2
    finally:
        parent.kill()
        parent.wait()
    # A child left behind is reparented away from the tree; the parent itself is gone.
    assert m.sample_process_tree(parent.pid) == {}


def test_process_cpu_is_measured_between_samples() -> None:
    m = Monitor(use_nvml=False)
    assert m.sample_process_tree(os.getpid())[PREFIX + "proc.cpu.pct"] == 0.0  # first sight: no interval yet
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    assert m.sample_process_tree(os.getpid())[PREFIX + "proc.cpu.pct"] > 1.0


class FakeNVML(types.SimpleNamespace):
    """Stands in for pynvml: two GPUs, the second without a power sensor."""

    class NVMLError(Exception):
        pass

    NVML_TEMPERATURE_GPU = 0

    def __init__(self) -> None:
        super().__init__(shut=False)

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        self.shut = True

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetUtilizationRates(self, h: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(gpu=37 + h)

    def nvmlDeviceGetMemoryInfo(self, h: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(used=4 * 2**30, total=16 * 2**30)

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        return 61

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        if h == 1:
            raise self.NVMLError("not supported")
        return 215_500


def test_nvidia_gpus_through_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNVML()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    m = Monitor()
    sample = m.sample()
    assert sample[PREFIX + "gpu.0.ptc"] == 37.0
    assert sample[PREFIX + "gpu.0.mem.ptc"] == 25.0
    assert sample[PREFIX + "gpu.0.mem.value"] == 4096.0
    assert sample[PREFIX + "gpu.0.temp"] == 61.0
    assert sample[PREFIX + "gpu.0.power"] == 215.5
    assert sample[PREFIX + "gpu.1.ptc"] == 38.0 and PREFIX + "gpu.1.power" not in sample
    m.close()
    m.close()
    assert fake.shut


def test_without_pynvml_there_are_no_gpu_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    assert monitor._init_nvml() is None


def test_daemon_writes_system_metrics_into_an_active_run() -> None:
    from helpers.daemon import DaemonProcess
    from swanlabd.format import backup, scalarcodec
    from swanlabd_pb import records_pb2 as pb
    from swanlabd_pb import service_pb2

    with DaemonProcess(env={"SWANLABD_MONITOR_INTERVAL_S": "0.3"}) as d:
        reply = d.stub().StartRun(
            service_pb2.StartRunRequest(start=pb.RunStart(project="p", mode=pb.MODE_OFFLINE), pid=os.getpid()),
            timeout=10,
        )
        path = Path(reply.run_dir) / backup.BACKUP_FILENAME

        def system_rows() -> list[dict[str, float]]:
            names: dict[int, str] = {}
            rows = []
            for record, _ in backup.read_records(path):
                if record.writer == 0 and record.WhichOneof("kind") == "keys":
                    names.update((k.id, k.name) for k in record.keys.keys)
                elif record.WhichOneof("kind") == "system":
                    columns = scalarcodec.decode(record.system)
                    values = zip(columns.key_ids, columns.values, strict=True)
                    rows.append({names[i]: v for i, v in values})
            return rows

        rows = wait_for(lambda: len(r := system_rows()) >= 2 and r, 20, "two system rows in the run")
    # Host metrics and the stats of the run's process (this test) in one row.
    assert {PREFIX + "cpu.pct", PREFIX + "mem.pct", PREFIX + "mem.proc", PREFIX + "proc.count"} <= set(rows[-1])


def test_one_monitor_keeps_measuring_several_runs() -> None:
    # The daemon samples every run's tree with one Monitor: sampling one tree must not reset another's.
    m = Monitor(use_nvml=False)
    busy = [sys.executable, "-c", "import time\nend = time.time() + 30\nwhile time.time() < end: pass"]
    a, b = subprocess.Popen(busy), subprocess.Popen(busy)
    try:
        for _ in range(2):
            first, second = m.sample_process_tree(a.pid), m.sample_process_tree(b.pid)
            time.sleep(0.3)
        first, second = m.sample_process_tree(a.pid), m.sample_process_tree(b.pid)
        # Busy loops, but on a shared 2-core machine: only "measured, not reset to 0" is certain.
        assert first[PREFIX + "proc.cpu.pct"] > 0.0 and second[PREFIX + "proc.cpu.pct"] > 0.0, (first, second)
    finally:
        for p in (a, b):
            p.kill()
            p.wait()

"""The host sampler: one per daemon, written into every active run.

`Monitor.sample()` returns host-wide metrics; `Monitor.sample_process_tree(pid)` returns the
stats of a training process and all its descendants (DataLoader workers, ...). Keys and units
are the official SDK's, so the SwanLab cloud charts them as system metrics:

| key | unit |
|---|---|
| `__swanlab__.cpu.pct`, `__swanlab__.cpu.<i>.pct` | % (host, per core) |
| `__swanlab__.mem.pct` | % of host memory in use |
| `__swanlab__.mem.proc.avail` | MB available on the host |
| `__swanlab__.disk.read`, `__swanlab__.disk.write` | MB/s since the previous sample |
| `__swanlab__.disk.usage` | % used of the data root's file system |
| `__swanlab__.network.sent`, `__swanlab__.network.recv` | KB/s since the previous sample |
| `__swanlab__.gpu.<i>.ptc`, `__swanlab__.gpu.<i>.mem.ptc` | % (NVML; "ptc" is the SDK's key) |
| `__swanlab__.gpu.<i>.mem.value` | MB of GPU memory allocated |
| `__swanlab__.gpu.<i>.temp`, `__swanlab__.gpu.<i>.power` | °C, W |
| `__swanlab__.cpu.thds` | threads of the process tree |
| `__swanlab__.mem.proc`, `__swanlab__.mem.proc.pct` | MB resident, % of host memory (tree) |
| `__swanlab__.proc.cpu.pct` | % of one core used by the tree since its previous sample |
| `__swanlab__.proc.count` | processes in the tree |

NVIDIA GPUs are read through NVML when `pynvml` is importable and initialises; otherwise the GPU
keys are absent. Rates and CPU percentages are relative to the previous call, so the first
call after construction (or for a new pid) covers the time since then.

Blocking (psutil reads /proc, NVML talks to the driver): the daemon calls it from a worker
thread (`asyncio.to_thread`). Not thread-safe: one caller at a time.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from swanlabd.format.keytypes import SYSTEM_PREFIX as PREFIX

log = logging.getLogger(__name__)

MB = 1024 * 1024
KB = 1024


class Monitor:
    """Samples host and process-tree metrics; see the module docstring."""

    def __init__(self, disk_path: Path = Path("/"), *, use_nvml: bool = True) -> None:
        self.disk_path = disk_path
        self._last_time = time.monotonic()
        self._last_disk = psutil.disk_io_counters()
        self._last_net = psutil.net_io_counters()
        # cpu_percent(interval=None) measures since the previous call: prime it now.
        psutil.cpu_percent(percpu=True)
        self._procs: dict[int, psutil.Process] = {}
        self._nvml: ModuleType | None = _init_nvml() if use_nvml else None

    def sample(self) -> dict[str, float]:
        """Host-wide metrics (CPU, memory, disk, network, GPUs)."""
        out: dict[str, float] = {}
        now = time.monotonic()
        elapsed = max(now - self._last_time, 1e-6)
        self._last_time = now

        per_cpu = psutil.cpu_percent(percpu=True)
        out[PREFIX + "cpu.pct"] = sum(per_cpu) / len(per_cpu) if per_cpu else 0.0
        for i, pct in enumerate(per_cpu):
            out[f"{PREFIX}cpu.{i}.pct"] = float(pct)

        vm = psutil.virtual_memory()
        out[PREFIX + "mem.pct"] = float(vm.percent)
        out[PREFIX + "mem.proc.avail"] = vm.available / MB

        disk = psutil.disk_io_counters()
        if disk is not None and self._last_disk is not None:
            out[PREFIX + "disk.read"] = max(0, disk.read_bytes - self._last_disk.read_bytes) / MB / elapsed
            out[PREFIX + "disk.write"] = max(0, disk.write_bytes - self._last_disk.write_bytes) / MB / elapsed
        self._last_disk = disk
        try:
            out[PREFIX + "disk.usage"] = float(psutil.disk_usage(str(self.disk_path)).percent)
        except OSError:
            pass  # the data root vanished or is unreadable: leave the key out of this sample

        net = psutil.net_io_counters()
        if net is not None and self._last_net is not None:
            # Counters can wrap or reset when an interface goes away: never report a negative rate.
            out[PREFIX + "network.sent"] = max(0, net.bytes_sent - self._last_net.bytes_sent) / KB / elapsed
            out[PREFIX + "network.recv"] = max(0, net.bytes_recv - self._last_net.bytes_recv) / KB / elapsed
        self._last_net = net

        if self._nvml is not None:
            out.update(self._sample_gpus(self._nvml))
        return out

    def sample_process_tree(self, pid: int) -> dict[str, float]:
        """Stats of `pid` and its descendants; empty if `pid` is gone."""
        try:
            root, root_fresh = self._process(pid)
            children = root.children(recursive=True)
        except psutil.Error:
            self._procs.pop(pid, None)
            return {}
        members = [(root, root_fresh)]
        for child in children:
            try:
                members.append(self._process(child.pid))
            except psutil.Error:
                continue  # exited while we walked the tree
        threads = 0
        rss = 0
        cpu = 0.0
        count = 0
        for proc, fresh in members:
            try:
                with proc.oneshot():
                    threads += proc.num_threads()
                    rss += proc.memory_info().rss
                    # A process first seen now has no interval to measure yet: count it next time.
                    cpu += 0.0 if fresh else proc.cpu_percent(interval=None)
                count += 1
            except psutil.Error:
                continue
        # Forget exited processes (of any run's tree: one Monitor serves every run).
        for gone in [p for p, proc in self._procs.items() if not proc.is_running()]:
            del self._procs[gone]
        total = psutil.virtual_memory().total
        return {
            PREFIX + "cpu.thds": float(threads),
            PREFIX + "mem.proc": rss / MB,
            PREFIX + "mem.proc.pct": 100.0 * rss / total if total else 0.0,
            PREFIX + "proc.cpu.pct": cpu,
            PREFIX + "proc.count": float(count),
        }

    def _process(self, pid: int) -> tuple[psutil.Process, bool]:
        """The cached Process for pid, and whether it was created just now."""
        # Keep Process objects between samples: cpu_percent() is relative to the previous call
        # on the same object, and a reused pid is detected by psutil's create-time check.
        proc = self._procs.get(pid)
        if proc is not None and proc.is_running():
            return proc, False
        proc = psutil.Process(pid)
        proc.cpu_percent(interval=None)
        self._procs[pid] = proc
        return proc, True

    def _sample_gpus(self, nvml: Any) -> dict[str, float]:
        out: dict[str, float] = {}
        try:
            count = nvml.nvmlDeviceGetCount()
        except nvml.NVMLError as exc:
            log.warning("NVML stopped answering; GPU metrics off", extra={"error": str(exc)})
            self._nvml = None
            return out
        for i in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
                util = nvml.nvmlDeviceGetUtilizationRates(handle)
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                out[f"{PREFIX}gpu.{i}.ptc"] = float(util.gpu)
                out[f"{PREFIX}gpu.{i}.mem.ptc"] = 100.0 * mem.used / mem.total if mem.total else 0.0
                out[f"{PREFIX}gpu.{i}.mem.value"] = mem.used / MB
                out[f"{PREFIX}gpu.{i}.temp"] = float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
                out[f"{PREFIX}gpu.{i}.power"] = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
            except nvml.NVMLError:
                continue  # some boards lack a sensor (power, temperature): skip that GPU this time
        return out

    def close(self) -> None:
        """Release NVML (safe to call twice)."""
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError:
                pass  # already shut down by the driver; nothing left to release
            self._nvml = None


def _init_nvml() -> ModuleType | None:
    try:
        import pynvml  # optional: only on NVIDIA hosts
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        # pynvml installed but no driver/GPU (a CPU node of a GPU cluster image).
        return None
    log.info("NVIDIA GPUs found via NVML", extra={"gpus": pynvml.nvmlDeviceGetCount()})
    return pynvml

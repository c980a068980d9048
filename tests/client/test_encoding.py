"""What the sender cannot encode costs at most that item, never its neighbours or the run.

Printed text with lone surrogates (a file name that is not UTF-8) is kept with U+FFFD in their
place; steps past int64 are refused by log() itself; anything else that still cannot be
encoded is dropped alone, with a warning naming why, and every other row arrives.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from memtransport import MemoryConnector, MemoryDaemon, drain, make_run

import swanlab_client
from swanlab_client import InvalidNameError, _run
from swanlab_client._settings import Settings
from swanlab_client._validate import MAX_STEP
from swanlabd_pb import records_pb2 as pb


def console_texts(mem: MemoryDaemon) -> list[str]:
    return [ln.text for r in mem.records[("r1", 1)] if r.HasField("console") for ln in r.console.lines]


def test_a_printed_lone_surrogate_is_kept_as_a_replacement_character(monkeypatch, caplog):
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    monkeypatch.setattr(_run, "_current", run)
    out = io.StringIO()
    tee = _run.ConsoleTee(out, pb.STDOUT)
    run.log({"loss": 1.0})
    print("before", file=tee)
    print("found", "caf\udce9.txt", "and \ud800", file=tee)  # os.listdir() of a Latin-1 name, a stray half pair
    print("after", file=tee)
    run.log({"loss": 2.0, "acc": 0.5})
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        drain(run)
    assert console_texts(mem) == ["before", "found caf\ufffd.txt and \ufffd", "after"]
    assert mem.rows("r1") == [(0, {"loss": 1.0}), (1, {"loss": 2.0, "acc": 0.5})]
    assert any("U+FFFD" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ((2**64, (4.0,)), "Value out of range"),  # a step past uint64, had it slipped past log()
        ((3, (np.timedelta64(5, "s"),)), "float()"),  # a value float() refuses
    ],
    ids=["step", "value"],
)
def test_an_unencodable_row_costs_only_itself_and_the_run_finishes(caplog, bad, why):
    """Items queued around the bad one, with keys first defined in the same batch, all arrive."""
    mem = MemoryDaemon()
    settings = Settings(flush_interval_s=0.001, batch_max_values=64, autostart=False, hooks=False, finish_timeout_s=5)
    run = make_run(MemoryConnector(mem), settings)
    run.log({"a": 1.0}, step=0)
    run.log({"b": 2.0}, step=1)  # b's KeyDef travels in the batch the bad row is in
    step, values = bad
    run._queue.append((step, run._schema_ids[(1,)], values, 0.0))  # as if log() had let it through
    run.log({"b": 3.0}, step=2)
    run._queue.append((_run.CONSOLE, "printed", pb.STDOUT, 0.0))
    run.log({"c": 5.0}, step=4)
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        run.sender.start_thread(daemon=True)
        run._finish("FINISHED", None)
    assert mem.rows("r1") == [(0, {"a": 1.0}), (1, {"b": 2.0}), (2, {"b": 3.0}), (4, {"c": 5.0})]
    assert console_texts(mem) == ["printed"]
    assert mem.finished[("r1", 1)].state == pb.FINISHED
    assert run.sender.dropped == 1
    (warning,) = [r.getMessage() for r in caplog.records if "cannot be encoded" in r.getMessage()]
    assert f"the row at step {step}" in warning and why in warning


@pytest.mark.parametrize("step", [MAX_STEP + 1, 2**64])
@pytest.mark.parametrize("keys", ["seen", "new"])
def test_a_step_past_int64_leaves_the_row_out_with_a_warning(step, keys, caplog):
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    run.log({"a": 1.0}, step=5)
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        run.log({"a" if keys == "seen" else "new": 2.0}, step=step)
    assert any("2**63-1" in r.getMessage() for r in caplog.records)
    run.log({"a": 3.0}, step=MAX_STEP)
    drain(run)
    assert mem.rows("r1") == [(5, {"a": 1.0}), (MAX_STEP, {"a": 3.0})]


def test_no_automatic_step_past_int64(caplog):
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    run.log({"a": 1.0}, step=MAX_STEP)
    with caplog.at_level(logging.WARNING, logger="swanlab_client"):
        run.log({"a": 2.0})
    assert any("2**63-1" in r.getMessage() for r in caplog.records)
    drain(run)
    assert mem.rows("r1") == [(MAX_STEP, {"a": 1.0})]


@pytest.mark.parametrize("field", ["experiment_name", "description", "tags", "workspace", "group", "job_type"])
def test_init_names_the_field_that_utf8_cannot_encode(tmp_path, field):
    """A surrogate-escaped name (from os.listdir() or sys.argv) is refused at init(), naming the field."""
    value: object = ["ok", "caf\udce9"] if field == "tags" else "caf\udce9"
    settings = Settings(
        socket=tmp_path / "none.sock", data_root=tmp_path, autostart=False, fallback=False, hooks=False, console=False
    )
    with pytest.raises(InvalidNameError) as info:
        run = swanlab_client.init(project="p", mode="offline", reinit=True, settings=settings, **{field: value})
        run.finish()
    assert (field if field != "tags" else "tags[1]") in str(info.value)
    assert "'\\udce9' at index 3" in str(info.value)


def test_the_console_tee_does_not_hide_a_print_the_real_stream_refuses(monkeypatch):
    """A strict UTF-8 stdout raises for a surrogate: the script sees that error, as without us."""
    run = make_run(MemoryConnector(MemoryDaemon()))
    monkeypatch.setattr(_run, "_current", run)
    strict = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    tee = _run.ConsoleTee(strict, pb.STDOUT)
    with pytest.raises(UnicodeEncodeError):
        print("caf\udce9", file=tee)
    assert not run._queue

"""Property: every row log() accepts reaches the daemon exactly once, in order; nothing it left out does.

Hypothesis drives a run against the in-memory daemon (memtransport.py) with hostile keys,
values (NaN, inf, ints past float64, bools, NumPy scalars and 0-d arrays, numeric strings,
things that are not numbers), steps (negative, past int64, bools, floats) and printed lines
(with lone surrogates), with the sender stepped at random points. A model of the official SDK's
rules (written here, apart from _validate.py) keeps what log() stores; the daemon must hold
exactly that, log() must never raise, and the sender must never drop an item it cannot encode.
"""

from __future__ import annotations

import io
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from memtransport import MemoryConnector, MemoryDaemon, drain, make_run

from swanlab_client import _run
from swanlab_client._validate import MAX_STEP
from swanlabd_pb import records_pb2 as pb

GOOD_KEYS = st.sampled_from(["loss", "acc", "a/b", "x y", "m.1", "train/lr"])
BAD_KEYS = st.one_of(
    st.sampled_from(["é", "caf\udce9", "", " ", "/a", "a//b", "__swanlab__x", "k" * 256]),
    st.text(alphabet=st.sampled_from("ab/._- \t\udce9"), min_size=1, max_size=4),
)
KEYS = st.one_of(GOOD_KEYS, GOOD_KEYS, GOOD_KEYS, GOOD_KEYS, BAD_KEYS)
NUMBERS = st.one_of(
    st.floats(),  # NaN and +-inf included
    st.integers(),
    st.sampled_from([2**64, -(2**1100), 2**1100, MAX_STEP]),
    st.booleans(),
    st.floats(width=32).map(np.float32),
    st.floats(width=16).map(np.float16),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(0, 2**64 - 1).map(np.uint64),
    st.booleans().map(np.bool_),
    st.floats().map(np.array),  # a 0-d array
)
NOT_NUMBERS = st.sampled_from(["1", None, [1], 1j, np.timedelta64(5, "s"), np.datetime64(1, "s"), np.zeros(2)])
VALUES = st.one_of(NUMBERS, NUMBERS, NUMBERS, NUMBERS, NOT_NUMBERS)
ROWS = st.dictionaries(
    KEYS, st.one_of(VALUES, VALUES, st.dictionaries(KEYS, VALUES, max_size=2)), min_size=1, max_size=3
)
STEPS = st.one_of(
    st.none(),
    st.none(),
    st.integers(-2, 50),
    st.sampled_from([MAX_STEP - 1, MAX_STEP, MAX_STEP + 1, 2**64, True, 1.5, "3"]),
    st.integers(0, 2**64 - 1).map(np.uint64),
)
LINES = st.lists(st.sampled_from(["a", " ", "é", "😀", "\udce9", "\ud800", "\udfff", "\x00", "\t"]), max_size=6).map(
    "".join
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("log"), ROWS, STEPS),
        st.tuples(st.just("print"), LINES, st.sampled_from([pb.STDOUT, pb.STDERR])),
        st.tuples(st.just("send"), st.none(), st.none()),
    ),
    max_size=25,
)


def model_key(raw: str) -> str | None:
    """The official SDK 0.10.3's key: stripped, cut at 512; None where it drops the key."""
    key = raw.strip(" \t\n\r./")[:512]
    if not key or any(ord(c) < 32 or ord(c) == 127 for c in key) or key.startswith("__swanlab__"):
        return None
    if any(0xD800 <= ord(c) <= 0xDFFF for c in key):
        return None  # no record can hold a lone surrogate
    return key


def flat(data: dict, prefix: str = "", out: dict[str, object] | None = None) -> dict[str, object]:
    out = {} if out is None else out
    for k, v in data.items():
        if isinstance(v, dict):
            flat(v, prefix + k + "/", out)
        elif (key := model_key(prefix + k)) is not None:
            out.pop(key, None)
            out[key] = v
    return out


def stored(value: object) -> float | None:
    """The float64 the daemon must hold for a value, None where the official SDK drops it."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return math.nan if math.isinf(number) else number
    if isinstance(value, (np.timedelta64, np.datetime64)) or value is None or isinstance(value, (list, complex)):
        return None
    if isinstance(value, np.ndarray):
        return float(value.item()) if value.size == 1 else None
    try:
        return float(value)  # type: ignore[arg-type]  # a real number
    except OverflowError:
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]  # only an int overflows


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(x == b[k] or (math.isnan(x) and math.isnan(b[k])) for k, x in a.items())


def refused_by_step(step: object) -> bool:
    """A step that leaves the row out: not an int (NumPy integers and bools are), or outside int64."""
    if step is None:
        return False
    if not isinstance(step, (int, np.integer)):
        return True
    return not 0 <= int(step) <= MAX_STEP


@settings(max_examples=250, deadline=None)
@given(OPS)
def test_what_log_accepts_arrives_exactly_once_and_nothing_else(ops):
    mem = MemoryDaemon()
    run = make_run(MemoryConnector(mem))
    tee = _run.ConsoleTee(io.StringIO(), pb.STDOUT)
    accepted: list[tuple[int, dict[str, float]]] = []
    lines: list[str] = []
    next_step = 0
    previous, _run._current = _run._current, run
    try:
        for op, arg, extra in ops:
            if op == "send":
                drain(run)
            elif op == "print":
                tee.stream = extra
                tee.write(arg + "\n")
                lines.append("".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in arg))
            else:
                run.log(arg, step=extra)  # never raises for what it is given
                if refused_by_step(extra) or extra is None and next_step > MAX_STEP:
                    continue
                values = {k: stored(v) for k, v in flat(arg).items()}
                row = {k: v for k, v in values.items() if v is not None}
                step = next_step if extra is None else int(extra)
                if row:
                    accepted.append((step, row))
                if arg:  # as in the official SDK, a dict takes its step even if nothing of it is kept; {} none
                    next_step = max(next_step, step + 1)
        drain(run)
    finally:
        _run._current = previous
    rows = mem.rows("r1")
    assert [s for s, _ in rows] == [s for s, _ in accepted]
    assert all(same(got, want) for (_, got), (_, want) in zip(rows, accepted, strict=True)), (rows, accepted)
    printed = [ln.text for r in mem.records[("r1", 1)] if r.HasField("console") for ln in r.console.lines]
    assert printed == lines
    assert run.sender.dropped == 0

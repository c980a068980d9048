"""A model of the client API, checked against a real daemon's backup file (hypothesis, stateful).

Hypothesis drives random sequences of init, log, print, config changes, fork (a child that logs)
and finish through `swanlab_client` in this process, talking to a real `swanlabd`. The model
keeps what each call accepted; after every finish() the run's backup must hold exactly that:
every accepted row once, in order, under writer 1 (each forked child's rows once, under one
writer of its own), nothing a call refused, the printed lines, the last config and the
RunStart and Finish records.

Inputs are hostile but valid (keys at the edge of the rules, NaN, inf, ints past float64,
bools, NumPy scalars and 0-d arrays, steps automatic, repeated, going backwards and up to
2**63-1, text with control characters, lone surrogates and 10,000 characters), plus a share of
invalid ones that must be refused whole with a clear error.

Cost: SWANLABD_TEST_EXAMPLES sequences (default 5) of at most SWANLABD_TEST_STEPS calls
(default 30), a few seconds each. Run more locally, e.g.
`SWANLABD_TEST_EXAMPLES=200 pytest tests/model`.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

import swanlab_client
from helpers.backupview import read_view
from helpers.daemon import DaemonProcess
from helpers.waiting import wait_for
from swanlab_client import _run
from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc

EXAMPLES = int(os.environ.get("SWANLABD_TEST_EXAMPLES", "5"))
STEPS = int(os.environ.get("SWANLABD_TEST_STEPS", "30"))
MAX_STEP = 2**63 - 1
MAX_CONSOLE_LINE = 8192  # swanlab_client._run.MAX_CONSOLE_LINE: characters kept of one printed line
CHILD_TIMEOUT_S = 60.0

# -- inputs ---------------------------------------------------------------------------------------

_KEY_CHARS = "abcXYZ019_-. "
GOOD_KEYS = st.one_of(
    st.sampled_from(["loss", "a", " a", "a ", "a  b", ".", "..", "-", "_", "0", "__swanlab_", "x" * 255, "m.1"]),
    st.text(alphabet=_KEY_CHARS, min_size=1, max_size=12).filter(lambda k: k.strip() and k.strip(" ./") != "wild"),
)
# Keys the official SDK leaves out (empty once stripped of spaces, '.' and '/', control
# characters, the system prefix) and one UTF-8 cannot encode; log() drops them, warning once.
BAD_KEYS = st.sampled_from(["", " ", "./", "a\x00", "__swanlab__x", "caf\udce9"])
GOOD_NUMBERS = st.one_of(
    st.floats(),  # NaN, +-inf, subnormals, -0.0
    st.integers(),
    st.sampled_from([2**53 + 1, 2**64, 2**1100, -(2**1100), MAX_STEP]),
    st.booleans(),
    st.floats(width=16).map(np.float16),
    st.floats(width=32).map(np.float32),
    st.floats().map(np.float64),
    st.sampled_from([np.longdouble("1e4000"), np.longdouble(-1.5)]),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(-128, 127).map(np.int8),
    st.integers(0, 2**64 - 1).map(np.uint64),
    st.booleans().map(np.bool_),
    st.floats().map(np.array),  # 0-d arrays
    st.integers(0, 255).map(lambda i: np.array(i, dtype=np.uint8)),
)
# Values the official SDK leaves out (no number in them); log() drops the key, warning once.
BAD_VALUES = st.sampled_from(
    ["abc", None, 1j, np.complex128(1), np.timedelta64(5, "s"), np.datetime64(1, "s"), np.zeros(2), object()]
)


@st.composite
def good_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A row log() must accept: valid keys, some nested one level, no key given twice."""
    flat: dict[str, Any] = {}
    for key in draw(st.lists(GOOD_KEYS, min_size=0, max_size=4, unique=True)):
        flat[key] = draw(GOOD_NUMBERS)
    nest: bool = draw(st.booleans())
    if flat and nest:
        # Nest the first key one level deeper: {"g": {"k": v}} is logged as "g/k".
        key = next(iter(flat))
        group = draw(st.sampled_from(["train", "val", "g h"]))
        if len(f"{group}/{key}") <= 255 and not any(k == group or k.startswith(group + "/") for k in flat):
            value = flat.pop(key)
            return {**flat, group: {key: value}}
    return flat


@st.composite
def bad_rows(draw: st.DrawFn) -> Any:
    """A call with something log() leaves out, as the official SDK does: a bad key or value among
    good ones (the rest of the row is logged), or not a dict (nothing is)."""
    row: dict[Any, Any] = draw(good_rows())
    how = draw(st.sampled_from(["key", "value", "not a dict"]))
    if how == "key":
        row[draw(BAD_KEYS)] = 1.0
    elif how == "value":
        row["wild"] = draw(BAD_VALUES)  # a key no good row has (GOOD_KEYS never clean to it)
    else:
        return draw(st.sampled_from([[("a", 1.0)], "loss", 1.0, None]))
    return row


# Steps that are no int in [0, 2**63) (a bool is one: the official SDK takes True as 1).
BAD_STEPS = st.sampled_from([-1, MAX_STEP + 1, 2**64, 1.5, "3", np.uint64(2**63), np.float64(2.0)])
# Printable text that is hostile to a log line: control characters, emoji, line separators,
# lone surrogates (os.listdir() of a non-UTF-8 name). No "\n" (it ends a line) and no "\r"
# (handled as a progress bar, tested on its own below).
LINE_CHARS = st.one_of(
    st.characters(codec="utf-8", exclude_characters="\n\r"),
    st.sampled_from(["\x00", "\x1b", "\t", "\u2028", "\x85", "😀", "\udce9", "\ud800"]),
)
LINES = st.one_of(st.text(LINE_CHARS, max_size=40), st.integers(8100, 10_000).map(lambda n: "y" * n))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40).filter(lambda t: t.strip())


# -- the model ------------------------------------------------------------------------------------


def stored(value: Any) -> float:
    """The float64 the backup must hold for an accepted value (ints past float64 become +-inf)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def model_key(key: Any) -> str | None:
    """The key the official SDK stores (docs/client.md, "What log() accepts"), None if it drops it."""
    text = key if isinstance(key, str) else str(key)
    cleaned = text.strip(" \t\n\r./")[:512]
    if not cleaned or any(ord(c) < 32 or ord(c) == 127 for c in cleaned) or cleaned.startswith("__swanlab__"):
        return None
    if any(0xD800 <= ord(c) <= 0xDFFF for c in cleaned):
        return None
    return cleaned


def flat(data: dict[Any, Any], prefix: str = "") -> dict[str, float]:
    """The row log() stores: nested keys joined with '/', keys cleaned, a key given twice (also
    once cleaned) keeps its later value in the later place, bad keys and values left out."""
    out: dict[str, float] = {}
    for key, value in data.items():
        name = prefix + (key if isinstance(key, str) else str(key))
        if isinstance(value, dict):
            for k, v in flat(value, name + "/").items():
                out.pop(k, None)
                out[k] = v
            continue
        cleaned = model_key(name)
        if cleaned is None or cleaned == "wild":
            continue  # a bad key, or the bad value bad_rows puts under "wild"
        out.pop(cleaned, None)
        out[cleaned] = stored(value)
    return out


def config_as_stored(value: Any) -> Any:
    """A config value as the official SDK stores it: NaN and +-inf as the strings "NaN" and "Inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Inf"
    if isinstance(value, dict):
        return {k: config_as_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [config_as_stored(v) for v in value]
    return value


def same_rows(got: list[tuple[int, dict[str, float]]], want: list[tuple[int, dict[str, float]]]) -> bool:
    """Equal row by row, with NaN equal to NaN (json.dumps writes both as NaN)."""
    return json.dumps(got) == json.dumps(want)


def terminal_line(text: str) -> str:
    """What the console log keeps of one printed line: lone surrogates as U+FFFD, cut to 8192."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text[:MAX_CONSOLE_LINE])


@dataclass
class ModelRun:
    """What the calls on one run accepted, in order."""

    run: swanlab_client.Run
    name: str
    tags: list[str]
    config: dict[str, Any]
    rows: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    lines: list[tuple[int, str]] = field(default_factory=list)
    children: list[list[tuple[int, dict[str, float]]]] = field(default_factory=list)
    last_step: int = -1  # the last step logged
    high_step: int = -1  # the highest step logged; the next automatic step is one more

    @property
    def next_step(self) -> int:
        return self.high_step + 1


class ClientMachine(RuleBasedStateMachine):
    """One process using the client: at most one run at a time, as a training script does."""

    daemon: DaemonProcess  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        self.current: ModelRun | None = None
        self.tee = _run.ConsoleTee(io.StringIO(), pb.STDOUT)
        self.settings = swanlab_client.Settings(
            socket=self.daemon.socket, data_root=self.daemon.home, console=False, hooks=False, autostart=False
        )

    # -- runs --

    @precondition(lambda self: self.current is None)
    @rule(name=TEXT, tags=st.lists(TEXT, max_size=3), config=st.dictionaries(st.text(max_size=8), JSON, max_size=3))
    def init(self, name: str, tags: list[str], config: dict[str, Any]) -> None:
        # reinit: a run another test of this process left active must not stand in for ours.
        run = swanlab_client.init(
            project="model",
            experiment_name=name,
            tags=tags,
            config=config,
            mode="offline",
            settings=self.settings,
            reinit=True,
        )
        self.current = ModelRun(run=run, name=name, tags=tags, config=dict(config))

    @precondition(lambda self: self.current is not None)
    @rule(state=st.sampled_from(["success", "crashed", "aborted"]))
    def finish(self, state: str) -> None:
        self._finish_and_check(state)

    def teardown(self) -> None:
        if self.current is not None:
            self._finish_and_check("success")

    # -- log --

    @precondition(lambda self: self.current is not None)
    @rule(
        data=good_rows(),
        step=st.one_of(
            st.none(),
            st.just("repeat"),
            st.just("backwards"),
            st.integers(0, 3).map(lambda n: ("ahead", n)),
            st.sampled_from([MAX_STEP - 1, MAX_STEP]),
            st.integers(0, 1000).map(np.int64),
        ),
    )
    def log(self, data: dict[str, Any], step: Any) -> None:
        m = self.current
        assert m is not None
        if step == "repeat":
            step = max(m.last_step, 0)
        elif step == "backwards":
            step = max(m.last_step - 5, 0)
        elif isinstance(step, tuple):
            step = m.next_step + step[1]
        if (m.next_step if step is None else int(step)) > MAX_STEP:
            # Past the last step (automatic after 2**63-1, or ahead of it): left out with a warning.
            swanlab_client.log(data, step=step)
            return
        swanlab_client.log(data, step=step)
        self._logged(data, step)

    def _logged(self, data: dict[Any, Any], step: Any) -> None:
        m = self.current
        assert m is not None
        row = flat(data)
        if step is None and m.next_step > MAX_STEP:
            return  # past the last step: left out with a warning
        if data:  # a dict takes its step even if nothing of it is kept (the official SDK's rule); {} none
            m.last_step = m.next_step if step is None else int(step)
            m.high_step = max(m.high_step, m.last_step)
        if row:
            m.rows.append((m.last_step, row))

    @precondition(lambda self: self.current is not None)
    @rule(data=bad_rows(), step=st.one_of(st.none(), BAD_STEPS))
    def log_bad_row(self, data: Any, step: Any) -> None:
        """A bad key or value: left out, the rest of the row logged; not a dict or a bad step: nothing."""
        swanlab_client.log(data, step=step)  # never raises into the training loop
        if isinstance(data, dict) and step is None:
            self._logged(data, None)

    @precondition(lambda self: self.current is not None)
    @rule(data=good_rows(), step=BAD_STEPS)
    def log_bad_step(self, data: dict[str, Any], step: Any) -> None:
        """A good row at a step that is no int in [0, 2**63): left out whole, with a warning."""
        swanlab_client.log(data, step=step)  # never raises into the training loop

    # -- console and config --

    @precondition(lambda self: self.current is not None)
    @rule(
        text=LINES,
        stream=st.sampled_from([pb.STDOUT, pb.STDERR]),
        split=st.booleans(),
        end=st.sampled_from(["\n", "\r\n"]),
    )
    def print_line(self, text: str, stream: int, split: bool, end: str) -> None:
        self.tee.stream = stream
        if split:
            self.tee.write(text)  # as print() writes it: the text, then `end`
            self.tee.write(end)
        else:
            self.tee.write(text + end)
        assert self.current is not None
        self.current.lines.append((stream, terminal_line(text)))

    @precondition(lambda self: self.current is not None)
    @rule(frames=st.lists(st.text(alphabet="0123456789% |#", max_size=20), min_size=1, max_size=4))
    def progress_bar(self, frames: list[str]) -> None:
        """A progress bar redraws its line with \\r; the console log keeps what the terminal shows last."""
        self.tee.stream = pb.STDERR
        self.tee.write("".join("\r" + f for f in frames) + "\n")
        assert self.current is not None
        # An empty frame ("\r" then nothing) redraws nothing: the terminal shows the last frame with text.
        self.current.lines.append((pb.STDERR, next((f for f in reversed(frames) if f), "")))

    @precondition(lambda self: self.current is not None)
    @rule(key=st.text(max_size=8), value=JSON)
    def config_set(self, key: str, value: Any) -> None:
        assert self.current is not None
        swanlab_client.config[key] = value
        self.current.config[key] = value

    @precondition(lambda self: self.current is not None and bool(self.current.config))
    @rule(data=st.data())
    def config_delete(self, data: st.DataObject) -> None:
        assert self.current is not None
        key = data.draw(st.sampled_from(sorted(self.current.config)))
        del swanlab_client.config[key]
        del self.current.config[key]

    @precondition(lambda self: self.current is not None)
    @rule(value=st.floats(allow_nan=True, allow_infinity=True))
    def config_attribute(self, value: float) -> None:
        assert self.current is not None
        swanlab_client.config.max_grad_norm = value
        self.current.config["max_grad_norm"] = value

    # -- fork --

    @precondition(lambda self: self.current is not None and len(self.current.children) < 2)
    @rule(rows=st.lists(st.floats(allow_nan=False), min_size=1, max_size=20))
    def fork_child_logs(self, rows: list[float]) -> None:
        """A forked child logs rows of its own, finishes its writer and exits; the parent goes on."""
        m = self.current
        assert m is not None
        pid = os.fork()
        if pid == 0:  # the child: nothing of pytest or hypothesis may run here
            code = 1
            try:
                for step, value in enumerate(rows):
                    swanlab_client.log({"child/value": value}, step=step)
                swanlab_client.finish()
                code = 0
            finally:
                os._exit(code)
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise AssertionError(f"forked child did not finish within {CHILD_TIMEOUT_S}s")
            time.sleep(0.01)
        assert os.waitstatus_to_exitcode(done[1]) == 0, "the forked child failed"
        m.children.append([(step, {"child/value": value}) for step, value in enumerate(rows)])

    @invariant()
    def nothing_dropped(self) -> None:
        m = self.current
        if m is not None and m.run.sender is not None:
            assert m.run.sender.dropped == 0, "the sender dropped an item log() had accepted"

    # -- the check --

    def _finish_and_check(self, state: str) -> None:
        m = self.current
        assert m is not None
        self.current = None
        swanlab_client.finish(state)
        run_dir = m.run.run_dir
        assert run_dir is not None
        view = read_view(run_dir)
        assert view.lost == []
        assert same_rows(view.rows.get(1, []), m.rows), (view.rows.get(1), m.rows)
        assert view.lines.get(1, []) == m.lines
        assert json.dumps(view.config) == json.dumps(config_as_stored(m.config))
        children = [rows for writer, rows in sorted(view.rows.items()) if writer != 1]
        assert sorted(map(json.dumps, children)) == sorted(map(json.dumps, m.children))
        for writer, seqs in view.client_seqs.items():
            assert seqs == list(range(1, len(seqs) + 1)), f"writer {writer}: client_seqs {seqs[:20]}"
        assert view.run_start is not None
        assert (view.run_start.experiment_name, list(view.run_start.tags)) == (m.name, m.tags)
        want = {"success": pb.FINISHED, "crashed": pb.CRASHED, "aborted": pb.ABORTED}[state]
        assert view.finish is not None and view.finish.state == want and view.finishes == 1
        stub = self.daemon.stub()

        def listed_state() -> int | None:
            for run in stub.ListRuns(svc.ListRunsRequest(), timeout=10).runs:
                if run.run_id == m.run.run_id and run.state != pb.RUNNING:
                    return run.state
            return None

        assert wait_for(listed_state, 10, f"run {m.run.run_id} closed in ListRuns") == want


def test_the_backup_holds_exactly_what_the_client_accepted(daemon: DaemonProcess) -> None:
    ClientMachine.daemon = daemon
    run_state_machine_as_test(
        ClientMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

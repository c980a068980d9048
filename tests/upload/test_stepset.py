"""StepSet answers as a plain set would, whatever order steps come in, and stays small for rising ones."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from swanlabd.upload.stepset import StepSet

steps = st.integers(min_value=0, max_value=2**63 - 1)
small = st.integers(min_value=0, max_value=300)
# Ways steps arrive: one at a time (any order), or a rising slice of a record (evenly spaced or not).
adds = st.lists(
    st.one_of(
        st.tuples(st.just("one"), st.one_of(small, steps)),
        st.tuples(st.just("rising"), st.integers(0, 200), st.integers(1, 7), st.integers(1, 30)),
        st.tuples(st.just("irregular"), st.lists(small, min_size=1, max_size=20)),
    ),
    max_size=40,
)


def apply(stepset: StepSet, truth: set[int], op: tuple) -> None:
    if op[0] == "one":
        stepset.add(op[1])
        truth.add(op[1])
    elif op[0] == "rising":
        _, gap, stride, count = op
        first = stepset.top + gap + 1
        run = [s for s in range(first, first + stride * count, stride) if s < 2**63]
        stepset.add_rising(run)
        truth.update(run)
    else:
        rising = sorted(set(op[1]))
        stepset.add_rising(rising)
        truth.update(rising)


def probes(truth: set[int]) -> set[int]:
    near = {s + d for s in truth for d in (-2, -1, 0, 1, 2)}
    return {p for p in near if p >= 0} | set(range(0, 40))


@settings(max_examples=300, deadline=None)
@given(adds)
def test_membership_is_a_sets(ops: list[tuple]) -> None:
    stepset, truth = StepSet(), set()
    for op in ops:
        apply(stepset, truth, op)
        assert stepset.top == max(truth, default=-1)
    assert len(stepset) == len(truth)
    for p in probes(truth):
        assert (p in stepset) == (p in truth), p


@settings(max_examples=200, deadline=None)
@given(adds, adds)
def test_update_adds_every_step_of_the_other(first: list[tuple], second: list[tuple]) -> None:
    a, b, truth_a, truth_b = StepSet(), StepSet(), set(), set()
    for op in first:
        apply(a, truth_a, op)
    for op in second:
        apply(b, truth_b, op)
    a.update(b)
    truth = truth_a | truth_b
    assert len(a) == len(truth)
    for p in probes(truth):
        assert (p in a) == (p in truth), p


def test_a_training_loops_steps_take_a_run_each_way_they_are_logged() -> None:
    every, sparse = StepSet(), StepSet()
    for start in range(0, 1_000_000, 1000):
        every.add_rising(range(start, start + 1000))  # a record's rows
        sparse.add(start)  # an evaluation every 1000 steps, one point at a time
    assert len(every._starts) == 1 and len(sparse._starts) == 1
    assert 999_999 in every and 1_000_000 not in every
    assert 5000 in sparse and 5001 not in sparse

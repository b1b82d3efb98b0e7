"""Result.call_seconds, the time inside an implementation's own calls, and
the summary line that splits a run's test time between the code under test
and the harness (summary.time_split)."""

from __future__ import annotations

import time

import numpy as np

from harness import verdicts
from harness.conformance import explore, fixed
from harness.records import Impl, Result
from harness.summary import time_split

PAUSE = 0.02  # seconds each call of the slow twin sleeps


def _stable(c):
    x = np.asarray(c.logits, dtype=np.float64)
    e = np.exp(x - x.max(axis=c.axis, keepdims=True))
    return (e / e.sum(axis=c.axis, keepdims=True)).astype(c.logits.dtype)


def _slow(c):
    time.sleep(PAUSE)
    return _stable(c)


def test_call_seconds_count_the_implementations_calls_and_only_them():
    fast = explore(Impl("t.fast", "user", "softmax", _stable), "float32", "accuracy", budget="ci", max_examples=4)
    slow = explore(Impl("t.slow", "user", "softmax", _slow), "float32", "accuracy", budget="ci", max_examples=4)
    assert fast.verdict == slow.verdict and verdicts.passes(slow.verdict)
    examples = slow.stats["examples"]
    assert examples >= 4
    # every example calls the implementation at least once, each call sleeping PAUSE
    assert slow.call_seconds >= PAUSE * examples
    assert slow.call_seconds <= slow.duration
    assert fast.call_seconds < PAUSE * examples <= slow.call_seconds


def test_fixed_inputs_record_their_call_seconds_per_result():
    results = fixed(Impl("t.slow", "user", "softmax", _slow), "float32", "special_values")
    assert results
    for r in results:
        assert PAUSE <= r.call_seconds <= r.duration, r.regime


def test_call_seconds_survive_the_round_trip_and_old_lines_read_as_zero():
    r = Result("i", "user", "softmax", "accuracy", "float32", "-", "exact", duration=2.0, call_seconds=1.5)
    assert Result.loads(r.dumps()).call_seconds == 1.5
    old = r.to_json()
    del old["call_seconds"]  # a line written before the field existed
    assert Result.from_json(old).call_seconds == 0.0


def _timed(family: str, duration: float, calls: float, verdict: str = "exact") -> Result:
    return Result(f"{family}.f", family, "softmax", "accuracy", "float32", "-", verdict,
                  duration=duration, call_seconds=calls)


def test_time_split_line():
    line = time_split([_timed("jax", 6.0, 3.0), _timed("numpy", 3.0, 1.0), _timed("seed", 1.0, 0.0)])
    assert line == ("time: 10 s of tests (summed over workers), 4 s (40%) inside the implementations' own calls, "
                    "6 s in the harness (drawing, oracle, judging); longest calls: jax 3 s, numpy 1 s")
    assert time_split([_timed("seed", 2.0, 0.0)]) == (
        "time: 2 s of tests (summed over workers), 0 s (0%) inside the implementations' own calls, "
        "2 s in the harness (drawing, oracle, judging)")
    assert time_split([]) is None
    assert time_split([_timed("jax", 0.0, 0.0)]) is None


def test_the_parts_add_up_to_the_total_as_printed():
    # 2.6 s of tests, 1.4 s of calls: each rounded apart, 3 s would split into 1 s and round(1.2) = 1 s
    line = time_split([_timed("a", 1.3, 0.7), _timed("b", 1.3, 0.7)])
    assert line.startswith("time: 3 s of tests (summed over workers), 1 s (33%) inside")
    assert ", 2 s in the harness" in line


def test_a_crashed_or_hung_tests_time_is_said_apart_not_counted_as_harness():
    hang = _timed("torch", 900.0, 0.0, verdict="timeout")
    crash = _timed("numba", 5.0, 0.0, verdict="crash")
    line = time_split([_timed("jax", 10.0, 8.0), hang, crash])
    assert line == ("time: 10 s of tests (summed over workers), 8 s (80%) inside the implementations' own calls, "
                    "2 s in the harness (drawing, oracle, judging); 905 s in 2 crashed or timed-out tests, "
                    "not split; longest calls: jax 8 s")
    assert time_split([hang]).startswith("time: 0 s of tests (summed over workers), 0 s inside")

"""One typed result path: a failure stores the arrays its property graded
(never a second call's), and every reader goes through Result.from_json."""

import itertools
import json
import re

import numpy as np
import pytest

from harness.arrays import decode_array
from harness.conformance import explore
from harness.records import Impl, Result, ResultError


def _drifting_softmax():
    """Correct bits times a factor that changes on every call: each output is
    out of bound, and no two calls agree."""
    calls = itertools.count(1)

    def fn(c):
        x = c.logits.astype(np.float64)
        e = np.exp(x - np.max(x, axis=c.axis, keepdims=True))
        return (e / e.sum(axis=c.axis, keepdims=True) * (1 + next(calls) * 1e-3)).astype(c.logits.dtype)

    return Impl("test.drifting", "test", "softmax", fn)


def test_a_failure_stores_the_output_it_graded():
    res = explore(_drifting_softmax(), "float64", "accuracy", budget="dev", seed=0, max_examples=4)
    assert res.verdict == "out-of-bound" and res.output is not None and res.worst_index is not None
    got = float(re.search(r"got (\S+),", res.message).group(1))
    stored = decode_array(res.output)[tuple(res.worst_index)]
    assert stored == got  # a second call would return other bits (test_the_drift_is_real)


def test_a_metamorphic_failure_stores_the_output_it_graded():
    """sum_to_one grades through judging.checked: the registry keeps that call's arrays."""
    res = explore(_drifting_softmax(), "float64", "sum_to_one", budget="dev", seed=0, max_examples=4)
    assert res.verdict == "out-of-bound" and res.output is not None and res.case is not None
    k, total = re.search(r"slice (\d+) sums to (\S+) ", res.message).groups()
    out = decode_array(res.output)
    axis = res.case.get("axis", -1)
    sums = np.moveaxis(out, axis, -1).reshape(-1, out.shape[axis]).sum(axis=1)
    assert sums[int(k)] == float(total)


def test_the_drift_is_real():
    impl = _drifting_softmax()
    from harness.records import Case

    c = Case(np.array([0.0, 1.0, 2.0]), -1)
    assert impl.fn(c).tobytes() != impl.fn(c).tobytes()


def test_one_reader_checks_every_field_by_its_type():
    good = Result("i", "f", "softmax", "accuracy", "float32", "-", "exact", max_ulp=0.5)
    assert Result.loads(good.dumps()) == good
    d = json.loads(good.dumps())
    for field, value, says in (("max_ulp", "0.5", "field 'max_ulp' has type str"),
                               ("duration", True, "field 'duration' has type bool"),
                               ("verdict", "fine", "unknown verdict 'fine'"),
                               ("schema", 0, "schema version 0"),
                               ("env", [], "field 'env' has type list")):
        with pytest.raises(ResultError, match=re.escape(says)):
            Result.from_json({**d, field: value})
    with pytest.raises(ResultError, match="missing field"):
        Result.from_json({k: v for k, v in d.items() if k != "impl"})
    with pytest.raises(ResultError, match="not valid JSON"):
        Result.loads("{")
    assert Result.from_json({**d, "from_a_newer_version": 1}) == good  # unknown fields are left out

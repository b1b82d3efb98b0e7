"""Results are written as strict JSON lines: nothing computed may be lost to an inf."""
import json

import numpy as np

from harness import registry
from harness.evaluate import accuracy, invoke
from harness.records import Case, Result


def test_non_finite_floats_in_a_result_become_null():
    r = Result("x", "numpy", "softmax", "accuracy", "float64", "ordinary", "good",
               max_ulp=float("inf"), stats={"points": [[1.0, 2.0, float("inf")]], "s": [np.float64("nan")]})
    d = json.loads(r.dumps())
    assert d["max_ulp"] is None
    assert d["stats"] == {"points": [[1.0, 2.0, None]], "s": [None]}


def test_a_spread_of_twice_max_finite_still_writes_its_result():
    # The budget's spread term overflows to inf here; the plot point keeps its error.
    f = np.finfo(np.float64)
    case = Case(np.array([f.max, -f.max, 0.0, 1.0]))
    impl = registry.get("numpy.stable_log_softmax")
    fin = accuracy(impl, case, invoke(impl, case).output)
    pts = fin.stats["points"]
    assert pts and all(p[2] is None or np.isfinite(p[2]) for p in pts)
    r = Result(impl.id, impl.family, impl.function, "accuracy", "float64", "huge-spread", fin.verdict,
               stats=fin.stats)
    assert json.loads(r.dumps())["stats"]["points"]

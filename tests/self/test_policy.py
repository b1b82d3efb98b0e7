"""The ulp measure on hand-made cases, and the verdict policy's thresholds."""

import numpy as np
import pytest

import oracles
from harness import policy, verdicts
from harness.evaluate import budget_for, expected
from harness.records import Case
from harness.ulp import measure, ulp_of
from oracles import FORMATS

F32 = FORMATS["float32"]


def test_ulp_of_normal_zero_and_subnormal():
    hi = np.array([1.0, 1.5, 0.0, 1e-45, 2.0**-130, 2.0])
    lo = np.array([0.0, 0.0, 0.0, 0.0, 0.0, -1e-30])
    u = ulp_of(hi, lo, F32)
    assert u[0] == 2.0**-23 and u[1] == 2.0**-23
    assert u[2] == F32.min_subnormal and u[3] == F32.min_subnormal and u[4] == F32.min_subnormal
    assert u[5] == 2.0**-23  # exact value just below 2: the binade below


def test_measure_counts_ulps_and_specials():
    ex = oracles.evaluate("softmax", np.array([0.0, -100.0, 0.0], dtype=np.float32))
    got = ex.rounded.copy()
    got[1] = np.nextafter(got[1], np.float32(1), dtype=np.float32)  # one subnormal step up
    m = measure(got, ex, F32)
    assert m.err[0] < 0.5 and 0.5 <= m.err[1] <= 1.5
    got[0] = np.nan
    m = measure(got, ex, F32)
    assert m.special[0] and np.isnan(m.err[0])


def _grade(x, function, err_at, ulps):
    case = Case(np.asarray(x, dtype=np.float32))
    ex = expected(case, function)
    m = measure(ex.rounded, ex, F32)
    b = budget_for(case, function, ex, m)
    err = np.zeros_like(m.err)
    err[err_at] = ulps
    return policy.grade(err, m.special, b)[0]


def test_34_ulp_at_distance_40_is_not_flagged():
    assert _grade([0.0, -40.0], "softmax", 1, 34.0) in ("good", "bounded")


def test_2000_ulp_at_distance_1_is_flagged():
    assert _grade([0.0, -1.0], "softmax", 1, 2000.0) == "out-of-bound"


@pytest.mark.parametrize("ulps,want", [(0.3, "exact"), (0.9, "faithful")])
def test_small_errors_grade_exact_and_faithful(ulps, want):
    assert _grade([0.0, -1.0, 2.0], "softmax", 0, ulps) == want


def test_gate():
    assert verdicts.passes("bounded") and not verdicts.passes("bounded", "good")
    assert not verdicts.passes("out-of-bound") and not verdicts.passes("wrong-special")


def test_an_overflowing_float64_budget_does_not_pass_everything():
    # g constant along the row: the exact VJP is 0, whose float64 ulp is 2**-1074, so
    # an error or budget above ~9e-16 is inf ulps.  s * g (no subtraction) is wrong by ~s.
    from harness import registry
    from harness.evaluate import accuracy

    x = np.array([[0.5, 1.0, 2.0], [3.0, -1.0, 0.25]])
    case = Case(x, upstream=np.full_like(x, 300.0))
    s = np.exp(x - x.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    assert accuracy(registry.get("numpy.softmax_vjp"), case, np.zeros_like(x)).verdict in verdicts.PASSING
    wrong = accuracy(registry.get("numpy.softmax_vjp"), case, s * 300.0)
    assert wrong.verdict == "out-of-bound", wrong.message
    assert "absolute budget" in wrong.message


def test_metamorphic_pairs_fall_back_to_absolute_units_where_ulps_overflow():
    from harness.judging import grade_pair as _grade_pair

    inf = np.array([np.inf, 3.0])
    far = _grade_pair("permutation", inf, np.array([np.inf, 8.0]), np.array([np.inf, 4.0]), "f(Px) vs P f(x)",
                      (np.array([1.0, 0.0]), np.array([1e-14, 0.0]), np.array([1e-15, 0.0])))
    assert far.verdict == "out-of-bound" and "apart (absolute)" in far.message
    near = _grade_pair("permutation", inf, np.array([np.inf, 8.0]), np.array([np.inf, 4.0]), "f(Px) vs P f(x)",
                       (np.array([1e-16, 0.0]), np.array([1e-14, 0.0]), np.array([1e-15, 0.0])))
    assert near.verdict == "good" and near.max_ulp == 3.0


def _soft_ce_accuracy(x: np.ndarray, t: np.ndarray, out: np.ndarray) -> str:
    from harness.evaluate import accuracy
    from harness.records import Impl
    impl = Impl("t.ce", "t", "cross_entropy", lambda c: out)
    return accuracy(impl, Case(x, labels=t), out).verdict


def test_a_nan_cross_entropy_is_accepted_only_where_the_stable_algorithm_overflows():
    # Logits spread past float64's range: x_0 - logsumexp(x) = -2.6e308 is -inf, and 0 * -inf is NaN.
    t = np.array([[0.0, 1.0]])
    past = np.array([[-0.9e308, 1.7e308]])
    assert policy.beyond_range(past, FORMATS["float64"], t).tolist() == [True]
    assert _soft_ce_accuracy(past, t, np.array([np.nan])) == "bounded"
    # The same NaN on a row the algorithm handles (the loss is about 1e308, no intermediate overflows) is a defect.
    inside = np.array([[-0.5e308, 0.5e308]])
    assert policy.beyond_range(inside, FORMATS["float64"], t).tolist() == [False]
    assert _soft_ce_accuracy(inside, t, np.array([np.nan])) == "wrong-special"
    # Index labels form only the label's term: never beyond.
    assert policy.beyond_range(past, FORMATS["float64"], np.array([1])) is None

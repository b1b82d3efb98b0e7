"""Local budgets: the part of an element's error its slice does not share,
for the comparisons within a slice (harness/judging.py: monotonicity,
log_consistency, permutation and shift invariance up to one factor per
slice, the Jacobian's symmetry).  The error analysis is at local_budget;
the full budgets it is part of are in harness/policy.py."""

from __future__ import annotations

import numpy as np

from oracles import Format

from .functions import PROBABILITIES
from .policy import C_EXP, SAFETY, abs_to_ulps, to_ulps


def local_budget(function: str, ad: np.ndarray | None, exact_abs: np.ndarray, fmt: Format,
                 ulp: np.ndarray) -> np.ndarray:
    r"""Per-element budget, in ulps, of the error not common to the slice
    (layouts as in ``budgets`` for row functions; ``ad``: ``gaps`` of the
    input slices, not needed for the Jacobian).

    Within one slice every element of a shifted softmax is divided by the
    same computed S, so the error of S (its terms, sum_j s_j (|d_j| + C_EXP),
    and the summation, u_acc * SUM(n)) scales the whole slice by one factor:
    it cancels wherever elements of one slice are compared, or two outputs up
    to one factor per slice (f(Px) against P f(x), f(x + c) against f(x)).
    What is left per element, relative, in units of u:

        |d_i|      rounding of x_i - m.  A blocked kernel that rounds x_i - m_b
                   and m_b - M instead (m_b its block's max) pays
                   |x_i - m_b| + |m_b - M| = |d_i|, since x_i <= m_b <= M
        2 C_EXP    exp of the element, and a per-block rescale exp(m_b - M)
                   (or a vectorised exp beside a scalar tail, each within C_EXP)
        2          the rescale product and the division (or product with 1/S)

    log_softmax  lsm_i = fl(fl(d_i) - L) shares L and its summation error; per
    element it pays u (|d_i| + |lsm_i|), plus u (C_EXP + 2) where it is formed
    as log(exp(d_i) / S).  Both get SAFETY, as ``budgets`` does.  Rounding to a
    half-precision output at the end is monotone and under one ulp: inside.

    softmax Jacobian, for J_ij against J_ji: both are -s_i s_j from the same
    computed s (one softmax evaluation), at most in another order: the
    product, the subtraction of a one-hot dot product (exact) and one scale,
    3 roundings, so 3 u |J_ij| each side, with SAFETY.
    """
    if function == "softmax_jacobian":
        return to_ulps(SAFETY * 3.0 * exact_abs, fmt, ulp, own=True)
    if ad is None:
        raise ValueError(f"the local budget of {function!r} needs the distances |x_i - max| (gaps)")
    with np.errstate(over="ignore", invalid="ignore"):
        if function in PROBABILITIES:
            rel = np.minimum(ad, 1e300)
            rel += 2 * C_EXP
            rel += 2
            rel *= SAFETY
            return to_ulps(np.multiply(rel, exact_abs), fmt, ulp, own=True)
        if function in ("log_softmax", "sparse_log_softmax"):
            t = ad + exact_abs
            t += C_EXP
            t += 2
            t *= SAFETY * fmt.u
            return abs_to_ulps(t, fmt, ulp, own=True)
    raise ValueError(f"no local budget for function {function!r}")

r"""Sigmoid equivalence: the seed article's claim that a 2-class softmax is
the sigmoid, checked between a framework's own sigmoid and its own softmax
(``Impl.partner`` names the softmax of the same framework, device and mode).

For finite x (elementwise; ±inf and NaN are the special-value classes' job):

1. softmax([0, x])[1] and sigmoid(x) are the same real number, so the two
   outputs may differ by at most the sum of their accuracy budgets;
2. both are judged against the oracle sigmoid (the oracle softmax of [0, x]
   *is* sigmoid(x), so the softmax side is graded in its own budget);
3. softmax([a, b])[1] = sigmoid(b - a), but z = fl(b - a) is rounded once in
   the dtype: |z - (b - a)| <= u |z|, and d sigmoid/dz = s (1 - s), so
   sigmoid(z) may move by s (1 - s) u |z| on top of the two budgets.
"""

from __future__ import annotations

import numpy as np

from oracles import format_of

from .. import verdicts
from ..judging import checked, grade_pair, ulp_distance
from ..records import Case, Finding, Impl
from . import register

NAME = "sigmoid_equivalence"


def _partner(impl: Impl) -> Impl | None:
    from ..errors import UsageError
    from ..registry import get

    if not impl.partner:
        return None
    try:
        return get(impl.partner)
    except UsageError:
        return None


def _two_class(first: np.ndarray, second: np.ndarray, regime: str) -> Case:
    return Case(np.stack([first, second], axis=-1), -1, regime)


@register(NAME, ("sigmoid",))
def sigmoid_equivalence(impl: Impl, case: Case) -> Finding:
    """sigmoid(x) equals the same framework's softmax([0, x])[1], within
    both budgets (and sigmoid(fl(b - a)) equals softmax([a, b])[1])."""

    partner = _partner(impl)
    if partner is None:
        return Finding(NAME, "unsupported", message="no softmax of the same framework to compare with "
                                                    "(Impl.partner is not set or not registered)")
    x = case.logits.reshape(-1)
    x = x[np.isfinite(x.astype(np.float64))]
    if x.size == 0:
        return Finding(NAME, "exact", 0.0, message="no finite logits to compare")
    zeros = np.zeros_like(x)
    pair = _two_class(zeros, x, case.regime + "+two-class")
    reason = partner.unsupported(pair)
    if reason:
        return Finding(NAME, "unsupported", message=f"partner {partner.id}: {reason}")
    sm = checked(partner, pair, f"partner {partner.id} on [0, x]")
    sg = checked(impl, Case(x, -1, case.regime))
    findings = []
    # 1. softmax([0, x])[1] against sigmoid(x).
    d1 = ulp_distance(sm.out[:, 1], sg.out, sg.meas.ulp)
    allowed = sm.budget.bounded[:, 1] + sg.budget.bounded
    good = sm.budget.good[:, 1] + sg.budget.good
    findings.append(grade_pair(NAME, d1, allowed, good, f"{partner.id}([0, x])[1] vs sigmoid(x)"))
    # 2. the softmax side against the oracle sigmoid, in its own budget.
    err = sm.meas.err[:, 1]
    findings.append(grade_pair(NAME, np.where(sm.meas.special[:, 1], np.nan, err), sm.budget.bounded[:, 1],
                                sm.budget.good[:, 1], f"{partner.id}([0, x])[1] vs the oracle sigmoid(x)"))
    # 3. softmax([a, b])[1] against sigmoid(fl(b - a)), with a and b from the case.
    a, b = x, x[::-1].copy()
    with np.errstate(over="ignore", invalid="ignore"):
        z = (b.astype(np.float64) - a.astype(np.float64)).astype(x.dtype)
    ok = np.isfinite(z.astype(np.float64))
    if ok.any():
        a, b, z = a[ok], b[ok], z[ok]
        sab = checked(partner, _two_class(a, b, case.regime + "+two-class"), f"partner {partner.id} on [a, b]")
        sz = checked(impl, Case(z, -1, case.regime), "on z = b - a")
        fmt = format_of(sab.exact.rounded.dtype)
        s = sab.exact.hi[:, 1].astype(np.float64)
        ulp = sab.meas.ulp[:, 1]
        rounding = s * (1 - s) * fmt.u * np.abs(z.astype(np.float64)) / ulp
        d3 = ulp_distance(sab.out[:, 1], sz.out, ulp)
        findings.append(grade_pair(NAME, d3, sab.budget.bounded[:, 1] + sz.budget.bounded + rounding,
                                    sab.budget.good[:, 1] + sz.budget.good + rounding,
                                    f"{partner.id}([a, b])[1] vs sigmoid(fl(b - a))"))


    return max(findings, key=verdicts.severity)

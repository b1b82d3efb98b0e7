"""The structural properties: log-domain consistency, the Jacobian's row
sums and symmetry, exact zeros under a mask, and the special-value classes."""

from __future__ import annotations

import numpy as np

from oracles import format_of

from .. import policy_local, verdicts
from ..judging import checked, signed_errors, spread
from ..records import Case, Finding, Impl
from ..upstream_corpus import FUNCTIONS as CORPUS_FUNCTIONS
from . import register


@register("log_consistency", ("log_softmax", "logsumexp", "cross_entropy"))
def log_consistency(impl: Impl, case: Case) -> Finding:
    """log_softmax: lsm_i - x_i is one number per slice (-logsumexp), within
    each element's local budget beyond the error the slice shares (log S), and
    sum(exp) == 1; logsumexp: max <= lse <= max + log n; cross-entropy >= 0."""
    ch = checked(impl, case)
    if impl.function == "log_softmax":
        f = spread("log_consistency", case, *signed_errors(case, impl.function, ch),
                   "lsm_i - x_i against -logsumexp(x)")
        if f:
            return f
    out = ch.out.astype(np.float64)
    tol_el = ch.budget.bounded * ch.meas.ulp
    ax = case.norm_axis
    with np.errstate(all="ignore"):
        if impl.function in ("log_softmax", "sparse_log_softmax"):
            if impl.function == "sparse_log_softmax":
                return Finding("log_consistency", "exact", message="per-slice sums checked by accuracy")
            p = np.exp(out)
            total = np.sum(p, axis=ax)
            tol = np.sum(p * tol_el * 1.01, axis=ax) + out.shape[ax] * 2.0**-50
            dev = np.abs(total - 1)
            ok = ~np.isfinite(np.sum(ch.exact.rounded.astype(np.float64), axis=ax)) | (dev <= tol)
            what = "sum(exp(log_softmax)) != 1"
        elif impl.function == "logsumexp":
            x = case.logits.astype(np.float64)
            m = np.max(x, axis=ax) if x.size else np.zeros(out.shape)
            n = case.row_length
            lo, hi = m - tol_el, m + np.log(max(n, 1)) + tol_el
            ok = ~np.isfinite(ch.exact.rounded.astype(np.float64)) | ((out >= lo) & (out <= hi))
            dev = np.maximum(lo - out, out - hi)
            what = "logsumexp outside [max, max + log n]"
        else:  # cross_entropy
            ok = ~np.isfinite(out) | (out >= -tol_el)
            dev = -out
            what = "negative cross-entropy"
    ok = np.asarray(ok)
    if ok.all():
        return Finding("log_consistency", "exact", message="consistent")
    k = int(np.argmax(~ok))
    return Finding("log_consistency", "out-of-bound", None, [k], f"{what} at slice {k} (deviation "
                   f"{np.asarray(dev).reshape(-1)[k]:.3g})")


@register("jacobian", ("softmax_jacobian",))
def jacobian_structure(impl: Impl, case: Case) -> Finding:
    """Rows of the softmax Jacobian sum to 0 within the budget, and it is
    symmetric within the local budget: J_ij and J_ji are the same product of
    the same two probabilities, so no error of s may show between them."""
    ch = checked(impl, case)
    J = ch.out.astype(np.float64)
    tol = ch.budget.bounded * ch.meas.ulp
    fin = np.asarray(np.isfinite(J).all(axis=(-1, -2)))
    loc = policy_local.local_budget(impl.function, None, np.abs(ch.exact.hi), format_of(ch.exact.rounded.dtype),
                                    ch.meas.ulp) * ch.meas.ulp
    with np.errstate(invalid="ignore"):
        rows = np.asarray(np.abs(J.sum(axis=-1)))
        rtol = tol.sum(axis=-1) + J.shape[-1] * 2.0**-50 * np.abs(J).sum(axis=-1)
        asym = np.abs(J - np.swapaxes(J, -1, -2))
        stol = loc + np.swapaxes(loc, -1, -2)
    bad_rows = fin[..., None] & (rows > rtol)
    if bad_rows.any():
        k = [int(i) for i in np.unravel_index(int(np.argmax(rows - rtol)), rows.shape)]
        return Finding("jacobian", "out-of-bound", None, k, f"Jacobian row {tuple(k)} sums to "
                       f"{float(J.sum(axis=-1)[tuple(k)])!r}, not 0")
    bad_sym = fin[..., None, None] & (asym > stol)
    if bad_sym.any():
        k = [int(i) for i in np.unravel_index(int(np.argmax(asym - stol)), asym.shape)]
        return Finding("jacobian", "out-of-bound", None, k, f"Jacobian not symmetric at {tuple(k)}")
    return Finding("jacobian", "exact", message="rows sum to 0 and J is symmetric within budget")


@register("masked", ("masked_softmax",))
def masked_zeros(impl: Impl, case: Case) -> Finding:
    """Masked-out positions are exactly zero (unless the slice is NaN by profile)."""
    ch = checked(impl, case)
    if case.mask is None:  # the generator gives every masked_softmax case its mask
        raise ValueError(f"masked property on case {case.id} without a mask")
    out = ch.out.astype(np.float64)
    off = ~case.mask & ~np.isnan(ch.exact.rounded.astype(np.float64))
    wrong = off & (out != 0)
    if wrong.any():
        k = [int(i) for i in np.unravel_index(int(np.argmax(wrong)), wrong.shape)]
        return Finding("masked", "out-of-bound", None, k,
                       f"masked position {tuple(k)} got {float(out[tuple(k)])!r}, not 0")
    return Finding("masked", "exact", message="masked positions are exact zeros")


@register("special_values")
def special_values_prop(impl: Impl, case: Case) -> Finding:
    """The worst verdict over the fixed special-value classes in the case's
    dtype (harness.special_values); the suite runs and records the classes
    one by one (conformance.special_values)."""
    from ..special_values import check_class, classes_for

    worst: Finding | None = None
    for name, values in classes_for(impl).items():
        f, _ = check_class(impl, case.dtype, name, values)
        if worst is None or verdicts.rank(f.verdict) > verdicts.rank(worst.verdict):
            worst = f
    return worst or Finding("special_values", "unsupported", message=f"no special-value class for {impl.function}")


@register("upstream", CORPUS_FUNCTIONS)
def upstream_prop(impl: Impl, case: Case) -> Finding:
    """The worst verdict over the upstream-regression corpus in the case's
    dtype (harness.upstream_corpus); the suite runs and records the cases one
    by one (conformance.upstream)."""
    from ..upstream_corpus import cases_for, check_case

    worst: Finding | None = None
    for c in cases_for(impl, case.dtype):
        f = check_case(impl, c)
        if worst is None or verdicts.rank(f.verdict) > verdicts.rank(worst.verdict):
            worst = f
    return worst or Finding("upstream", "unsupported", message=f"no upstream case for {impl.function} in {case.dtype}")

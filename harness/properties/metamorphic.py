"""The metamorphic properties: f(x + c) = f(x), f(Px) = P f(x), and the
order of the logits kept in the outputs.  Each compares outputs with each
other, against the budgets of the elements involved (harness/judging.py)."""

from __future__ import annotations

import hashlib

import numpy as np

from oracles import format_of

from .. import policy
from ..arrays import slices
from ..functions import ROW_WISE
from ..judging import checked, grade_pair, pair_absolute, pair_spread, signed_errors, spread, ulp_distance
from ..records import Case, Finding, Impl, is_soft
from . import register


def _exact_shift(case: Case) -> float | None:
    """A shift c with x + c exact for every finite x (or None)."""
    x = case.logits.astype(np.float64)
    fin = x[np.isfinite(x)]
    if fin.size == 0:
        return None
    f = format_of(case.logits.dtype)
    with np.errstate(all="ignore"):
        return _shift_from(case, fin, f)


def _shift_from(case: Case, fin: np.ndarray, f) -> float | None:
    # np.spacing grows with |x|: the largest spacing is the largest |x|'s.
    top = np.abs(case.logits[np.isfinite(case.logits)]).max(keepdims=True).astype(case.logits.dtype)
    unit = float(np.max(np.spacing(top).astype(np.float64)))
    # Odd multiples of the unit first: a power-of-two multiple leaves every
    # lower bit as it was, so rounding the logits to any coarser power-of-two
    # grid (fixed point, a narrower float) would round x and x + c alike.
    for c in (-float(np.round(fin.max() / unit) * unit), 65 * unit, -65 * unit, 64 * unit, -64 * unit,
              2.0 ** 10, -(2.0 ** 10)):
        if c == 0 or not np.isfinite(c):
            continue
        # Block by block: most candidates fail in the first block.
        if all(_exact_on(fin[i:i + SHIFT_BLOCK], c, f) for i in range(0, fin.size, SHIFT_BLOCK)):
            return c
    return None


SHIFT_BLOCK = 1 << 16


def _exact_on(fin: np.ndarray, c: float, f) -> bool:
    """Every fin + c is exact and representable in f."""
    y = fin + c
    # TwoSum: the rounding error of fin + c, computed exactly; 0 means exact.
    bb = y - fin
    err = (fin - (y - bb)) + (c - bb)
    return bool((err == 0).all() and (np.abs(y) <= f.max_finite).all() and
                (y.astype(f.dtype).astype(np.float64) == y).all())


@register("shift_invariance", ("softmax", "log_softmax", "masked_softmax", "softmax_jacobian",
                                     "softmax_vjp", "sparse_softmax", "sparse_log_softmax"))
def shift_invariance(impl: Impl, case: Case) -> Finding:
    """softmax(x + c) == softmax(x) with c chosen so x + c is exact."""
    c = _exact_shift(case)
    if c is None:
        return Finding("shift_invariance", "unsupported", message="no exact shift exists for these logits")
    shifted = case.copy()
    shifted.logits = (case.logits.astype(np.float64) + c).astype(case.logits.dtype)
    a = checked(impl, case)
    b = checked(impl, shifted, f"on x + {c!r}")
    f = pair_spread("shift_invariance", impl.function, case, a, shifted, b, lambda v: v, f"f(x) vs f(x + {c!r})")
    if f:
        return f
    d = ulp_distance(a.out, b.out, a.meas.ulp)

    def absolute():
        aa, ab = a.absolute(), b.absolute()
        return pair_absolute(a.out, b.out, policy.Budget(aa.good + ab.good, aa.bounded + ab.bounded))

    with np.errstate(over="ignore"):  # budgets near max finite add up to inf: unbounded, as meant
        return grade_pair("shift_invariance", d, a.budget.bounded + b.budget.bounded,
                           a.budget.good + b.budget.good, f"f(x) vs f(x + {c!r})", absolute)


def _perm(case: Case) -> np.ndarray:
    seed = int(hashlib.sha256(case.id.encode()).hexdigest()[:8], 16)
    n = case.row_length
    p = np.random.default_rng(seed).permutation(n)
    return p if n < 2 or (p != np.arange(n)).any() else p[::-1].copy()


@register("permutation", ("softmax", "log_softmax", "logsumexp", "masked_softmax", "softmax_vjp",
                               "softmax_jacobian", "cross_entropy"))
def permutation(impl: Impl, case: Case) -> Finding:
    """f(P x) == P f(x) along the axis (logsumexp and CE: invariant)."""
    p = _perm(case)
    ax = case.norm_axis
    pc = case.copy()
    take = lambda a: np.take(a, p, axis=ax)  # noqa: E731
    pc.logits = take(case.logits)
    if case.mask is not None:
        pc.mask = take(case.mask)
    if case.upstream is not None:
        pc.upstream = take(case.upstream)
    if case.labels is not None:
        pc.labels = take(case.labels) if is_soft(case.labels) else np.argsort(p)[case.labels]
    a = checked(impl, case)
    b = checked(impl, pc, "on the permuted input")
    f = pair_spread("permutation", impl.function, case, a, pc, b, lambda v: np.take(v, np.argsort(p), axis=ax),
                     "f(Px) vs P f(x)")
    if f:
        return f
    back = b.out
    if impl.function in ROW_WISE:
        back = np.take(b.out, np.argsort(p), axis=ax)
    elif impl.function == "softmax_jacobian":
        inv = np.argsort(p)
        back = b.out[..., inv, :][..., :, inv]
    d = ulp_distance(a.out, back, a.meas.ulp)

    def absolute():
        aa = a.absolute()
        return pair_absolute(a.out, back, policy.Budget(2 * aa.good, 2 * aa.bounded))

    with np.errstate(over="ignore"):  # as in shift_invariance: an overflowing budget is unbounded
        return grade_pair("permutation", d, 2 * a.budget.bounded, 2 * a.budget.good, "f(Px) vs P f(x)", absolute)


@register("monotonicity", ("softmax", "log_softmax"))
def monotonicity(impl: Impl, case: Case) -> Finding:
    """x_i > x_j implies s_i >= s_j, ties give equal outputs; for softmax in
    its quantitative form s_i / s_j = exp(x_i - x_j): beyond the error the
    slice shares (one S), each element within its local budget.  A correct
    implementation breaks order only by its per-element terms (exp's own
    non-monotonicity, C_EXP), never by the summation error of S."""
    ch = checked(impl, case)
    e, t, kept, scale = signed_errors(case, impl.function, ch)
    if impl.function == "softmax":
        f = spread("monotonicity", case, e, t, kept, scale, "s_i / s_j against exp(x_i - x_j)")
        return f or Finding("monotonicity", "exact", message="probabilities in the ratios of exp(x)")
    flat = lambda a: slices(a, case.norm_axis, case.logits.shape)  # noqa: E731
    x, out, T, K, U = flat(case.logits.astype(np.float64)), flat(ch.out.astype(np.float64)), flat(t), flat(kept), \
        flat(scale)
    worst, where = 0.0, None
    for r in range(x.shape[0]):
        if not K[r].all():
            continue
        order = np.argsort(x[r], kind="stable")
        xs, ls, ts = x[r][order], out[r][order], T[r][order]
        # Highest (output - budget) among logits <= x_k, ties included: none may exceed output_k + budget_k.
        with np.errstate(all="ignore"):
            run = np.maximum.accumulate(ls - ts)[np.searchsorted(xs, xs, side="right") - 1]
            excess = np.nan_to_num((run - ls - ts) * U[r][order], nan=-1.0)
        k = int(np.argmax(excess)) if excess.size else 0
        if excess.size and excess[k] > worst:
            worst, where = float(excess[k]), (r, int(order[k]))
    if where is not None:
        return Finding("monotonicity", "out-of-bound", worst, list(where),
                       f"slice {where[0]}: a logit no smaller than another got a smaller output, {worst:.3g} ulp "
                       "beyond the local budgets")
    return Finding("monotonicity", "exact", message="order of logits preserved (ties and argmax included)")

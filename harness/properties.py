"""Properties: each turns one implementation's behaviour on one case into a
graded Finding.  One function per property; ``PROPERTIES`` says which
functions each applies to.

Metamorphic properties (shift, permutation, monotonicity, consistency)
compare outputs with each other; their tolerance is the accuracy budget of
the elements involved, so a correct implementation can never fail them while
an accurate one cannot hide a structural bug behind them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from oracles import format_of

from . import policy
from .evaluate import ROW_FUNCTIONS, invoke
from .evaluate import accuracy as _accuracy
from .evaluate import contract as _contract
from .judging import grade_pair, pair_absolute, pair_spread, run_checked, signed_errors, spread, ulp_distance
from .records import Case, Finding, Impl, is_soft, slices
from .sigmoid_equivalence import sigmoid_equivalence

SOFTMAX_LIKE = ("softmax", "masked_softmax", "sparse_softmax")


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------


def accuracy(impl: Impl, case: Case) -> Finding:
    """Per-element ulp error against the correctly rounded oracle."""
    oc = invoke(impl, case)
    c = _contract(impl, case, oc, mutation=False)  # judged on its private copy; contract reports mutation
    if c.verdict in ("error", "wrong-shape"):
        return Finding("accuracy", c.verdict, message=c.message)
    f = _accuracy(impl, case, oc.output)
    if c.verdict == "wrong-dtype":
        f.message = f"{c.message}; {f.message}"
    return f


def contract(impl: Impl, case: Case) -> Finding:
    """dtype (or declared upcast), shape, input not mutated, deterministic."""
    first = invoke(impl, case)
    f = _contract(impl, case, first)
    if f.verdict != "exact":
        return f
    second = invoke(impl, case)
    if second.output is None or second.output.tobytes() != first.output.tobytes():
        return Finding("contract", "nondeterministic", message="two calls on the same input gave different bits")
    return f


def sum_to_one(impl: Impl, case: Case) -> Finding:
    """Each finite slice sums to 1 within the summed element budgets, and
    every probability lies in [0, 1]."""
    bad, ch = run_checked(impl, case)
    if bad:
        return Finding("sum_to_one", bad.verdict, message=bad.message)
    out = ch.out.astype(np.float64)
    if (out < 0).any() or (out > 1).any():
        k = int(np.argmax((out < 0) | (out > 1)))
        return Finding("sum_to_one", "out-of-bound", None, [k],
                       f"probability {float(out.reshape(-1)[k])!r} outside [0, 1]")
    if impl.function == "sparse_softmax":
        return Finding("sum_to_one", "exact", message="range checked; sums are per sparse slice (see accuracy)")
    ax = case.norm_axis
    tol_el = ch.budget.bounded * ch.meas.ulp
    exp_r = ch.exact.rounded.astype(np.float64)
    fin = np.isfinite(exp_r).all(axis=ax) & np.isfinite(out).all(axis=ax)
    with np.errstate(invalid="ignore"):
        total = np.sum(out, axis=ax)
        want = np.sum(np.abs(ch.exact.hi) > 0, axis=ax) > 0  # 1 unless the slice is all zeros by profile
        dev = np.abs(total - np.where(want, 1.0, 0.0))
        tol = np.sum(tol_el, axis=ax) + out.shape[ax] * 2.0**-52 if out.ndim else tol_el
    dev = np.where(fin, dev, 0.0)
    if dev.size == 0 or (dev <= tol).all():
        return Finding("sum_to_one", "exact" if (dev == 0).all() else "good", float(dev.max(initial=0)),
                       message="slices sum to 1 within budget")
    k = int(np.argmax(dev - tol))
    return Finding("sum_to_one", "out-of-bound", float(dev.reshape(-1)[k]), [k],
                   f"slice {k} sums to {float(total.reshape(-1)[k])!r} (|sum-1| {dev.reshape(-1)[k]:.3g} > "
                   f"{tol.reshape(-1)[k]:.3g})")


def stability(impl: Impl, case: Case) -> Finding:
    """Finite logits give finite outputs, no NaN, and exact zeros only where
    the exact value rounds to zero (or the budget allows it)."""
    bad, ch = run_checked(impl, case)
    if bad:
        return Finding("stability", bad.verdict, message=bad.message)
    out = ch.out.astype(np.float64)
    exp_r = ch.exact.rounded.astype(np.float64)
    nonfinite = ~np.isfinite(out) & np.isfinite(exp_r)
    if ch.budget.beyond is not None:  # an intermediate the stable algorithm forms overflows there too
        nonfinite &= ~ch.budget.beyond
    if nonfinite.any():
        k = int(np.argmax(nonfinite))
        return Finding("stability", "wrong-special", None, [k],
                       f"got {float(out.reshape(-1)[k])!r} where the exact result is finite "
                       f"({float(exp_r.reshape(-1)[k])!r}): overflow or 0/0")
    flushed = (out == 0) & (exp_r != 0) & (ch.meas.err > ch.budget.bounded)
    fmt = format_of(ch.exact.rounded.dtype)
    if flushed.any() and policy.flushed(out, exp_r, fmt, flushed) and policy.flush_verdict(fmt) == "ftz":
        return Finding("stability", "ftz", message=policy.flush_message(fmt))
    if flushed.any():
        k = int(np.argmax(flushed))
        return Finding("stability", "out-of-bound", float(ch.meas.err.reshape(-1)[k]), [k],
                       f"got 0 where the correctly rounded result is {float(exp_r.reshape(-1)[k])!r}: a spurious zero "
                       "(underflow, a flush to zero, or a division by a sum that overflowed)")
    return Finding("stability", "exact", message="no overflow, NaN or spurious zero")


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
    unit = float(np.max(np.spacing(np.abs(case.logits[np.isfinite(case.logits)]).astype(case.logits.dtype))
                        .astype(np.float64)))
    # Odd multiples of the unit first: a power-of-two multiple leaves every
    # lower bit as it was, so rounding the logits to any coarser power-of-two
    # grid (fixed point, a narrower float) would round x and x + c alike.
    for c in (-float(np.round(fin.max() / unit) * unit), 65 * unit, -65 * unit, 64 * unit, -64 * unit,
              2.0 ** 10, -(2.0 ** 10)):
        if c == 0 or not np.isfinite(c):
            continue
        y = fin + c
        # TwoSum: the rounding error of fin + c, computed exactly; 0 means exact.
        bb = y - fin
        err = (fin - (y - bb)) + (c - bb)
        if (err == 0).all() and (np.abs(y) <= f.max_finite).all() and \
                (y.astype(f.dtype).astype(np.float64) == y).all():
            return c
    return None


def shift_invariance(impl: Impl, case: Case) -> Finding:
    """softmax(x + c) == softmax(x) with c chosen so x + c is exact."""
    c = _exact_shift(case)
    if c is None:
        return Finding("shift_invariance", "unsupported", message="no exact shift exists for these logits")
    shifted = case.copy()
    shifted.logits = (case.logits.astype(np.float64) + c).astype(case.logits.dtype)
    bad, a = run_checked(impl, case)
    if bad:
        return Finding("shift_invariance", bad.verdict, message=bad.message)
    bad, b = run_checked(impl, shifted)
    if bad:
        return Finding("shift_invariance", bad.verdict, message=f"on x + {c!r}: {bad.message}")
    f = pair_spread("shift_invariance", impl.function, case, a, shifted, b, lambda v: v, f"f(x) vs f(x + {c!r})")
    if f:
        return f
    d = ulp_distance(a.out, b.out, a.meas.ulp)
    aa, ab = a.absolute(), b.absolute()
    with np.errstate(over="ignore"):  # budgets near max finite add up to inf: unbounded, as meant
        return grade_pair("shift_invariance", d, a.budget.bounded + b.budget.bounded,
                           a.budget.good + b.budget.good, f"f(x) vs f(x + {c!r})",
                           pair_absolute(a.out, b.out, policy.Budget(aa.good + ab.good, aa.bounded + ab.bounded)))


def _perm(case: Case) -> np.ndarray:
    seed = int(hashlib.sha256(case.id.encode()).hexdigest()[:8], 16)
    n = case.row_length
    p = np.random.default_rng(seed).permutation(n)
    return p if n < 2 or (p != np.arange(n)).any() else p[::-1].copy()


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
    bad, a = run_checked(impl, case)
    if bad:
        return Finding("permutation", bad.verdict, message=bad.message)
    bad, b = run_checked(impl, pc)
    if bad:
        return Finding("permutation", bad.verdict, message=f"on the permuted input: {bad.message}")
    f = pair_spread("permutation", impl.function, case, a, pc, b, lambda v: np.take(v, np.argsort(p), axis=ax),
                     "f(Px) vs P f(x)")
    if f:
        return f
    back = b.out
    if impl.function in ROW_FUNCTIONS:
        back = np.take(b.out, np.argsort(p), axis=ax)
    elif impl.function == "softmax_jacobian":
        inv = np.argsort(p)
        back = b.out[..., inv, :][..., :, inv]
    d = ulp_distance(a.out, back, a.meas.ulp)
    aa = a.absolute()
    with np.errstate(over="ignore"):  # as in shift_invariance: an overflowing budget is unbounded
        return grade_pair("permutation", d, 2 * a.budget.bounded, 2 * a.budget.good, "f(Px) vs P f(x)",
                           pair_absolute(a.out, back, policy.Budget(2 * aa.good, 2 * aa.bounded)))


def monotonicity(impl: Impl, case: Case) -> Finding:
    """x_i > x_j implies s_i >= s_j, ties give equal outputs; for softmax in
    its quantitative form s_i / s_j = exp(x_i - x_j): beyond the error the
    slice shares (one S), each element within its local budget.  A correct
    implementation breaks order only by its per-element terms (exp's own
    non-monotonicity, C_EXP), never by the summation error of S."""
    bad, ch = run_checked(impl, case)
    if bad:
        return Finding("monotonicity", bad.verdict, message=bad.message)
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


def log_consistency(impl: Impl, case: Case) -> Finding:
    """log_softmax: lsm_i - x_i is one number per slice (-logsumexp), within
    each element's local budget beyond the error the slice shares (log S), and
    sum(exp) == 1; logsumexp: max <= lse <= max + log n; cross-entropy >= 0."""
    bad, ch = run_checked(impl, case)
    if bad:
        return Finding("log_consistency", bad.verdict, message=bad.message)
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


def jacobian_structure(impl: Impl, case: Case) -> Finding:
    """Rows of the softmax Jacobian sum to 0 within the budget, and it is
    symmetric within the local budget: J_ij and J_ji are the same product of
    the same two probabilities, so no error of s may show between them."""
    bad, ch = run_checked(impl, case)
    if bad:
        return Finding("jacobian", bad.verdict, message=bad.message)
    J = ch.out.astype(np.float64)
    tol = ch.budget.bounded * ch.meas.ulp
    fin = np.isfinite(J).all(axis=(-1, -2))
    loc = policy.local_budget(impl.function, None, np.abs(ch.exact.hi), format_of(ch.exact.rounded.dtype),
                              ch.meas.ulp) * ch.meas.ulp
    with np.errstate(invalid="ignore"):
        rows = np.abs(J.sum(axis=-1))
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


def masked_zeros(impl: Impl, case: Case) -> Finding:
    """Masked-out positions are exactly zero (unless the slice is NaN by profile)."""
    bad, ch = run_checked(impl, case)
    if bad:
        return Finding("masked", bad.verdict, message=bad.message)
    out = ch.out.astype(np.float64)
    off = ~case.mask & ~np.isnan(ch.exact.rounded.astype(np.float64))
    wrong = off & (out != 0)
    if wrong.any():
        k = [int(i) for i in np.unravel_index(int(np.argmax(wrong)), wrong.shape)]
        return Finding("masked", "out-of-bound", None, k,
                       f"masked position {tuple(k)} got {float(out[tuple(k)])!r}, not 0")
    return Finding("masked", "exact", message="masked positions are exact zeros")


def special_values_prop(impl: Impl, case: Case) -> Finding:
    """Placeholder entry so `applies` and listings know the property; the
    fixed classes run through harness.special_values (see conformance)."""
    from .special_values import check_class, classes_for

    worst = None
    for name, values in classes_for(impl).items():
        f, _ = check_class(impl, case.dtype, name, values)
        if worst is None or policy.rank(f.verdict) > policy.rank(worst.verdict):
            worst = f
    return worst


PropertyFn = Callable[[Impl, Case], Finding]
PROPERTIES: dict[str, tuple[PropertyFn, tuple[str, ...] | None]] = {
    "accuracy": (accuracy, None),
    "contract": (contract, None),
    "sum_to_one": (sum_to_one, SOFTMAX_LIKE),
    "stability": (stability, None),
    "shift_invariance": (shift_invariance, ("softmax", "log_softmax", "masked_softmax", "softmax_jacobian",
                                            "softmax_vjp", "sparse_softmax", "sparse_log_softmax")),
    "permutation": (permutation, ("softmax", "log_softmax", "logsumexp", "masked_softmax", "softmax_vjp",
                                  "softmax_jacobian", "cross_entropy")),
    "monotonicity": (monotonicity, ("softmax", "log_softmax")),
    "log_consistency": (log_consistency, ("log_softmax", "logsumexp", "cross_entropy")),
    "jacobian": (jacobian_structure, ("softmax_jacobian",)),
    "masked": (masked_zeros, ("masked_softmax",)),
    "special_values": (special_values_prop, None),
    "sigmoid_equivalence": (sigmoid_equivalence, ("sigmoid",)),
}


def applies(prop: str, function: str) -> bool:
    fns = PROPERTIES[prop][1]
    return fns is None or function in fns


def check_case(impl: Impl, case: Case, props: list[str] | None = None) -> list[Finding]:
    """Every applicable property on one case (used by `check` and replay)."""
    reason = impl.unsupported(case)
    if reason:
        return [Finding("capability", "unsupported", message=reason)]
    return [PROPERTIES[p][0](impl, case) for p in (props or PROPERTIES) if applies(p, impl.function)]

"""What the properties share: an implementation's output on a case with the
oracle's view of it (``Checked``), the grading of a discrepancy between two
outputs against their summed budgets, and the local check of what one slice
does not share (policy_local.local_budget).  Its own module so that
sigmoid_equivalence and properties both use it without importing each other."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from oracles import format_of
from oracles.api import Exact

from . import budget_arrays, policy, policy_local
from .arrays import slices
from .evaluate import _stats_input, absolute_budget, budget_for, expected, invoke
from .evaluate import contract as _contract
from .functions import SHARES_SUM
from .records import Case, Finding, Impl
from .ulp import Measure, measure


@dataclass
class Checked:
    """Output plus the oracle view of it, shared by the metamorphic properties.
    The budgets are computed when first read: some comparisons need only the
    local budgets (monotonicity, the permuted side of permutation)."""

    out: np.ndarray
    exact: Exact
    meas: Measure
    case: Case
    function: str

    @cached_property
    def budget(self) -> policy.Budget:
        return budget_for(self.case, self.function, self.exact, self.meas)

    @cached_property
    def abs_budget(self) -> policy.Budget | None:
        """Absolute units, where some ulp budget overflowed."""
        return absolute_budget(self.case, self.function, self.exact, self.meas, self.budget)

    def absolute(self) -> policy.Budget:
        if self.abs_budget is not None:
            return self.abs_budget
        return policy.Budget(self.budget.good * self.meas.ulp, self.budget.bounded * self.meas.ulp)


class Rejected(Exception):
    """A call a property cannot judge: it failed its contract (an error, a
    wrong shape, dtype or a mutated input).  The property registry turns it
    into that property's Finding, with ``context`` saying which call it was."""

    def __init__(self, finding: Finding, context: str = "", output: np.ndarray | None = None):
        super().__init__(finding.message)
        self.finding, self.context, self.output = finding, context, output

    def message(self) -> str:
        return f"{self.context}: {self.finding.message}" if self.context else self.finding.message


@dataclass
class Witness:
    """The first Checked of the property's own call (its implementation on its
    case): what a failure stores as output and expected, not computed again."""

    impl: Impl
    case: Case
    seen: Checked | None = None


WITNESS: ContextVar[Witness | None] = ContextVar("softmax_harness_witness", default=None)


def checked(impl: Impl, case: Case, context: str = "") -> Checked:
    """``impl`` on ``case`` with the oracle's view of its output; raises
    Rejected where the call breaks its contract."""
    oc = invoke(impl, case)
    c = _contract(impl, case, oc, mutation=False)
    if c.verdict != "exact":
        w = WITNESS.get()
        own = w is not None and w.impl is impl and w.case is case
        raise Rejected(c, context, oc.output if own else None)
    out = np.asarray(oc.output)  # the contract passed: there is an output
    ex = expected(case, impl.function, impl.judge_dtype(case), impl.profile)
    fmt = format_of(ex.rounded.dtype)
    ch = Checked(out, ex, measure(out, ex, fmt), case, impl.function)
    w = WITNESS.get()
    if w is not None and w.seen is None and w.impl is impl and w.case is case:
        w.seen = ch
    return ch


Absolute = tuple[np.ndarray, np.ndarray, np.ndarray]  # (difference, allowed, good) in absolute units


def pair_absolute(a: np.ndarray, b: np.ndarray, allowed: policy.Budget) -> Absolute:
    """(|a - b|, allowed bounded, allowed good) in absolute units, for grade_pair:
    ulp_distance with a unit ulp, so equal bits and NaN beside NaN are 0 as there."""
    return ulp_distance(a, b, 1.0), np.asarray(allowed.bounded), np.asarray(allowed.good)


def grade_pair(name: str, diff_ulp: np.ndarray, allowed: np.ndarray, good: np.ndarray, what: str,
                absolute: Absolute | Callable[[], Absolute] | None = None) -> Finding:
    """Grade a metamorphic discrepancy (in ulps) against summed budgets.
    ``absolute`` = (difference, allowed, good) in absolute units replaces the
    ulp figures where the allowed ulps overflowed (inf would allow anything);
    a function giving them is called only there."""
    if diff_ulp.size == 0:
        return Finding(name, "exact", 0.0, message="empty")
    over = np.isinf(allowed) if absolute is not None else np.zeros(np.shape(allowed), dtype=bool)
    if absolute is not None and over.any():
        da, aa, ga = absolute() if callable(absolute) else absolute
        diff_ulp = np.where(over, np.where(np.isnan(diff_ulp), np.nan, da), diff_ulp)
        allowed, good = np.where(over, aa, allowed), np.where(over, ga, good)
    d = np.where(np.isnan(diff_ulp), np.inf, diff_ulp)
    ratio = d / np.maximum(allowed, 1e-300)
    k = int(np.argmax(ratio))
    idx = [int(i) for i in np.unravel_index(k, d.shape)]
    worst = float(d.reshape(-1)[k])
    if not np.isfinite(d).all() and not (d.reshape(-1)[k] <= allowed.reshape(-1)[k]):
        return Finding(name, "wrong-special", None, idx, f"{what}: special-value mismatch at {tuple(idx)}")
    mx: float | None = float(d.max())
    if (d <= 0).all():
        verdict = "exact"
    elif (d <= good).all():
        verdict = "good"
    elif (d <= allowed).all():
        verdict = "bounded"
    else:
        verdict = "out-of-bound"
    unit = "apart (absolute)" if over.reshape(-1)[k] else "ulp apart"
    if over.any():
        mx = float(np.nanmax(np.where(over, np.nan, d))) if not over.all() else None
    return Finding(name, verdict, mx, idx, f"{what}: {worst:.3g} {unit} at {tuple(idx)} "
                   f"(allowed {allowed.reshape(-1)[k]:.3g})", float(allowed.reshape(-1)[k]))


def ulp_distance(a: np.ndarray, b: np.ndarray, ulp: np.ndarray | float) -> np.ndarray:
    """|a - b| / ulp, 0 where the two are equal or both NaN."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    same = a64 == b64
    nan = np.isnan(a64)
    if nan.any():
        same |= nan & np.isnan(b64)
    with np.errstate(invalid="ignore", over="ignore"):
        if a64.shape != np.broadcast_shapes(b64.shape, np.shape(ulp)):
            return np.where(same, 0.0, np.abs(a64 - b64) / ulp)
        d = np.subtract(a64, b64, out=a64)  # a64 is a copy: the result, in place
        np.abs(d, out=d)
        d /= ulp
    d[same] = 0.0
    return d


# Within-slice comparisons (functions.SHARES_SUM): the error a slice shares
# (its one computed S, or log S) cancels, so what is left is held to
# policy_local.local_budget, not to the summation budget accuracy must allow.


def signed_errors(case: Case, function: str, ch: Checked) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(error, tolerance, kept, to_ulps): the signed error of each element,
    relative for probabilities and absolute for logs (units in which a
    slice-common error is one constant), its local budget in the same units,
    the elements that take part, and the factor back to ulps."""
    fmt = format_of(ch.exact.rounded.dtype)
    x, keep, _ = _stats_input(case, function)
    ax = case.norm_axis
    mv = lambda a: np.moveaxis(a, ax, -1)  # noqa: E731
    hi, lo = np.asarray(ch.exact.hi, dtype=np.float64), np.asarray(ch.exact.lo, dtype=np.float64)
    ulp, absh = ch.meas.ulp, np.abs(hi)
    loc = np.moveaxis(policy_local.local_budget(function, budget_arrays.gaps(x, keep), mv(absh), fmt, mv(ulp)), -1, ax)
    out = ch.out.astype(np.float64)  # a copy: it becomes the error
    with np.errstate(all="ignore"):
        kept = np.isfinite(out)
        kept &= np.isfinite(hi)
        kept &= np.isfinite(loc)
        err = np.subtract(out, hi, out=out)
        err -= lo
        err = err[()]  # a 0-d result is a scalar, as numpy's operators give
        tol = loc * ulp
        if function == "log_softmax":
            return err, tol, kept, 1.0 / ulp
        # Elements that their local error may take below the normal range are left to accuracy and
        # stability: there errors are absolute, and a flush to zero is a behaviour of its own.
        kept &= absh - tol >= fmt.min_normal
        err /= hi
        tol /= absh
        return err, tol, kept, np.divide(absh, ulp, out=absh) if absh.ndim else absh / ulp


def spread(name: str, case: Case, e: np.ndarray, t: np.ndarray, kept: np.ndarray, scale: np.ndarray,
            what: str) -> Finding | None:
    """Out-of-bound where no one constant per slice is within t_i of every e_i
    (that constant would be the slice's common error)."""
    ax = case.norm_axis
    flat = lambda a: slices(a, ax, e.shape)  # noqa: E731
    E, T, K, U = flat(e), flat(t), flat(kept), flat(scale)
    with np.errstate(all="ignore"):  # infinite budgets: anything goes there
        # Highest e_i - t_i and lowest e_i + t_i of each slice's kept elements (one buffer for both).
        side = E - T
        gap = np.max(side, axis=1, where=K, initial=-np.inf)
        gap -= np.min(np.add(E, T, out=side), axis=1, where=K, initial=np.inf)
    if E.size == 0 or not (gap > 0).any():
        return None
    r = int(np.argmax(np.where(gap > 0, gap * U.max(axis=1, where=K, initial=0), -1)))
    with np.errstate(all="ignore"):
        low, high = np.where(K[r], E[r] - T[r], -np.inf), np.where(K[r], E[r] + T[r], np.inf)
    i, j = int(np.argmax(low)), int(np.argmin(high))
    apart, allowed = (E[r, i] - E[r, j]) * U[r, i], (T[r, i] + T[r, j]) * U[r, i]
    lead = np.unravel_index(r, np.moveaxis(e, ax, -1).shape[:-1])
    idx = [int(v) for v in lead]
    idx.insert(ax % max(e.ndim, 1), i)
    return Finding(name, "out-of-bound", float(apart), idx,
                   f"{what}: elements {i} and {j} of slice {r} are {apart:.3g} ulp apart beyond the error their "
                   f"slice shares (allowed {allowed:.3g})", float(allowed))


def pair_spread(name: str, function: str, ca: Case, a: Checked, cb: Case, b: Checked, back, what: str
                 ) -> Finding | None:
    """spread of (error of a) - (error of b): two outputs for the same exact
    values may differ by one factor per slice (their S differ in summation
    order or rounding) and by each element's local budget.  ``back`` maps b's
    layout onto a's."""
    if function not in SHARES_SUM:
        return None
    ea, ta, ka, scale = signed_errors(ca, function, a)
    eb, tb, kb = (back(v) for v in signed_errors(cb, function, b)[:3])
    with np.errstate(all="ignore"):  # a's arrays are this call's own: the differences in their place
        ea -= eb
        ta += tb
        ka &= kb
        return spread(name, ca, ea, ta, ka, scale, what)

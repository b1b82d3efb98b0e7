"""Run one implementation on one case and judge the output against the oracle.

The oracle sees the case, never another implementation's output.  Oracle
results are cached per (case id, function, output dtype, profile) within the
process, so every implementation and property on the same case pays once.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from oracles import Exact, format_of
from oracles import fast as fast_oracle
from oracles.api import sparse_slices

from . import policy, upstream_rules, verdicts
from .arrays import output_sha
from .functions import ROW_WISE, output_shape
from .memo import LRU
from .records import Case, Finding, Impl, finite_or_none, is_soft
from .ulp import Measure, measure

_CACHE: LRU = LRU(4096)
# Seconds this process has spent inside implementations' calls (invoke), for
# the split of a test's time between the code under test and the harness.
_CALL_SECONDS = [0.0]


def call_clock() -> float:
    """Seconds spent inside implementations' own calls in this process so far:
    read it before and after a piece of work to get that work's share.
    One thread, and no implementation calls ``invoke`` itself (none does):
    a nested call would be counted twice."""
    return _CALL_SECONDS[0]



def expected(case: Case, function: str, out_dtype: str | None = None, profile: str = "ieee") -> Exact:
    # The certified fast path decides most float16/bfloat16/float32 elements in
    # float64 and sends the rest to mpmath; its rounded values are mpmath's.
    return _CACHE.get((case.id, function, out_dtype or case.dtype, profile), lambda: fast_oracle.evaluate(
        function, case.logits, case.axis, mask=case.mask, indices=case.indices, labels=case.labels,
        upstream=case.upstream, profile=profile, out_dtype=out_dtype))


def expected_shape(case: Case, function: str) -> tuple:
    n_stored = len(case.indices) if case.indices is not None else 0
    return output_shape(function, case.logits.shape, case.norm_axis, n_stored)


@dataclass
class Outcome:
    output: np.ndarray | None
    error: str | None
    duration: float
    mutated: list[str]


def invoke(impl: Impl, case: Case) -> Outcome:
    """Call ``impl`` on a private copy of the case; record exceptions and
    whether it wrote into its inputs."""
    mine = case.copy()
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = impl.call(mine)
        err = None
    except Exception as e:  # an implementation raising is a finding, not a harness crash
        out, err = None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:500]
    dt = time.perf_counter() - t0
    _CALL_SECONDS[0] += dt
    mutated = [n for n in ("logits",) + Case.EXTRAS
               if getattr(case, n) is not None and not _same_bits(getattr(case, n), getattr(mine, n))]
    return Outcome(out, err, dt, mutated)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.itemsize in (1, 2, 4, 8) and a.dtype.kind in "biufV":  # compared as unsigned integers, no copies
        u = f"u{a.dtype.itemsize}"
        return bool(np.array_equal(a.view(u), b.view(u)))
    return a.tobytes() == b.tobytes()


def contract(impl: Impl, case: Case, oc: Outcome, mutation: bool = True) -> Finding:
    """dtype (or declared upcast), shape, and (``mutation``) input not mutated.
    Numerical properties pass ``mutation=False``: the implementation ran on a
    private copy, so its output is judged all the same, and the contract
    property reports the mutation beside those findings."""
    if oc.mutated and mutation:
        return Finding("contract", "mutated-input", message=f"wrote into its input {', '.join(oc.mutated)}")
    if oc.error is not None:
        return Finding("contract", "error", message=oc.error)
    out = oc.output
    want = impl.out_dtype(case)
    if out.dtype.name != want:
        return Finding("contract", "wrong-dtype", message=f"returned {out.dtype.name} for {case.dtype} input "
                       f"(expected {want})")
    shape = expected_shape(case, impl.function)
    if tuple(out.shape) != tuple(shape):
        return Finding("contract", "wrong-shape", message=f"returned shape {tuple(out.shape)}, expected {shape}")
    note = f"declared upcast {case.dtype}->{want}" if want != case.dtype else ""
    return Finding("contract", "exact", message=note)


def _stats_input(case: Case, function: str):
    """Input slices for the budget (last axis) and the extra array it needs."""
    x = np.moveaxis(case.logits.astype(np.float64), case.norm_axis, -1) if case.logits.ndim else \
        case.logits.astype(np.float64).reshape(1)
    keep = None
    if case.mask is not None and function == "masked_softmax":
        keep = np.moveaxis(case.mask, case.norm_axis, -1)
    extra = None
    if function == "softmax_vjp":
        extra = np.moveaxis(case.upstream.astype(np.float64), case.norm_axis, -1)
    if function == "cross_entropy":
        lab = case.labels
        extra = np.moveaxis(lab, case.norm_axis, -1) if is_soft(lab) else lab
    return x, keep, extra


def _sparse_stats(case: Case) -> policy.RowStats:
    idx = case.indices
    vals = case.logits.astype(np.float64)[tuple(idx.T)]
    parts = [policy.row_stats(vals[start:end]) for start, end in sparse_slices(idx)]
    if not parts:
        z = np.zeros(0)
        return policy.RowStats(z, z, z, z, z, z)
    cat = {f: np.concatenate([getattr(p, f) for p in parts]) for f in ("d", "s", "n", "L", "m", "w")}
    return policy.RowStats(**cat)


def budget_for(case: Case, function: str, exact: Exact, meas: Measure) -> policy.Budget:
    fmt = format_of(exact.rounded.dtype)
    absx = np.abs(exact.hi)
    fin = np.isfinite(absx)
    if np.ndim(absx) == 0:
        absx = np.where(fin, absx, 0.0)
    elif not fin.all():
        absx[~fin] = 0.0
    if function == "sigmoid":
        st = policy.row_stats(np.zeros((1, 1)))
        return policy.budgets("sigmoid", st, absx, fmt, meas.ulp)
    if function.startswith("sparse_"):
        return policy.budgets(function, _sparse_stats(case), absx, fmt, meas.ulp)
    x, keep, extra = _stats_input(case, function)
    st = policy.row_stats(x, keep)
    if function != "cross_entropy":  # x is done with: its memory can serve the budgets
        del x
    if function in ROW_WISE:
        ax = case.norm_axis if case.logits.ndim else 0
        mv = lambda a: np.moveaxis(a.reshape(case.logits.shape or (1,)), ax, -1)  # noqa: E731
        b = policy.budgets(function, st, mv(absx), fmt, mv(meas.ulp), extra)
        back = lambda a: np.moveaxis(a, -1, ax).reshape(exact.hi.shape)  # noqa: E731
        return policy.Budget(back(b.good), back(b.bounded))
    b = policy.budgets(function, st, absx, fmt, meas.ulp, extra)
    if function == "cross_entropy":
        b.beyond = policy.beyond_range(x, fmt, extra)
    return b


def absolute_budget(case: Case, function: str, exact: Exact, meas: Measure,
                    bud: policy.Budget) -> policy.Budget | None:
    """The same budgets in absolute units (ulp = 1), where some ulp budget
    overflowed (see policy.grade); None where none did."""
    if not (np.isinf(bud.bounded).any() or np.isinf(bud.good).any()):
        return None
    return budget_for(case, function, exact, Measure(meas.err, np.ones_like(meas.ulp), meas.special))


@dataclass
class Graded:
    """Per-element grading of one output: what ``accuracy`` summarises into a
    Finding, and what the exhaustive sweep (harness.sweep) tallies per input."""

    exact: Exact
    meas: Measure
    budget: policy.Budget
    abs_budget: policy.Budget | None
    tiers: np.ndarray  # 0..3 the grades, 4 out-of-bound, 5 wrong-special (policy.grade)
    verdict: str  # the worst, "ftz" (or out-of-bound in float16) where every tier 4 is a flush
    ftz: bool
    key: np.ndarray  # order of badness: tier, then error over the bounded budget


def grade_output(impl: Impl, case: Case, got: np.ndarray, ex: Exact) -> Graded:
    """Grade ``got`` (numbers, of ``ex``'s shape) element by element against
    the same budgets and FTZ rule the conformance suite uses."""
    fmt = format_of(ex.rounded.dtype)
    meas = measure(got, ex, fmt)
    bud = budget_for(case, impl.function, ex, meas)
    abs_bud = absolute_budget(case, impl.function, ex, meas, bud)
    verdict, tiers = policy.grade(meas.err, meas.special, bud, meas.diff, abs_bud)
    ftz = verdict == "out-of-bound" and policy.flushed(got, ex.rounded, fmt, tiers == 4)
    if ftz:
        verdict = policy.flush_verdict(fmt)
    # Worst element: highest tier, then largest err/bounded ratio.
    with np.errstate(invalid="ignore", divide="ignore"):  # err / max(bounded, 1e-300), inf where special
        ratio = np.empty(np.broadcast_shapes(np.shape(meas.err), np.shape(bud.bounded)))
        np.divide(meas.err, np.maximum(bud.bounded, 1e-300, out=ratio), out=ratio)
        np.copyto(ratio, np.inf, where=meas.special)
        if abs_bud is not None:
            ratio = np.where(np.isinf(bud.bounded), meas.diff / np.maximum(abs_bud.bounded, 1e-300), ratio)
    # min(nan_to_num(ratio, nan=inf), 1e5), in place: nan and +inf give 1e5, -inf -max.
    np.minimum(ratio, 1e5, out=ratio)
    ratio[np.isnan(ratio)] = 1e5
    np.maximum(ratio, -np.finfo(np.float64).max, out=ratio)
    key = tiers.astype(np.float64) * 1e6
    key += ratio
    return Graded(ex, meas, bud, abs_bud, tiers, verdict, ftz, key)


def accuracy(impl: Impl, case: Case, output: np.ndarray, profile: str | None = None,
             rules: bool = False) -> Finding:
    """Per-element ulp error against the oracle, graded against the budget;
    with ``rules``, also what the upstream tolerance rules say of the output
    (harness/upstream_rules.py), in ``stats["rules"]``."""
    out_dtype = impl.judge_dtype(case)
    ex = expected(case, impl.function, out_dtype, profile or impl.profile)
    fmt = format_of(ex.rounded.dtype)
    got = np.asarray(output)
    if got.dtype.kind in "OSU":  # objects or text: no ulps to measure (the element reads crashed on them)
        return Finding("accuracy", "wrong-dtype", message=f"returned an array of {got.dtype.name}, not numbers")
    if got.shape != ex.rounded.shape:
        return Finding("accuracy", "wrong-shape", message=f"shape {got.shape} vs expected {ex.rounded.shape}")
    g = grade_output(impl, case, got, ex)
    meas, bud, abs_bud, tiers, verdict, ftz = g.meas, g.budget, g.abs_budget, g.tiers, g.verdict, g.ftz
    if not tiers.size:
        return Finding("accuracy", "exact", 0.0, message="empty output")
    flat = int(np.argmax(g.key))
    idx = [int(i) for i in np.unravel_index(flat, tiers.shape)]
    numbers = ~np.isnan(meas.err)
    max_ulp = float(np.max(meas.err, where=numbers, initial=-np.inf)) if numbers.any() else None
    g_w = got.reshape(-1)[flat].item()
    e_w = ex.rounded.reshape(-1)[flat].item()
    if meas.special.reshape(-1)[flat] and bud.beyond is not None and bud.beyond.reshape(-1)[flat]:
        tail = " (accepted: a log-probability the stable algorithm forms overflows, logits spread past the range)"
    elif meas.special.reshape(-1)[flat]:
        tail = " (special-value mismatch)"
    elif abs_bud is not None and np.isinf(bud.bounded.reshape(-1)[flat]):  # ulps overflow: say it absolutely
        ag, ab = abs_bud.good.reshape(-1)[flat], abs_bud.bounded.reshape(-1)[flat]
        tail = f", off by {meas.diff.reshape(-1)[flat]:.3g} (absolute budget good {ag:.3g}, bounded {ab:.3g})"
    else:
        tail = (f", {meas.err.reshape(-1)[flat]:.3g} ulp (budget good {bud.good.reshape(-1)[flat]:.3g},"
                f" bounded {bud.bounded.reshape(-1)[flat]:.3g})")
    msg = f"worst for its budget at {tuple(idx)}: got {float(g_w)!r}, correctly rounded {float(e_w)!r}{tail}"
    if ftz:
        msg = f"{policy.flush_message(fmt)}; {msg}"
    stats = {"n_special": int(meas.special.sum()), "n_elements": int(tiers.size),
             "points": _points(case, impl.function, meas.err, bud.bounded),
             "output_sha": output_sha(got),
             "grades": {g: int((tiers == i).sum()) for i, g in enumerate(verdicts.GRADES + ("out-of-bound",))
                        if (tiers == i).any()}}
    if rules:
        stats["rules"] = upstream_rules.judge(impl.function, case, got, ex.hi, ex.rounded, meas.err, meas.special)
    return Finding("accuracy", verdict, max_ulp, idx, msg, float(bud.bounded.reshape(-1)[flat]), stats,
                   output=got, expected=ex.rounded)


def _points(case: Case, function: str, err: np.ndarray, bounded: np.ndarray, k: int = 8) -> list:
    """A few (|x_i - max|, ulp error, budget) triples for the report's plots:
    the worst elements of this output."""
    if function not in ROW_WISE or err.shape != case.logits.shape or not err.size:
        return []
    ax = case.norm_axis if case.logits.ndim else 0
    x = case.logits.astype(np.float64).reshape(case.logits.shape or (1,))
    m = np.max(x, axis=ax, where=np.isfinite(x), initial=-np.inf, keepdims=True)  # each slice's finite max
    e = np.where(np.isfinite(err), err, -1).reshape(-1)
    top = _largest(e, k)
    at = np.unravel_index(top, x.shape)  # |x_i - max| and the budget at those elements only
    with np.errstate(invalid="ignore", over="ignore"):  # -max - (+max) overflows: an inf distance, dropped below
        dd = np.abs(x[at] - m[at[:ax] + (np.zeros_like(at[ax]),) + at[ax + 1:]])
    bb = np.reshape(bounded, x.shape)[at]
    # An unbounded budget (the spread term overflows at +-max finite) is None: JSON has no inf.
    return [[float(dd[j]), float(e[i]), finite_or_none(bb[j])] for j, i in enumerate(top)
            if e[i] >= 0 and np.isfinite(dd[j])]


def _largest(e: np.ndarray, k: int) -> np.ndarray:
    """np.argsort(e)[-k:] (ascending): where the k + 1 largest values are
    distinct, the k largest and their order are unique, and a partition finds
    them without sorting all of e; ties leave the order to argsort, as always."""
    if e.size > 4 * k:
        part = np.argpartition(e, e.size - k - 1)[-(k + 1):]
        order = np.argsort(e[part])
        if (np.diff(e[part][order]) > 0).all():
            return part[order][1:]
    return np.argsort(e)[-k:]

"""The direct properties: accuracy against the oracle, the call's contract
(dtype, shape, no mutation, determinism), probabilities that sum to one,
and numerical stability (no overflow, NaN or spurious zero)."""

from __future__ import annotations

import numpy as np

from oracles import format_of

from .. import policy
from ..evaluate import accuracy as _accuracy
from ..evaluate import contract as _contract
from ..evaluate import invoke
from ..functions import PROBABILITIES
from ..judging import checked
from ..records import Case, Finding, Impl
from . import register


@register("accuracy")
def accuracy(impl: Impl, case: Case) -> Finding:
    """Per-element ulp error against the correctly rounded oracle."""
    oc = invoke(impl, case)
    c = _contract(impl, case, oc, mutation=False)  # judged on its private copy; contract reports mutation
    if c.verdict in ("error", "wrong-shape") or oc.output is None:
        return Finding("accuracy", c.verdict, message=c.message, output=oc.output)
    f = _accuracy(impl, case, oc.output, rules=True)
    if c.verdict == "wrong-dtype":
        f.message = f"{c.message}; {f.message}"
    return f


@register("contract")
def contract(impl: Impl, case: Case) -> Finding:
    """dtype (or declared upcast), shape, input not mutated, deterministic."""
    first = invoke(impl, case)
    f = _contract(impl, case, first)
    f.output = first.output
    if f.verdict != "exact" or first.output is None:
        return f
    second = invoke(impl, case)
    if second.output is None or second.output.tobytes() != first.output.tobytes():
        return Finding("contract", "nondeterministic", message="two calls on the same input gave different bits",
                       output=first.output)
    return f


@register("sum_to_one", PROBABILITIES)
def sum_to_one(impl: Impl, case: Case) -> Finding:
    """Each finite slice sums to 1 within the summed element budgets, and
    every probability lies in [0, 1]."""
    ch = checked(impl, case)
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


@register("stability")
def stability(impl: Impl, case: Case) -> Finding:
    """Finite logits give finite outputs, no NaN, and exact zeros only where
    the exact value rounds to zero (or the budget allows it)."""
    ch = checked(impl, case)
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

"""The likely cause of a failure, in one line ("the sum is accumulated in bfloat16: ...").

Signatures are read from what a Result carries (verdict, dtype, the failing
case, output and expected values), never from an implementation's name.  Where
an error size could mean several things, the output is checked against a model
of the defect (a running sum in a narrower format, a sum that stops at a block
boundary, exp without the max shift): the cause is named only when the model
reproduces the output far better than the exact values do (the models:
harness/defect_models.py).  Missing or undecodable arrays give no diagnosis.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from oracles import FORMATS

from . import verdicts
from .arrays import decode_array, slices
from .defect_models import MODELS, NAN, NARROW, SOFTMAX_ONLY, Evidence, Hit, accumulate, summing_formats
from .records import Result
from .ulp import ulp_of


def _array(d) -> np.ndarray | None:
    if not isinstance(d, dict) or not {"shape", "b64"} <= d.keys() or d.get("dtype") not in tuple(FORMATS):
        return None
    try:
        return decode_array(d)
    except (ValueError, TypeError):  # bad base64, or a shape that does not match the bytes
        return None


def _case(r: Result) -> tuple[np.ndarray, int] | None:
    case = r.case
    x = _array(case.get("logits")) if case is not None else None
    axis = case.get("axis", -1) if x is not None else None
    if x is None or x.ndim == 0 or x.size == 0 or not isinstance(axis, int) or not -x.ndim <= axis < x.ndim:
        return None
    return x, axis % x.ndim


def _evidence(r: Result) -> Evidence | None:
    xa, out, exp = _case(r), _array(r.output), _array(r.expected)
    ws = r.stats.get("worst_slice")
    if out is None and isinstance(ws, dict):  # a long case keeps only its worst slice (conformance._result)
        x, out, exp = _array(ws.get("logits")), _array(ws.get("output")), _array(ws.get("expected"))
        xa = None if x is None or x.ndim != 1 else (x, 0)
    if xa is None or out is None or exp is None or not xa[0].shape == out.shape == exp.shape:
        return None
    return Evidence(*(a.astype(np.float64) for a in (xa[0], out, exp)), xa[1], xa[0].dtype.name,
                    FORMATS[out.dtype.name])


def _from_message(r: Result) -> Evidence | None:
    """A long case keeps no output, but the accuracy message names the worst
    element's value: enough when its row holds equal logits (equal outputs)."""
    xa, idx = _case(r), r.worst_index
    m = re.search(r"got ([^,]+), correctly rounded ([^,(]+)", r.message)
    if xa is None or m is None or r.dtype not in tuple(FORMATS) or not isinstance(idx, list) \
            or len(idx) != xa[0].ndim or not all(isinstance(i, int) and 0 <= i < n for i, n in zip(idx, xa[0].shape)):
        return None
    x, axis = xa
    row = x[tuple(slice(None) if a == axis else i for a, i in enumerate(idx))].astype(np.float64)
    try:
        got, want = float(m.group(1)), float(m.group(2))
    except ValueError:
        return None
    full = (np.full(row.size, v) for v in (got, want))
    return Evidence(row, *full, 0, x.dtype.name, FORMATS[r.dtype]) if (row == row[0]).all() else None


# --- one result: its verdict, else models of a defect against its output ---

def _contract(r: Result) -> Hit | None:
    v, st = r.verdict, r.stats
    if v == "mutated-input":
        return Hit("the input is modified in place", "the function writes into its argument")
    if v == "wrong-dtype":
        m = re.search(r"returned (\w+) for", r.message)
        got = r.output.get("dtype") if r.output is not None else m.group(1) if m else None
        if got is not None and got != r.dtype:
            return Hit(f"returns {got}, not the input dtype", f"{got} for {r.dtype} input: not cast back")
    if v == "wrong-special" and st.get("input_class") == "nan":
        ret = str(st.get("returned", ""))  # special values keep only the printed output
        return NAN if ret.startswith("[") and "nan" not in ret else None
    return None


def _log_accumulate(r: Result) -> Hit | None:
    """log_softmax or logsumexp whose log S is the log of a sum kept in a
    narrower format: the logsumexp it implies (x_i - lsm_i, or its output) is
    max + log(running sum), within 4 ulps and 4 times closer than the exact one."""
    xa, out, exp = _case(r), _array(r.output), _array(r.expected)
    if xa is None or out is None or exp is None or r.function not in ("log_softmax", "logsumexp"):
        return None
    x, axis = xa
    X = slices(x.astype(np.float64), axis)
    with np.errstate(invalid="ignore"):
        if r.function == "log_softmax" and out.shape == x.shape:  # the implied logsumexp of each row
            L, E = (np.median(X - slices(a.astype(np.float64), axis), axis=1) for a in (out, exp))
        elif r.function == "logsumexp" and out.size == X.shape[0]:
            L, E = out.astype(np.float64).reshape(-1), exp.astype(np.float64).reshape(-1)
        else:
            return None
    fin = np.isfinite(X).all(1) & np.isfinite(L) & np.isfinite(E)
    if not fin.any():
        return None
    k = int(np.argmax(np.where(fin, np.abs(L - E), -1.0)))
    fmt, n = FORMATS[out.dtype.name], X.shape[1]
    ulp = float(ulp_of(L[k], 0.0, fmt))
    gap = abs(float(L[k] - E[k]))
    if gap <= 2 * ulp:  # rounding, not a defect to explain
        return None
    tol = min(4 * ulp, gap / 4)  # the model fits, and far better than the exact value
    m = float(X[k].max())
    e = np.exp(X[k] - m)
    for f in summing_formats(fmt):
        S = float(np.add.accumulate(e.astype(f.dtype), dtype=f.dtype)[-1])
        if 0 < S < math.inf and abs(m + math.log(S) - L[k]) <= tol:
            return Hit(f"the sum is accumulated in {f.name}", f"a row of {n} has logsumexp {L[k]:.6g}, not "
                       f"{E[k]:.6g}: max + log of a running {f.name} sum ({S:.6g}, exactly {e.sum():.6g})")
    return None


def _hits(r: Result) -> list[Hit]:
    """Every signature one failing result fits, the most specific first."""
    if verdicts.passes(r.verdict):
        return []
    h, ev = _contract(r), _evidence(r)
    if h is None and ev is None and r.property == "accuracy" and r.function == "softmax":
        h = None if (row := _from_message(r)) is None else accumulate(row)
    if h is None and r.property == "accuracy":
        h = _log_accumulate(r)
    if h is not None or ev is None:
        return [h] if h is not None else []
    return [h for h in (m(ev) for m in MODELS if r.function == "softmax" or m not in SOFTMAX_ONLY) if h]


def diagnose_one(result: Result) -> str | None:
    """The likely cause of one failing result, or None."""
    hs = _hits(result)
    return f"{hs[0].head}: {hs[0].detail}" if hs else None


def _narrow_by_size(results: list[Result], seen: set[str]) -> list[Hit]:
    """No output kept (a long case): accuracy errors of about one ulp of a narrower
    format, while that format's own accuracy passes (unless outputs said it: ``seen``)."""
    acc = [r for r in results if r.property == "accuracy" and r.function == "softmax"]
    ok = {(r.impl, r.dtype) for r in acc if verdicts.passes(r.verdict)}
    hits = []
    for r in acc:
        d, ulps = FORMATS.get(r.dtype), r.max_ulp
        if r.verdict != "out-of-bound" or r.output is not None or d is None or ulps is None:
            continue
        f = next((FORMATS[n] for n in reversed(NARROW) if FORMATS[n].p < d.p and (r.impl, n) in ok
                  and FORMATS[n].u / 4 <= ulps * d.u <= 16 * FORMATS[n].u), None)
        if f is not None and f"{d.name} computed in {f.name}" not in seen:
            hits.append(Hit(f"{d.name} results only {f.name}-accurate", f"relative errors ~2**"
                            f"{math.log2(ulps * d.u):.0f} while {f.name} passes (computed or summed in {f.name}?)"))
    return hits


def diagnose(results: list[Result]) -> list[str]:
    """One line per likely cause, the one behind the most failing results first;
    empty when nothing is recognisable."""
    fits = [hs for hs in map(_hits, results) if hs]
    fits += [[h] for h in _narrow_by_size(results, {h.head for hs in fits for h in hs})]
    support = Counter(head for hs in fits for head in {h.head for h in hs})
    lines: dict[str, list[Hit]] = {}
    for hs in fits:  # a result two causes fit (a near-uniform row: a stall, or a dropped tail?) goes to the
        h = max(hs, key=lambda h: support[h.head])  # one more results show; among equals, the most specific
        lines.setdefault(h.head, []).append(h)
    out = []
    for head, hs in sorted(lines.items(), key=lambda kv: -len(kv[1])):  # stable: first seen first among equals
        details = list(dict.fromkeys(h.detail for h in sorted(hs, key=lambda h: -h.weight)))
        out.append(f"{head}: {'; '.join(details[:2 if hs[0].joins else 1])}")
    return out


__all__ = ["diagnose", "diagnose_one"]

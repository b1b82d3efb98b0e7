"""The likely cause of a failure, in one line ("the sum is accumulated in bfloat16: ...").

Signatures are read from what a Result carries (verdict, dtype, the failing
case, output and expected values), never from an implementation's name.  Where
an error size could mean several things, the output is checked against a model
of the defect (a running sum in a narrower format, a sum that stops at a block
boundary, exp without the max shift): the cause is named only when the model
reproduces the output far better than the exact values do.  Results are dicts,
as `check --json` writes them; missing or undecodable fields give no diagnosis.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from oracles import FORMATS, Format

from . import verdicts
from .arrays import decode_array, slices
from .ulp import ulp_of

NARROW = ("bfloat16", "float16", "float32")  # formats a kernel may silently compute or sum in, narrowest first
BLOCK = 16  # a sum that skips a tail stops at a multiple of a power-of-two block, at least this


@dataclass
class Hit:
    head: str  # the cause; hits with the same head make one line
    detail: str  # the evidence
    weight: int = 1  # among the details of one head, the most telling first
    joins: bool = False  # details add up (thresholds per dtype) rather than repeat one another


@dataclass
class Evidence:
    """A failing case, its output and the correctly rounded values, in float64:
    whole (``full_*``) and as rows along the axis."""

    full_x: np.ndarray
    full_out: np.ndarray
    full_exp: np.ndarray
    axis: int
    case_dtype: str
    fmt: Format  # the output's

    def __post_init__(self) -> None:
        self.x, self.out, self.exp = (slices(a, self.axis) for a in (self.full_x, self.full_out, self.full_exp))

    def close(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Elementwise within 32 ulps (a model need not mimic every rounding); NaN beside NaN."""
        with np.errstate(invalid="ignore", over="ignore"):
            near = np.abs(a - b) <= math.ldexp(1.0, 5 - self.fmt.p) * np.abs(b) + self.fmt.min_normal
        return near | (np.isnan(a) & np.isnan(b)) | ((a == b) & np.isinf(a))

    def explains(self, out: np.ndarray, model: np.ndarray, exp: np.ndarray) -> np.ndarray:
        """Per row: ``model`` reproduces ``out``, and far better than the exact
        values ``exp`` do (a near-uniform row fits any model within 32 ulps)."""
        return self.close(out, model).all(-1) & (_miss(out, exp) > 8 * _miss(out, model))

    def worst_row(self) -> int | None:
        """The finite row whose output sum is furthest from 1."""
        fin = np.isfinite(self.x).all(1) & np.isfinite(self.out).all(1)
        return int(np.argmax(np.where(fin, np.abs(self.out.sum(1) - 1), -1.0))) if fin.any() else None

    def noise(self, k: int) -> float:
        """How far correct rounding moves row ``k``'s output sum (errors of the terms cancel
        in the normalisation): the outputs' (0.3 u each, a random walk: 8 sigma) and the
        sum's in the accumulator (float32 for half outputs: 4 sigma, or log2 n pairwise)."""
        o, u_acc = self.out[k], math.ldexp(1.0, -max(self.fmt.p, 24))
        walk = 2.4 * self.fmt.u * float(np.sqrt(np.sum(o ** 2)))
        return walk + (4 * math.sqrt(o.size) + math.log2(o.size)) * u_acc * abs(float(o.sum()))

    def scaled(self, k: int, c: float) -> bool:
        """Row ``k``'s outputs are the exact ones times ``c`` (a wrong sum) far more closely
        than the exact ones: RMS misfits, so a defect of a few ulps stands out of rounding."""
        s, o = _shifted_exp(self.x[k]), self.out[k]
        keep = s / s.sum() >= self.fmt.min_normal  # subnormal outputs round absolutely, not relatively
        s, o = s[keep] / s.sum(), o[keep]
        return bool(keep.any()) and _rms(o, s) > 4 * _rms(o, c * s)


def _miss(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, the largest |a - b|: NaN beside NaN is 0, NaN beside a number inf."""
    with np.errstate(invalid="ignore"):
        d = np.where((a == b) | (np.isnan(a) & np.isnan(b)), 0.0, np.abs(a - b))
    return np.where(np.isnan(d), np.inf, d).max(-1)


def _rms(o: np.ndarray, m: np.ndarray) -> float:
    return float(np.sqrt(np.mean(((o - m) / m) ** 2)))


def _shifted_exp(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):  # -max - max overflows: exp(-inf) = 0, as meant
        return np.exp(x - x.max())


def _array(d) -> np.ndarray | None:
    if not isinstance(d, dict) or not {"shape", "b64"} <= d.keys() or d.get("dtype") not in tuple(FORMATS):
        return None
    try:
        return decode_array(d)
    except (ValueError, TypeError):  # bad base64, or a shape that does not match the bytes
        return None


def _case(r: dict) -> tuple[np.ndarray, int] | None:
    case = r.get("case")
    x = _array(case.get("logits")) if isinstance(case, dict) else None
    axis = case.get("axis", -1) if x is not None else None
    if x is None or x.ndim == 0 or x.size == 0 or not isinstance(axis, int) or not -x.ndim <= axis < x.ndim:
        return None
    return x, axis % x.ndim


def _evidence(r: dict) -> Evidence | None:
    xa, out, exp = _case(r), _array(r.get("output")), _array(r.get("expected"))
    ws = (r.get("stats") or {}).get("worst_slice") if isinstance(r.get("stats"), dict) else None
    if out is None and isinstance(ws, dict):  # a long case keeps only its worst slice (conformance._result)
        x, out, exp = _array(ws.get("logits")), _array(ws.get("output")), _array(ws.get("expected"))
        xa = None if x is None or x.ndim != 1 else (x, 0)
    if xa is None or out is None or exp is None or not xa[0].shape == out.shape == exp.shape:
        return None
    return Evidence(*(a.astype(np.float64) for a in (xa[0], out, exp)), xa[1], xa[0].dtype.name,
                    FORMATS[out.dtype.name])


def _from_message(r: dict) -> Evidence | None:
    """A long case keeps no output, but the accuracy message names the worst
    element's value: enough when its row holds equal logits (equal outputs)."""
    xa, idx = _case(r), r.get("worst_index")
    m = re.search(r"got ([^,]+), correctly rounded ([^,(]+)", str(r.get("message", "")))
    if xa is None or m is None or r.get("dtype") not in tuple(FORMATS) or not isinstance(idx, list) \
            or len(idx) != xa[0].ndim or not all(isinstance(i, int) and 0 <= i < n for i, n in zip(idx, xa[0].shape)):
        return None
    x, axis = xa
    row = x[tuple(slice(None) if a == axis else i for a, i in enumerate(idx))].astype(np.float64)
    try:
        got, want = float(m.group(1)), float(m.group(2))
    except ValueError:
        return None
    full = (np.full(row.size, v) for v in (got, want))
    return Evidence(row, *full, 0, x.dtype.name, FORMATS[r["dtype"]]) if (row == row[0]).all() else None


# --- one result: its verdict, else models of a defect against its output ---

NAN = Hit("NaN swallowed", "a row containing NaN gives finite outputs (a NaN-ignoring max or sum?)")


def _contract(r: dict) -> Hit | None:
    v, st = r.get("verdict"), r.get("stats")
    if v == "mutated-input":
        return Hit("the input is modified in place", "the function writes into its argument")
    if v == "wrong-dtype":
        m = re.search(r"returned (\w+) for", str(r.get("message", "")))
        got = r["output"].get("dtype") if isinstance(r.get("output"), dict) else m.group(1) if m else None
        if got is not None and got != r.get("dtype"):
            return Hit(f"returns {got}, not the input dtype", f"{got} for {r.get('dtype')} input: not cast back")
    if v == "wrong-special" and isinstance(st, dict) and st.get("input_class") == "nan":
        ret = str(st.get("returned", ""))  # special values keep only the printed output
        return NAN if ret.startswith("[") and "nan" not in ret else None
    return None


def _nan(ev: Evidence) -> Hit | None:
    return NAN if (np.isnan(ev.x).any(1) & np.isfinite(ev.out).all(1) & np.isnan(ev.exp).any(1)).any() else None


def _narrow(ev: Evidence) -> Hit | None:
    """Every output is a value of a narrower format although the exact results are not."""
    o, e = ev.out.ravel(), ev.exp.ravel()
    ok = np.isfinite(o) & (o != 0) & np.isfinite(e)
    for f in (FORMATS[n] for n in NARROW if FORMATS[n].p < ev.fmt.p):  # the narrowest that holds them computed
        with np.errstate(over="ignore", invalid="ignore"):
            fits_o, fits_e = (a.astype(f.dtype).astype(np.float64) == a for a in (o, e))
        if ok.any() and fits_o[ok].all() and np.unique(o[ok & ~fits_e]).size >= 4:  # a uniform row proves nothing
            return Hit(f"{ev.fmt.name} computed in {f.name}", f"every output is a {f.name} value (relative error "
                       f"~2**-{f.p})")
    return None


def _batch(ev: Evidence) -> Hit | None:
    """Slices interact: normalised over the whole array or another axis, or one max for all rows."""
    x, head = ev.full_x, "slices interact"
    if x.ndim < 2 or not np.isfinite(x).all():
        return None
    for a in [b for b in range(x.ndim) if b != ev.axis] + [None]:
        with np.errstate(all="ignore"):
            e = np.exp(x - np.max(x, axis=a, keepdims=True))
            model = e / np.sum(e, axis=a, keepdims=True)
        if ev.explains(*(v.reshape(1, -1) for v in (ev.full_out, model, ev.full_exp))).all():
            where = "over the whole array" if a is None else f"along axis {a} instead of {ev.axis}"
            return Hit(head, f"the output is one softmax {where} (a max and sum not per row)")
    bad = (~np.isfinite(ev.out).all(1) | (ev.out == 0).all(1)) & np.isfinite(ev.exp).all(1)
    tops = ev.x.max(1)
    if bad.any() and (~bad).any() and tops[bad].max() < tops[~bad].min():
        return Hit(head, "one max for the whole batch: rows far below it underflow to 0/0")
    return None


def _summing_formats(fmt: Format) -> list[Format]:
    """Formats narrower than a correct kernel sums ``fmt`` in (half is meant to sum in float32), narrowest first."""
    return [FORMATS[n] for n in NARROW if FORMATS[n].p < max(fmt.p, 24)]


def _accumulate(ev: Evidence) -> Hit | None:
    """Row sums as a sum kept in a narrower format makes them: running (sequential), or rounded once."""
    k = ev.worst_row()
    c, tol = (None, 0.0) if k is None else (float(ev.out[k].sum()), ev.noise(k))
    if c is None or abs(c - 1) <= tol:
        return None
    x, o, model = ev.x[k], ev.out[k], {}
    with np.errstate(over="ignore"):  # the terms as summed with the max shift, and without
        terms = [_shifted_exp(x)] + [e for e in [np.exp(x)] if np.isfinite(e).all() and e.sum() > 0]
    for f in _summing_formats(ev.fmt):
        for e in terms:
            with np.errstate(over="ignore"):
                sums = {"rounded to": np.asarray(e.sum()).astype(f.dtype),  # first: the milder claim on a tie
                        "accumulated in": np.add.accumulate(e.astype(f.dtype), dtype=f.dtype)[-1]}
            for how, s in sums.items():  # the row sum the model predicts
                pred = e.sum() / float(s) if 0 < float(s) < math.inf else math.inf
                if abs(c - pred) < abs(c - model.get((how, f), math.inf)):
                    model[how, f] = pred
    fits = [m for m in model if abs(c - model[m]) <= min(tol, 0.25 * abs(c - 1))]  # noise, most of the error
    best = max(fits, key=lambda m: (m[1].p, -abs(c - model[m])), default=None)  # of several, the mildest claim
    if best is None or not ev.scaled(k, model[best]):  # and element by element
        return None
    (how, f), head = best, f"the sum is {best[0]} {best[1].name}"
    if how == "rounded to":
        return Hit(head, f"a row of {x.size} sums to {c:.6g}, as its sum rounded to {f.name} predicts")
    stall = f"a running {f.name} sum of 1s stalls at {2 ** f.p}"
    if (x == x[0]).all() and (o == o[0]).all() and o[0] > 0:
        return Hit(head, f"a row of {x.size} equal logits sums to {1 / o[0]:.6g}, not {x.size} ({stall})", 2)
    return Hit(head, f"a row of {x.size} sums to {c:.6g}, as a running {f.name} sum predicts ({stall})")


def _tail(ev: Evidence) -> Hit | None:
    """The last elements of a row are left out: of the output, or of the sum."""
    k = ev.worst_row()
    if k is None or (ev.x[k] == ev.x[k][0]).all():  # in a uniform row a stall looks the same: _accumulate
        return None
    o, ex, x, n = ev.out[k], ev.exp[k], ev.x[k], ev.x.shape[1]
    head = "the tail of the row is dropped"
    z = n - int(np.flatnonzero(o != 0).max(initial=-1)) - 1  # trailing zeros
    if 0 < z < n and (ex[n - z:] >= ev.fmt.min_normal).all():
        h = ex[: n - z]
        if ev.close(o[: n - z], h).all() or ev.close(o[: n - z], h / h.sum()).all():
            return Hit(head, f"the last {z} of {n} outputs are 0 (the row sums to {o.sum():.6g})")
    c, tol, e, t = float(o.sum()), ev.noise(k), _shifted_exp(x), np.arange(BLOCK, n, BLOCK)
    if c <= 1 + tol or not t.size:
        return None
    pred = e.sum() / np.cumsum(e)[t - 1]  # the row sum were the sum to stop after t
    miss = np.abs(c - pred)
    j = int(np.argmin(miss))
    if miss[j] > tol or (np.sort(miss)[1:2] <= 4 * tol).any() or not ev.scaled(k, float(pred[j])):
        return None  # one block boundary fits, only one, and element by element
    return Hit(head, f"the sum covers the first {t[j]} of {n} elements: outputs too large by {c - 1:.3g}, "
               f"the share of the last {n - t[j]}")


def _shift(ev: Evidence) -> Hit | None:
    """Bad rows are what exp(x) / sum(exp(x)) in some format gives, overflowing or underflowing there."""
    cd = FORMATS[ev.case_dtype]
    bad = np.isfinite(ev.x).all(1) & ~ev.close(ev.out, ev.exp).all(1)
    # |x| past a narrower format's range also breaks a kernel that casts down: not this signature.
    bad &= np.abs(ev.x).max(1) <= min((FORMATS[f].max_finite for f in NARROW if FORMATS[f].max_finite < cd.max_finite),
                                      default=math.inf)
    for f in (FORMATS[d] for d in (ev.case_dtype, "float32", "float64") if FORMATS[d].p >= cd.p):
        with np.errstate(all="ignore"):
            ed = np.exp(ev.x).astype(f.dtype).astype(np.float64)
            model = ed / np.sum(ed, axis=1, keepdims=True).astype(f.dtype).astype(np.float64)
        hit = bad & ev.explains(ev.out, model, ev.exp) & np.isfinite(ev.out).any(1)  # all-NaN fits any 0/0
        if hit.any():
            what = f"overflows above x ≈ {math.log(f.max_finite):.4g}" if (ev.x[hit].max(1) > 0).any() else \
                f"underflows below x ≈ {math.log(f.min_normal):.4g}"
            return Hit("no max shift", f"exp(x) {what} in {f.name}", joins=True)
    return None


def _ftz(ev: Evidence) -> Hit | None:
    o, e, tiny = ev.out, ev.exp, ev.fmt.min_normal
    if (e < 0).any():  # subnormal probabilities come from exp; other subnormal results from cancellation
        return None
    with np.errstate(invalid="ignore"):
        zeros = (o == 0) & (e != 0) & np.isfinite(e)
        if zeros.any() and (e[zeros] < tiny).all() and not ((o != 0) & (np.abs(o) < tiny)).any():
            return Hit("subnormal results flushed to zero", f"0 where the exact result is below {tiny:.3g}")
    return None


MODELS = (_nan, _narrow, _batch, _accumulate, _tail, _shift, _ftz)  # most specific first
SOFTMAX_ONLY = (_batch, _accumulate, _tail, _shift)  # models of softmax's rows


def _log_accumulate(r: dict) -> Hit | None:
    """log_softmax or logsumexp whose log S is the log of a sum kept in a
    narrower format: the logsumexp it implies (x_i - lsm_i, or its output) is
    max + log(running sum), within 4 ulps and 4 times closer than the exact one."""
    xa, out, exp = _case(r), _array(r.get("output")), _array(r.get("expected"))
    if xa is None or out is None or exp is None or r.get("function") not in ("log_softmax", "logsumexp"):
        return None
    x, axis = xa
    X = slices(x.astype(np.float64), axis)
    with np.errstate(invalid="ignore"):
        if r["function"] == "log_softmax" and out.shape == x.shape:  # the implied logsumexp of each row
            L, E = (np.median(X - slices(a.astype(np.float64), axis), axis=1) for a in (out, exp))
        elif r["function"] == "logsumexp" and out.size == X.shape[0]:
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
    for f in _summing_formats(fmt):
        S = float(np.add.accumulate(e.astype(f.dtype), dtype=f.dtype)[-1])
        if 0 < S < math.inf and abs(m + math.log(S) - L[k]) <= tol:
            return Hit(f"the sum is accumulated in {f.name}", f"a row of {n} has logsumexp {L[k]:.6g}, not "
                       f"{E[k]:.6g}: max + log of a running {f.name} sum ({S:.6g}, exactly {e.sum():.6g})")
    return None


def _hits(r: dict) -> list[Hit]:
    """Every signature one failing result fits, the most specific first."""
    if not isinstance(r, dict) or not isinstance(r.get("verdict"), str) or verdicts.passes(r["verdict"]):
        return []
    h, ev = _contract(r), _evidence(r)
    if h is None and ev is None and r.get("property") == "accuracy" and r.get("function") == "softmax":
        h = None if (row := _from_message(r)) is None else _accumulate(row)
    if h is None and r.get("property") == "accuracy":
        h = _log_accumulate(r)
    if h is not None or ev is None:
        return [h] if h is not None else []
    return [h for h in (m(ev) for m in MODELS if r.get("function") == "softmax" or m not in SOFTMAX_ONLY) if h]


def diagnose_one(result: dict) -> str | None:
    """The likely cause of one failing result, or None."""
    hs = _hits(result)
    return f"{hs[0].head}: {hs[0].detail}" if hs else None


def _narrow_by_size(results: list[dict], seen: set[str]) -> list[Hit]:
    """No output kept (a long case): accuracy errors of about one ulp of a narrower
    format, while that format's own accuracy passes (unless outputs said it: ``seen``)."""
    acc = [r for r in results if isinstance(r, dict) and r.get("property") == "accuracy"
           and r.get("function") == "softmax" and isinstance(r.get("verdict"), str) and isinstance(r.get("dtype"), str)]
    ok = {(str(r.get("impl")), r["dtype"]) for r in acc if verdicts.passes(r["verdict"])}
    hits = []
    for r in acc:
        d, ulps = FORMATS.get(r["dtype"]), r.get("max_ulp")
        if r["verdict"] != "out-of-bound" or r.get("output") is not None or d is None \
                or not isinstance(ulps, (int, float)):
            continue
        f = next((FORMATS[n] for n in reversed(NARROW) if FORMATS[n].p < d.p and (str(r.get("impl")), n) in ok
                  and FORMATS[n].u / 4 <= ulps * d.u <= 16 * FORMATS[n].u), None)
        if f is not None and f"{d.name} computed in {f.name}" not in seen:
            hits.append(Hit(f"{d.name} results only {f.name}-accurate", f"relative errors ~2**"
                            f"{math.log2(ulps * d.u):.0f} while {f.name} passes (computed or summed in {f.name}?)"))
    return hits


def diagnose(results: list[dict]) -> list[str]:
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

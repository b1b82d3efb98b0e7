"""Models of defects, checked against a failing output (harness/diagnosis.py
reads the results and names the cause): a running sum in a narrower format,
a sum that stops at a block boundary, exp without the max shift, NaN
swallowed, a batch-dependent result, flush to zero.  A model names a cause
only when it reproduces the output far better than the exact values do."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from oracles import FORMATS, Format

from .arrays import slices

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


NAN = Hit("NaN swallowed", "a row containing NaN gives finite outputs (a NaN-ignoring max or sum?)")


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


def summing_formats(fmt: Format) -> list[Format]:
    """Formats narrower than a correct kernel sums ``fmt`` in (half is meant to sum in float32), narrowest first."""
    return [FORMATS[n] for n in NARROW if FORMATS[n].p < max(fmt.p, 24)]


def accumulate(ev: Evidence) -> Hit | None:
    """Row sums as a sum kept in a narrower format makes them: running (sequential), or rounded once."""
    k = ev.worst_row()
    c, tol = (None, 0.0) if k is None else (float(ev.out[k].sum()), ev.noise(k))
    if c is None or abs(c - 1) <= tol:
        return None
    x, o, model = ev.x[k], ev.out[k], {}
    with np.errstate(over="ignore"):  # the terms as summed with the max shift, and without
        terms = [_shifted_exp(x)] + [e for e in [np.exp(x)] if np.isfinite(e).all() and e.sum() > 0]
    for f in summing_formats(ev.fmt):
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
    if k is None or (ev.x[k] == ev.x[k][0]).all():  # in a uniform row a stall looks the same: accumulate
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


MODELS = (_nan, _narrow, _batch, accumulate, _tail, _shift, _ftz)  # most specific first
SOFTMAX_ONLY = (_batch, accumulate, _tail, _shift)  # models of softmax's rows

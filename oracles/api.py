"""Array-level oracle: slices arrays, applies the special-value profile, and
runs each slice kernel through Ziv's loop.

``evaluate`` returns an :class:`Exact` with the correctly rounded output in the
target dtype and a double-double (hi + lo) form of the exact value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from . import exact as K
from .formats import Format, dtype_name, format_of
from .special import Resolved, check_profile, resolve

FUNCTIONS = (
    "softmax",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "softmax_jacobian",
    "softmax_vjp",
    "cross_entropy",
    "masked_softmax",
    "sparse_softmax",
    "sparse_log_softmax",
)


@dataclass
class Exact:
    """Correctly rounded result plus the exact value as hi + lo (float64)."""

    rounded: np.ndarray
    hi: np.ndarray
    lo: np.ndarray

    @property
    def dtype(self) -> str:
        return dtype_name(self.rounded.dtype)


class _Out:
    """Collects per-element (rounded, hi, lo) triples into flat lists."""

    def __init__(self, size: int):
        self.r = [0.0] * size
        self.h = [0.0] * size
        self.l = [0.0] * size

    def put(self, pos: list[int], enc: K.Enclosure) -> None:
        for p, r, h, lo in zip(pos, enc.rounded, enc.hi, enc.lo):
            self.r[p], self.h[p], self.l[p] = r, h, lo

    def fill(self, pos, value: float) -> None:
        for p in pos:
            self.r[p], self.h[p], self.l[p] = value, value, 0.0

    def build(self, shape, fmt: Format) -> Exact:
        return Exact(
            np.array(self.r, dtype=np.float64).astype(fmt.dtype).reshape(shape),
            np.array(self.h, dtype=np.float64).reshape(shape),
            np.array(self.l, dtype=np.float64).reshape(shape),
        )


def _rows(x: np.ndarray, axis: int) -> tuple[np.ndarray, tuple]:
    """Move ``axis`` last and flatten the rest: (rows, n) of exact Python floats."""
    moved = np.moveaxis(np.asarray(x), axis, -1)
    lead = int(np.prod(moved.shape[:-1], dtype=np.int64))
    return moved.reshape(lead, moved.shape[-1]).astype(np.float64), moved.shape


def _log_fill(v: float) -> float:
    return math.nan if math.isnan(v) else (-math.inf if v == 0 else math.log(v))


def _row_family(function: str, row, res: Resolved, out: _Out, base: int, fmt: Format, extra=None) -> None:
    """softmax / log_softmax / masked_softmax / vjp over one resolved slice."""
    n = len(row)
    pos = list(range(base, base + n))
    if res.fill is not None:
        out.fill(pos, _log_fill(res.fill) if function == "log_softmax" else res.fill)
        return
    active = set(res.active)  # once: a set per element would make long rows quadratic
    inactive = [base + i for i in range(n) if i not in active]
    act = [base + i for i in res.active]
    if function == "log_softmax":
        out.fill(inactive, -math.inf)
    else:
        out.fill(inactive, 0.0)
    if not act:
        return
    xs = list(res.values)
    if function == "log_softmax":
        enc = K.ziv(lambda: K.k_log_softmax(xs), fmt)
    elif function == "softmax_vjp":
        gs = [float(extra[i]) for i in res.active]
        if not all(math.isfinite(g) for g in gs):
            out.fill(pos, math.nan)
            return
        enc = K.ziv(lambda: K.k_softmax_vjp(xs, gs), fmt)
    else:
        enc = K.ziv(lambda: K.k_softmax(xs), fmt)
    out.put(act, enc)


def evaluate(
    function: str,
    x: np.ndarray,
    axis: int = -1,
    *,
    mask: np.ndarray | None = None,
    indices: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    upstream: np.ndarray | None = None,
    profile: str = "ieee",
    out_dtype=None,
) -> Exact:
    """Exact evaluation of ``function`` on the exact values of ``x``.

    Conventions (shared with the harness):
    - softmax, log_softmax, masked_softmax, softmax_vjp: output shape = x.shape.
    - logsumexp, cross_entropy: ``axis`` is reduced.
    - sigmoid: elementwise, ``axis`` ignored.
    - softmax_jacobian: (..., k) -> (..., k, k) over ``axis``.
    - masked_softmax: ``mask`` True = position takes part.
    - cross_entropy: integer ``labels`` (class index per slice) or float
      ``labels`` of x's shape (probability targets).
    - sparse_*: ``indices`` (nnz, ndim), sorted row-major and unique; the
      output is the (nnz,) values; slices run over the last dimension.
    """
    if function not in FUNCTIONS:
        raise ValueError(f"unknown function {function!r}; expected one of {', '.join(FUNCTIONS)}")
    check_profile(profile)
    x = np.asarray(x)
    fmt = format_of(out_dtype if out_dtype is not None else x.dtype)
    if function == "sigmoid":
        return _sigmoid(x, fmt)
    if function.startswith("sparse_"):
        return _sparse(function, x, indices, profile, fmt)
    ndim = max(x.ndim, 1)
    axis = axis % ndim if x.ndim else 0
    shape = x.shape or (1,)  # a 0-d x (and its mask or upstream gradient) is one row of one
    rows, moved_shape = _rows(x.reshape(shape), axis)
    n = moved_shape[-1]
    lead = moved_shape[:-1]
    keep = None
    if mask is not None and function == "masked_softmax":
        keep = np.moveaxis(np.asarray(mask, dtype=bool).reshape(shape), axis, -1).reshape(len(rows), n)
    if function in ("logsumexp", "cross_entropy"):
        return _reduce(function, x, rows, lead, axis, labels, keep, profile, fmt)
    if function == "softmax_jacobian":
        return _jacobian(rows, lead, n, keep, profile, fmt)
    g = None
    if function == "softmax_vjp":
        if upstream is None:
            raise ValueError("softmax_vjp needs an upstream gradient")
        g = np.moveaxis(np.asarray(upstream, dtype=np.float64).reshape(shape), axis, -1).reshape(len(rows), n)
    if function == "masked_softmax" and mask is None:
        raise ValueError("masked_softmax needs a mask")
    out = _Out(rows.size)
    for r, row in enumerate(rows):
        vals = row.tolist()
        res = resolve(vals, profile, None if keep is None else keep[r].tolist())
        _row_family(function, vals, res, out, r * n, fmt, None if g is None else g[r])
    ex = out.build(moved_shape, fmt)
    back = (lambda a: np.moveaxis(a, -1, axis).reshape(x.shape))
    return Exact(back(ex.rounded), back(ex.hi), back(ex.lo))


def _sigmoid(x: np.ndarray, fmt: Format) -> Exact:
    flat = np.asarray(x, dtype=np.float64).reshape(-1).tolist()
    out = _Out(len(flat))
    finite = [i for i, v in enumerate(flat) if math.isfinite(v)]
    for i, v in enumerate(flat):
        if not math.isfinite(v):
            out.fill([i], math.nan if math.isnan(v) else (1.0 if v > 0 else 0.0))
    if finite:
        vals = [flat[i] for i in finite]
        out.put(finite, _ziv_each(lambda v: [K.k_sigmoid(v)], vals, fmt))
    return out.build(x.shape, fmt)


def _ziv_each(kernel: Callable[[float], list], vals: list[float], fmt: Format) -> K.Enclosure:
    """Elementwise functions: run Ziv per element so one hard element does not
    make every other one pay for its precision."""
    r, h, lo = [], [], []
    for v in vals:
        e = K.ziv(partial(kernel, v), fmt)
        r += e.rounded
        h += e.hi
        lo += e.lo
    return K.Enclosure(r, h, lo, 0)


def _reduce(function, x, rows, lead, axis, labels, keep, profile, fmt) -> Exact:
    out = _Out(len(rows))
    soft = labels is not None and np.asarray(labels).dtype.kind not in "iub"  # float or bfloat16 targets
    if function == "cross_entropy":
        if labels is None:
            raise ValueError("cross_entropy needs labels (class indices or probability targets)")
        lab = np.asarray(labels)
        lab = np.moveaxis(lab, axis, -1).reshape(len(rows), -1).astype(np.float64) if soft else lab.reshape(-1)
    for r, row in enumerate(rows):
        vals = row.tolist()
        if function == "logsumexp":
            if any(math.isnan(v) for v in vals):
                out.fill([r], math.nan)
            elif math.inf in vals:
                out.fill([r], math.inf)
            else:
                fin = [v for v in vals if v != -math.inf]
                if fin:
                    out.put([r], K.ziv(partial(K.k_logsumexp, fin), fmt))
                else:
                    out.fill([r], -math.inf)
            continue
        res = resolve(vals, profile, None if keep is None else keep[r].tolist())
        if res.fill is not None:
            out.fill([r], math.nan if math.isnan(res.fill) else math.inf)
            continue
        xs = list(res.values)
        act = list(res.active)
        if soft:
            ts = lab[r].tolist()
            if any(not math.isfinite(t) for t in ts):
                out.fill([r], math.nan)
                continue
            act_set = set(act)
            off = [t for i, t in enumerate(ts) if i not in act_set]
            # IEEE first: one 0 * log(0) = 0 * -inf is NaN, and NaN + inf is NaN.
            if profile == "ieee" and any(t == 0 for t in off):
                out.fill([r], math.nan)
                continue
            if any(t != 0 for t in off):
                out.fill([r], math.inf)
                continue
            tact = [ts[i] for i in act]
            out.put([r], K.ziv(lambda: K.k_cross_entropy_soft(xs, tact), fmt))
        else:
            label = int(lab[r])
            if not 0 <= label < len(vals):
                raise ValueError(f"label {label} out of range for a slice of {len(vals)} classes")
            if label not in act:
                out.fill([r], math.inf)
                continue
            out.put([r], K.ziv(lambda: K.k_cross_entropy_index(xs, act.index(label)), fmt))
    return out.build(lead, fmt)


def _jacobian(rows, lead, n, keep, profile, fmt) -> Exact:
    out = _Out(len(rows) * n * n)
    for r, row in enumerate(rows):
        base = r * n * n
        res = resolve(row.tolist(), profile, None if keep is None else keep[r].tolist())
        if res.fill is not None:
            out.fill(range(base, base + n * n), res.fill if math.isnan(res.fill) else 0.0)
            continue
        out.fill(range(base, base + n * n), 0.0)
        act = list(res.active)
        if not act:
            continue
        pos = [base + i * n + j for i in act for j in act]
        xs = list(res.values)
        out.put(pos, K.ziv(lambda: K.k_softmax_jacobian(xs), fmt))
    return out.build(tuple(lead) + (n, n), fmt)


def _sparse(function, x, indices, profile, fmt) -> Exact:
    if indices is None:
        raise ValueError(f"{function} needs COO indices")
    idx = np.asarray(indices, dtype=np.int64).reshape(-1, max(x.ndim, 1))
    values = np.asarray(x, dtype=np.float64)[tuple(idx.T)] if len(idx) else np.zeros(0)
    out = _Out(len(idx))
    dense_fn = "log_softmax" if function == "sparse_log_softmax" else "softmax"
    for start, end in sparse_slices(idx):
        vals = values[start:end].tolist()
        _row_family(dense_fn, vals, resolve(vals, profile), out, start, fmt)
    return out.build((len(idx),), fmt)


def sparse_slices(indices: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each sparse slice: a run of entries (sorted row-major)
    that agree on every index but the last."""
    keys = [tuple(k) for k in np.asarray(indices)[:, :-1].tolist()]
    out, start = [], 0
    while start < len(keys):
        end = start
        while end < len(keys) and keys[end] == keys[start]:
            end += 1
        out.append((start, end))
        start = end
    return out


def _public(function: str):
    def fn(x, axis: int = -1, *, profile: str = "ieee", **kw) -> np.ndarray:
        return evaluate(function, np.asarray(x), axis, profile=profile, **kw).rounded

    fn.__name__ = function
    fn.__doc__ = f"Correctly rounded {function} of the exact values of ``x`` (in x.dtype)."
    return fn


softmax = _public("softmax")
log_softmax = _public("log_softmax")
logsumexp = _public("logsumexp")
softmax_jacobian = _public("softmax_jacobian")
masked_softmax = _public("masked_softmax")


def sigmoid(x, *, profile: str = "ieee") -> np.ndarray:
    """Correctly rounded logistic sigmoid, elementwise, in x.dtype."""
    return evaluate("sigmoid", np.asarray(x), profile=profile).rounded


def softmax_vjp(x, upstream, axis: int = -1, *, profile: str = "ieee") -> np.ndarray:
    return evaluate("softmax_vjp", np.asarray(x), axis, upstream=upstream, profile=profile).rounded


def cross_entropy(x, labels, axis: int = -1, *, profile: str = "ieee") -> np.ndarray:
    return evaluate("cross_entropy", np.asarray(x), axis, labels=labels, profile=profile).rounded


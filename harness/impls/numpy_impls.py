"""numpy and scipy implementations: the library functions, a plain stable
reference, Milakov & Gimelshein's online softmax, and a blocked softmax as
GPU kernels compute it.  Half-precision inputs are computed in float32 (the
way frameworks do it) and rounded once at the end; the scipy functions get
the raw input, so their half-precision behaviour is numpy's own.
"""

from __future__ import annotations

import numpy as np

from oracles.api import sparse_slices

from ..records import Case, Impl
from . import ALL_DTYPES, HALF, moved, unmove

BLOCK = 64


def _work(x: np.ndarray) -> np.ndarray:
    # bfloat16 has float32's range, so x - max can overflow in float32: use float64.
    if x.dtype.name == "bfloat16":
        return x.astype(np.float64)
    return x.astype(np.float32) if x.dtype.name in HALF else x


def stable_softmax(x: np.ndarray) -> np.ndarray:
    """exp(x - max) / sum, along the last axis."""
    w = _work(x)
    e = np.exp(w - np.max(w, axis=-1, keepdims=True))
    return (e / np.sum(e, axis=-1, keepdims=True)).astype(x.dtype)


def stable_log_softmax(x: np.ndarray) -> np.ndarray:
    w = _work(x)
    d = w - np.max(w, axis=-1, keepdims=True)
    return (d - np.log(np.sum(np.exp(d), axis=-1, keepdims=True))).astype(x.dtype)


def stable_logsumexp(x: np.ndarray) -> np.ndarray:
    w = _work(x)
    m = np.max(w, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # all -inf or +inf: shift by 0, let exp/log decide
    return (m[..., 0] + np.log(np.sum(np.exp(w - m), axis=-1))).astype(x.dtype)


def online_softmax(x: np.ndarray) -> np.ndarray:
    """One pass with a running max and a rescaled running sum (Milakov &
    Gimelshein 2018, "Online normalizer calculation for softmax")."""
    w = _work(x)
    m = np.full(w.shape[:-1], -np.inf, dtype=w.dtype)
    d = np.zeros(w.shape[:-1], dtype=w.dtype)
    for j in range(w.shape[-1]):
        m_new = np.maximum(m, w[..., j])
        # -inf - -inf is NaN: while the running max is still -inf, nothing rescales.
        scale = np.where(m == m_new, 1.0, np.exp(m - m_new))
        d = d * scale + np.where(w[..., j] == -np.inf, 0.0, np.exp(w[..., j] - m_new))
        m = m_new
    return (np.exp(w - m[..., None]) / d[..., None]).astype(x.dtype)


def blocked_softmax(x: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Per-block max and sum, then a rescaled combination (a GPU kernel's
    two-level reduction).  The tail block may be partial."""
    w = _work(x)
    n = w.shape[-1]
    if n == 0:
        return x.copy()
    ms, ss = [], []
    for start in range(0, n, block):
        blk = w[..., start:start + block]
        mb = np.max(blk, axis=-1)
        ms.append(mb)
        # A block of only -inf (a masked tile) must contribute 0, not exp(-inf + inf) = NaN.
        shift = np.where(mb == -np.inf, 0, mb)
        ss.append(np.sum(np.exp(blk - shift[..., None]), axis=-1))
    M = np.max(np.stack(ms, -1), axis=-1)
    S = sum(sb * np.exp(mb - M) for mb, sb in zip(ms, ss))
    return (np.exp(w - M[..., None]) / S[..., None]).astype(x.dtype)


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    w = _work(x)
    e = np.exp(-np.abs(w))
    return np.where(w >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def softmax_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    s = stable_softmax(_work(x))
    gw = g.astype(s.dtype)
    return (s * (gw - np.sum(gw * s, axis=-1, keepdims=True))).astype(x.dtype)


def softmax_jacobian(x: np.ndarray) -> np.ndarray:
    s = stable_softmax(_work(x))
    jac = -s[..., :, None] * s[..., None, :]
    idx = np.arange(s.shape[-1])
    jac[..., idx, idx] = s * (1 - s)
    return jac.astype(x.dtype)


def cross_entropy(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    lsm = stable_log_softmax(_work(x))
    if labels.dtype.kind not in "iub":
        t = labels.astype(lsm.dtype)
        # IEEE arithmetic, as the ieee profile says: 0 * log 0 = 0 * -inf is NaN.
        return (-np.sum(t * lsm, axis=-1)).astype(x.dtype)
    return (-np.take_along_axis(lsm, labels[..., None].astype(np.int64), axis=-1)[..., 0]).astype(x.dtype)


def masked_softmax(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Masked positions and fully masked slices give exact zeros."""
    w = np.where(keep, _work(x), -np.inf)
    m = np.max(w, axis=-1, keepdims=True)
    # Shift by 0 only for a fully masked / all -inf slice; +inf keeps inf - inf = NaN.
    e = np.where(keep, np.exp(w - np.where(m == -np.inf, 0, m)), 0)
    S = np.sum(e, axis=-1, keepdims=True)
    return np.where(S == 0, 0, e / np.where(S == 0, 1, S)).astype(x.dtype)


def sparse_rows(case: Case, fn) -> np.ndarray:
    """Apply a dense 1-D function to each sparse slice's explicit values."""
    idx = case.indices
    vals = case.logits[tuple(idx.T)]
    out = np.empty_like(vals)
    for start, end in sparse_slices(idx):
        out[start:end] = fn(vals[start:end])
    return out


def _along(fn):
    """Apply along the case's axis; an empty axis gives an empty output."""
    def call(c: Case) -> np.ndarray:
        x = moved(c)
        return unmove(x.copy() if x.shape[-1] == 0 else fn(x), c)

    return call


def _reduce(fn):
    """Reduce the case's axis; an empty axis gives -inf (log of an empty sum)."""
    def call(c: Case) -> np.ndarray:
        x = moved(c)
        return np.full(x.shape[:-1], -np.inf, x.dtype) if x.shape[-1] == 0 else fn(x)

    return call


def _scipy(name):
    def call(case: Case) -> np.ndarray:
        import scipy.special as sp

        return getattr(sp, name)(case.logits, axis=case.norm_axis) if name != "expit" else sp.expit(case.logits)

    return call


def _has_mask(c: Case):
    return None if c.mask is not None else "needs a mask"


def _has_labels(c: Case):
    return None if c.labels is not None else "needs labels"


def impls() -> list[Impl]:
    half = "float16/bfloat16 computed in float32"
    np_impls = [
        Impl("numpy.stable_softmax", "numpy", "softmax", _along(stable_softmax), notes=half),
        Impl("numpy.online_softmax", "numpy", "softmax", _along(online_softmax),
             notes="Milakov & Gimelshein 2018 one-pass online normalizer; " + half),
        Impl("numpy.blocked_softmax[block=64]", "numpy", "softmax", _along(blocked_softmax),
             notes="two-level per-block max/sum with a partial tail block; " + half),
        Impl("numpy.stable_log_softmax", "numpy", "log_softmax", _along(stable_log_softmax), notes=half),
        Impl("numpy.stable_logsumexp", "numpy", "logsumexp", _reduce(stable_logsumexp), notes=half),
        Impl("numpy.stable_sigmoid", "numpy", "sigmoid", lambda c: stable_sigmoid(c.logits), notes=half,
             partner="numpy.stable_softmax"),
        Impl("numpy.softmax_jacobian", "numpy", "softmax_jacobian", lambda c: softmax_jacobian(c.logits),
             last_axis_only=True, notes="s_i(1-s_i) on the diagonal; " + half),
        Impl("numpy.softmax_vjp", "numpy", "softmax_vjp",
             lambda c: unmove(softmax_vjp(moved(c), np.moveaxis(c.upstream, c.norm_axis, -1))
                              if c.row_length else moved(c).copy(), c), notes=half),
        Impl("numpy.cross_entropy", "numpy", "cross_entropy",
             lambda c: cross_entropy(moved(c), c.labels if c.labels.dtype.kind in "iub"
                                     else np.moveaxis(c.labels, c.norm_axis, -1)),
             supports=_has_labels, notes="-sum t log_softmax (IEEE: 0 * -inf is NaN); " + half),
        Impl("numpy.masked_softmax", "numpy", "masked_softmax",
             lambda c: unmove(masked_softmax(moved(c), np.moveaxis(c.mask, c.norm_axis, -1))
                              if c.row_length else moved(c).copy(), c),
             supports=_has_mask, profile="masked", notes="masked and fully masked give zeros; " + half),
        Impl("numpy.sparse_softmax", "numpy", "sparse_softmax", lambda c: sparse_rows(c, stable_softmax),
             notes="softmax over each slice's explicit entries; " + half),
    ]
    sp = [
        Impl(f"scipy.special.{name}", "scipy", fn, _scipy(name) if fn != "logsumexp" else _scipy(name),
             ALL_DTYPES, requires=("scipy",), notes="raw numpy arithmetic in the input dtype",
             partner="scipy.special.softmax" if fn == "sigmoid" else None)
        for name, fn in (("softmax", "softmax"), ("log_softmax", "log_softmax"),
                         ("logsumexp", "logsumexp"), ("expit", "sigmoid"))
    ]
    return np_impls + sp

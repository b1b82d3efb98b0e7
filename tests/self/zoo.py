"""The bug zoo: deliberately broken softmax-family implementations.

Each member names the defect class and the properties expected to catch it.
Detection must come from the general generators and properties: nothing in
the harness knows these members exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.impls import moved, unmove
from harness.impls.numpy_impls import sparse_rows, stable_log_softmax, stable_softmax
from harness.records import Case, Impl

F32_64 = ("float32", "float64")


def _w(x):
    return x.astype(np.float32) if x.dtype.name in ("float16", "bfloat16") else x


def _along(fn):
    return lambda c: unmove(fn(moved(c)).astype(c.logits.dtype), c)


# --- softmax defects -------------------------------------------------------

def unshifted(x):  # overflow: no max subtraction
    e = np.exp(_w(x))
    return e / e.sum(-1, keepdims=True)


def global_max(x):  # one max for the whole batch: other slices underflow to 0/0
    w = _w(x)
    e = np.exp(w - np.max(w))
    return e / e.sum(-1, keepdims=True)


def global_sum(x):  # one denominator for the whole batch
    w = _w(x)
    e = np.exp(w - w.max(-1, keepdims=True))
    return e / e.sum()


def square_broadcast(x):  # divides by a (N,) sum broadcast along the last axis
    w = _w(x)
    e = np.exp(w - w.max(-1, keepdims=True))
    try:
        return e / e.sum(-1)
    except ValueError:  # shapes differ: the author "fixed" it only there
        return e / e.sum(-1, keepdims=True)


def half_downcast(x):  # silently computes in float16
    return stable_softmax(x.astype(np.float16)).astype(x.dtype)


def clamped(x):  # clamps logits to [-30, 30] "for stability"
    return stable_softmax(np.clip(x, -30, 30))


def epsilon(x):  # adds an epsilon to the denominator
    w = _w(x)
    e = np.exp(w - w.max(-1, keepdims=True))
    return e / (e.sum(-1, keepdims=True) + 1e-6)


def nan_swallow(x):  # hides NaN/inf in the output
    return np.nan_to_num(stable_softmax(x), nan=0.0, posinf=1.0, neginf=0.0)


def block_tail(x, block=64):  # forgets the partial tail block in the sum
    w = _w(x)
    n = w.shape[-1]
    m = w.max(-1, keepdims=True)
    e = np.exp(w - m)
    full = (n // block) * block
    s = e[..., :full].sum(-1, keepdims=True) if full else e.sum(-1, keepdims=True)
    return e / s


def online_no_rescale(x):  # online softmax that never rescales the running sum
    w = _w(x)
    m = np.full(w.shape[:-1], -np.inf, dtype=w.dtype)
    d = np.zeros(w.shape[:-1], dtype=w.dtype)
    for j in range(w.shape[-1]):
        m_new = np.maximum(m, w[..., j])
        d = d + np.exp(w[..., j] - m_new)
        m = m_new
    return np.exp(w - m[..., None]) / d[..., None]


def blocked_masked_tile(x, block=4):  # two-level reduction; an all -inf tile gives exp(-inf + inf) = NaN
    w = _w(x)
    ms, ss = [], []
    for start in range(0, w.shape[-1], block):
        blk = w[..., start:start + block]
        mb = blk.max(-1)
        ms.append(mb)
        ss.append(np.exp(blk - mb[..., None]).sum(-1))
    M = np.max(np.stack(ms, -1), -1)
    S = sum(sb * np.exp(mb - M) for mb, sb in zip(ms, ss))
    return np.exp(w - M[..., None]) / S[..., None]


def long_row_half_sum(x):  # past 32 elements, a "fast path" keeps the sum in float16
    w = _w(x)
    e = np.exp(w - w.max(-1, keepdims=True))
    if w.shape[-1] > 32:
        return e / e.sum(-1, keepdims=True).astype(np.float16).astype(w.dtype)
    return e / e.sum(-1, keepdims=True)


def past_1024_grid(x):  # past 1024 elements a "sampled" fast path estimates the sum from every other term
    w = _w(x)
    e = np.exp(w - w.max(-1, keepdims=True))
    if w.shape[-1] > 1024:
        return e / (2 * e[..., ::2].sum(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def flush_subnormal(x):  # flushes subnormal probabilities to zero (FTZ): a defect in float16 only
    s = stable_softmax(x)
    return np.where(np.abs(s) < np.finfo(s.dtype).tiny, 0, s).astype(s.dtype)


def noisy(x):  # nondeterministic: adds run-to-run noise at the last bit
    s = stable_softmax(x)
    flip = np.random.default_rng().integers(0, 2, s.shape).astype(bool)
    return np.where(flip, np.nextafter(s, np.ones_like(s)), s).astype(s.dtype)


def mutate(case: Case):  # subtracts the max in place in the caller's array
    x = case.logits
    x -= x.max(axis=case.norm_axis, keepdims=True)
    return unmove(stable_softmax(moved(case)), case)


# --- other functions -------------------------------------------------------

def log_of_softmax(x):
    return np.log(stable_softmax(_w(x)))


def lse_naive(x):
    return np.log(np.sum(np.exp(_w(x)), axis=-1))


def lsm_unshifted(x):
    w = _w(x)
    return w - np.log(np.sum(np.exp(w), -1, keepdims=True))


def sigmoid_tanh(x):  # 0.5 (1 + tanh(x/2)): cancels for very negative x
    w = _w(x)
    return 0.5 * (1 + np.tanh(w / 2))


def jacobian_sign(x):  # diagonal s(1 + s) instead of s(1 - s)
    s = stable_softmax(_w(x))
    j = -s[..., :, None] * s[..., None, :]
    idx = np.arange(s.shape[-1])
    j[..., idx, idx] = s * (1 + s)
    return j


def vjp_no_weight(x, g):  # <g, 1> instead of <g, s>
    s = stable_softmax(_w(x))
    return s * (g - g.sum(-1, keepdims=True))


def ce_eps(x, labels):  # -log(softmax + 1e-7)
    s = stable_softmax(_w(x))
    return -np.log(np.take_along_axis(s, labels[..., None], -1)[..., 0] + 1e-7)


def mask_fill(x, keep):  # fills masked logits with -1e4 instead of excluding them
    return stable_softmax(np.where(keep, _w(x), -1e4))


def mask_after(x, keep):  # multiplies by the mask after softmax, no renormalisation
    return stable_softmax(_w(x)) * keep


def sparse_dense_zero(case: Case):  # treats implicit entries as logit 0
    dense = np.zeros(case.logits.shape, dtype=case.logits.dtype)
    idx = tuple(case.indices.T)
    dense[idx] = case.logits[idx]
    return stable_softmax(dense)[idx]


def wrong_axis(case: Case):  # always reduces axis 0
    return stable_softmax(np.moveaxis(case.logits, 0, -1)).swapaxes(0, -1) if case.logits.ndim > 1 else \
        stable_softmax(case.logits)


@dataclass
class Member:
    impl: Impl
    expect: tuple[str, ...]  # properties any one of which must flag it
    dtypes: tuple[str, ...] = F32_64


def _impl(name, function, fn, **kw):
    return Impl(f"zoo.{name}", "zoo", function, fn, **kw)


def _mask(fn):
    return lambda c: unmove(fn(moved(c), np.moveaxis(c.mask, c.norm_axis, -1)).astype(c.logits.dtype), c)


MEMBERS = [
    Member(_impl("overflow_unshifted", "softmax", _along(unshifted)), ("accuracy", "stability")),
    Member(_impl("wrong_axis", "softmax", wrong_axis), ("accuracy", "sum_to_one")),
    Member(_impl("square_broadcast", "softmax", _along(square_broadcast), ranks=(2,), last_axis_only=True),
           ("accuracy", "sum_to_one")),
    Member(_impl("global_max", "softmax", _along(global_max)), ("accuracy", "stability")),
    Member(_impl("global_sum", "softmax", _along(global_sum)), ("accuracy", "sum_to_one")),
    Member(_impl("half_downcast", "softmax", _along(half_downcast)), ("accuracy",)),
    Member(_impl("dtype_change", "softmax", lambda c: unmove(stable_softmax(moved(c).astype(np.float64)), c)),
           ("contract",), ("float32",)),
    Member(_impl("input_mutation", "softmax", mutate), ("contract",)),
    Member(_impl("nan_swallow", "softmax", _along(nan_swallow)), ("special_values", "accuracy")),
    Member(_impl("clamp_logits", "softmax", _along(clamped)), ("accuracy",)),
    # In float32 a 1e-6 relative error (~17 ulp) is inside the worst-case
    # recursive-summation bound, so only float64 is expected to flag it.
    Member(_impl("epsilon_denominator", "softmax", _along(epsilon)), ("accuracy",), ("float64",)),
    Member(_impl("block_tail", "softmax", _along(block_tail)), ("accuracy", "sum_to_one")),
    Member(_impl("online_no_rescale", "softmax", _along(online_no_rescale)), ("accuracy", "sum_to_one")),
    Member(_impl("blocked_masked_tile", "softmax", _along(blocked_masked_tile)), ("accuracy", "stability")),
    Member(_impl("long_row_half_sum", "softmax", _along(long_row_half_sum)), ("accuracy",)),
    Member(_impl("past_1024_grid", "softmax", _along(past_1024_grid)), ("accuracy", "sum_to_one")),
    # FTZ is the named, passing verdict ftz in bfloat16/float32/float64 (policy.py); float16 loses up to 6.1e-5.
    Member(_impl("flush_subnormal", "softmax", _along(flush_subnormal)), ("stability", "accuracy"), ("float16",)),
    Member(_impl("nondeterministic", "softmax", _along(noisy)), ("contract",)),
    Member(_impl("mask_fill_-1e4", "masked_softmax", _mask(mask_fill)), ("masked", "accuracy")),
    Member(_impl("mask_after_softmax", "masked_softmax", _mask(mask_after)), ("accuracy", "sum_to_one")),
    Member(_impl("log_of_softmax", "log_softmax", _along(log_of_softmax)), ("accuracy", "stability")),
    Member(_impl("log_softmax_unshifted", "log_softmax", _along(lsm_unshifted)), ("accuracy", "stability")),
    Member(_impl("naive_logsumexp", "logsumexp", lambda c: lse_naive(moved(c)).astype(c.logits.dtype)),
           ("accuracy", "stability")),
    Member(_impl("sigmoid_tanh", "sigmoid", lambda c: sigmoid_tanh(c.logits).astype(c.logits.dtype),
                 partner="numpy.stable_softmax"), ("sigmoid_equivalence", "accuracy")),
    Member(_impl("jacobian_sign", "softmax_jacobian",
                 lambda c: jacobian_sign(c.logits).astype(c.logits.dtype), last_axis_only=True),
           ("accuracy", "jacobian")),
    Member(_impl("vjp_unweighted_dot", "softmax_vjp",
                 lambda c: unmove(vjp_no_weight(moved(c), np.moveaxis(c.upstream, c.norm_axis, -1))
                                  .astype(c.logits.dtype), c)), ("accuracy",)),
    Member(_impl("cross_entropy_eps", "cross_entropy", lambda c: ce_eps(moved(c), c.labels).astype(c.logits.dtype),
                 supports=lambda c: None if c.labels is not None and c.labels.dtype.kind in "iu" else "index labels"),
           ("accuracy",), ("float64",)),  # f32: a 1e-7 epsilon is ~u, inside the budget
    Member(_impl("sparse_implicit_zero", "sparse_softmax", sparse_dense_zero,
                 supports=lambda c: None if c.indices is not None else "needs indices"), ("accuracy",)),
]

# Correct controls: must never be flagged, in any dtype.
CONTROLS = (
    "numpy.stable_softmax", "numpy.online_softmax", "numpy.blocked_softmax[block=64]", "numpy.stable_log_softmax",
    "numpy.stable_logsumexp", "numpy.stable_sigmoid", "numpy.softmax_jacobian", "numpy.softmax_vjp",
    "numpy.cross_entropy", "numpy.masked_softmax", "numpy.sparse_softmax",
)

# keep the helpers referenced (used by members through closures)
__all__ = ["CONTROLS", "MEMBERS", "Member", "sparse_rows", "stable_log_softmax"]

"""The bug zoo: deliberately broken softmax-family implementations.

Each member names the defect class and the properties expected to catch it
(each of them, in each of its dtypes: test_bug_zoo.py); for every property
some member is caught by that property alone (test_mutation.py).  Detection
must come from the general generators and properties: nothing in the
harness knows these members exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness import verdicts
from harness.conformance import FIXED, explore, fixed
from harness.impls import moved, unmove
from harness.impls.numpy_impls import (
    masked_softmax,
    sparse_rows,
    stable_log_softmax,
    stable_logsumexp,
    stable_sigmoid,
    stable_softmax,
)
from harness.records import Case, Impl

F32_64 = ("float32", "float64")


def _w(x):
    return x.astype(np.float32) if x.dtype.name in ("float16", "bfloat16") else x


def _along(fn):
    # An empty axis gives an empty output: the members' defects lie elsewhere.
    return lambda c: unmove(fn(moved(c)).astype(c.logits.dtype) if c.row_length else moved(c).copy(), c)


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


def flush_subnormal(x):  # flushes subnormal probabilities to zero (FTZ) in float16
    s = stable_softmax(x)
    return np.where(np.abs(s) < np.finfo(s.dtype).tiny, 0, s).astype(s.dtype)


# --- defects inside the summation budget -----------------------------------
# From LONG elements on accuracy must allow SAFETY * (n - 1) >= 1998 ulps of
# summation error, so a per-element error of up to ~1500 ulps passes it; only
# a comparison in which the slice's common error cancels sees it.

LONG = 1000
LN2 = float(np.log(2))


def fast_exp(d, step=LN2):
    """exp after range reduction by ``step`` (ln2, or ln2 / 2 with a sqrt2
    table) with a degree-4 Taylor polynomial: relative error up to
    |r|**5 / 120 at |r| = step / 2, 4.2e-5 (~700 float32 ulps) for ln2 and
    1.3e-6 (~22) for ln2 / 2."""
    d = np.asarray(d, dtype=np.float64)
    with np.errstate(all="ignore"):
        dc = np.nan_to_num(np.clip(d, -1e4, 1e4), nan=0.0)
        k = np.rint(dc / step)
        r = dc - k * step
        p = 1 + r * (1 + r * (1 / 2 + r * (1 / 6 + r / 24)))
        halves = int(round(LN2 / step))  # 1 or 2 steps per power of two
        k = k.astype(np.int64)
        p = p * np.where(k % halves, np.sqrt(2.0), 1.0)
        return np.where(np.isnan(d), np.nan, np.where(d == -np.inf, 0.0, np.ldexp(p, k // halves)))


def _long_rows(fast, ref):
    """``fast`` on long slices whose logits are all finite, ``ref`` otherwise."""
    def call(x):
        if x.shape[-1] < LONG:
            return ref(x)
        w = x.astype(np.float64)
        ok = np.isfinite(w).all(-1, keepdims=True)
        return np.where(ok, fast(np.where(ok, w, 0.0)), ref(x).astype(np.float64)).astype(x.dtype)
    return call


def _fast_softmax(w):  # vectorised long-row path with a polynomial exp: errors differ element to element
    e = fast_exp(w - w.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def fast_log(p):
    """log p = k ln2 + 2 atanh(z), z = (m - 1)/(m + 1), m in [1/sqrt2, sqrt2),
    the series cut after z**3: absolute error up to 2 z**5 / 5 = 6e-5."""
    m, k = np.frexp(p)
    lo = m < np.sqrt(0.5)
    m, k = np.where(lo, 2 * m, m), np.where(lo, k - 1, k)
    z = (m - 1) / (m + 1)
    return k * np.log(2) + 2 * (z + z ** 3 / 3)


def _fast_log_softmax(w):  # long-row path: log of the probabilities by a polynomial log
    d = w - w.max(-1, keepdims=True)
    S = np.exp(d).sum(-1, keepdims=True)
    p = np.exp(d) / S
    # Where p underflows the kernel falls back to d - log S, so nothing goes -inf.
    with np.errstate(all="ignore"):
        return np.where(p > 1e-300, fast_log(np.where(p > 1e-300, p, 1.0)), d - np.log(S))


def tile_rescale_fast_exp(x, keep, tile=128):  # per-tile correction exp(m_t - M) by a polynomial exp
    w = np.where(keep, x.astype(np.float64), -np.inf)
    if w.shape[-1] < LONG or not np.isfinite(np.where(keep, w, 0)).all():
        return masked_softmax(x, keep)
    ms, es = [], []
    for start in range(0, w.shape[-1], tile):
        blk = w[..., start:start + tile]
        mb = blk.max(-1, keepdims=True)
        ms.append(mb)
        es.append(np.exp(blk - np.where(mb == -np.inf, 0, mb)))
    M = np.max(np.concatenate(ms, -1), -1, keepdims=True)
    M = np.where(M == -np.inf, 0, M)  # a fully masked slice: every term is 0
    scaled = [eb * fast_exp(mb - M) for mb, eb in zip(ms, es)]
    e = np.concatenate(scaled, -1)
    S = e.sum(-1, keepdims=True)
    return np.where(S > 0, e / np.where(S > 0, S, 1), 0.0).astype(x.dtype)


def fixed_point_logits(x, keep, frac_bits=15):  # rounds logits to a Q.15 grid before the max subtraction
    # Each probability moves by up to 2**-16 relative (~256 ulps), differently at x and at x + c.
    if x.shape[-1] < LONG:
        return masked_softmax(x, keep)
    q = np.where(np.isfinite(x), np.round(x.astype(np.float64) * 2.0 ** frac_bits) / 2.0 ** frac_bits, x)
    return masked_softmax(q, keep).astype(x.dtype)


def jacobian_two_vectors(x):  # s_i (delta_ij - t_j) from two probability vectors: t recomputed with a fast exp
    # t is off by up to ~50 ulps: inside accuracy's Jacobian budget (>= 82 ulps at n = 2), far outside symmetry's.
    s = stable_softmax(_w(x)).astype(np.float64)
    w = x.astype(np.float64)
    e = fast_exp(w - w.max(-1, keepdims=True), step=LN2 / 2)
    t = e / e.sum(-1, keepdims=True)
    j = -s[..., :, None] * t[..., None, :]
    idx = np.arange(s.shape[-1])
    j[..., idx, idx] = s * (1 - t)
    return j


# --- defects one property alone sees ----------------------------------------

def lse_truncated_sum(x):  # long-row path stores the sum as bfloat16 by dropping the low 16 bits of a float32
    w = x.astype(np.float64)
    if w.shape[-1] < LONG or not np.isfinite(w).all():
        return stable_logsumexp(x)
    m = w.max(-1)
    S = np.exp(w - m[..., None]).sum(-1).astype(np.float32)
    # Truncation only lowers S (to no less than 1): the result stays in [max, max + log n].
    return m + np.log((S.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32).astype(np.float64))


def reciprocal_up(x):  # multiplies by 1/S rounded up: a dominant probability comes out as 1 + ulp
    w = _w(x)
    e = np.exp(w - w.max(-1, keepdims=True))
    r = np.nextafter((1 / e.sum(-1, keepdims=True)).astype(w.dtype), np.array(np.inf, w.dtype))
    return e * r


def log_safe_floor(x, keep):  # clamps to the smallest positive float "so a later log is finite"
    s = masked_softmax(x, keep)
    return np.maximum(s, np.nextafter(np.zeros((), s.dtype), np.ones((), s.dtype)))


def pad_lane(x):  # pads each slice to at least one SIMD lane: an empty axis returns the pad (NaN), shape (..., 1)
    if x.shape[-1] == 0:
        x = np.full(x.shape[:-1] + (1,), -np.inf, x.dtype)
    return stable_softmax(x)


def noisy(x):  # nondeterministic: adds run-to-run noise at the last bit
    s = stable_softmax(x)
    flip = np.random.default_rng().integers(0, 2, s.shape).astype(bool) & (s > 0)  # nonzero results only
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


def flags(impl: Impl, dtype: str, prop: str) -> str | None:
    """What ``prop`` says against ``impl`` in ``dtype`` within the ci budget
    (None: it passes); special values through their fixed classes, as the
    suite runs them."""
    results = fixed(impl, dtype, prop) if prop in FIXED else [explore(impl, dtype, prop, budget="ci")]
    bad = [r for r in results if not verdicts.passes(r.verdict)]
    return f"{bad[0].verdict}: {bad[0].message[:200]}" if bad else None


@dataclass
class Member:
    impl: Impl
    expect: tuple[str, ...]  # properties each of which must flag it, in every dtype
    dtypes: tuple[str, ...] = F32_64
    only: dict[str, tuple[str, ...]] | None = None  # expected properties that flag it in fewer dtypes

    def dtypes_for(self, prop: str) -> tuple[str, ...]:
        return (self.only or {}).get(prop, self.dtypes)


def _impl(name, function, fn, **kw):
    return Impl(f"zoo.{name}", "zoo", function, fn, **kw)


def _mask(fn):
    return lambda c: unmove(fn(moved(c), np.moveaxis(c.mask, c.norm_axis, -1)).astype(c.logits.dtype)
                            if c.row_length else moved(c).copy(), c)


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
    Member(_impl("flush_subnormal", "softmax", _along(flush_subnormal)), ("stability", "accuracy"), ("float16",)),
    Member(_impl("nondeterministic", "softmax", _along(noisy)), ("contract",)),
    # The fill leaks only where every kept logit is far below -1e4: the ci draws reach that in float64.
    Member(_impl("mask_fill_-1e4", "masked_softmax", _mask(mask_fill)), ("masked", "accuracy"),
           only={"masked": ("float64",)}),
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
    # Each of these escapes every property but the one named (test_mutation.py).
    Member(_impl("long_row_fast_exp", "softmax", _along(_long_rows(_fast_softmax, stable_softmax))),
           ("monotonicity",), ("float32",)),
    Member(_impl("long_row_fast_log", "log_softmax", _along(_long_rows(_fast_log_softmax, stable_log_softmax))),
           ("log_consistency",), ("float32",)),
    Member(_impl("tile_rescale_fast_exp", "masked_softmax", _mask(tile_rescale_fast_exp), profile="masked"),
           ("permutation",), ("float32",)),
    Member(_impl("fixed_point_logits", "masked_softmax", _mask(fixed_point_logits), profile="masked"),
           ("shift_invariance",), ("float32",)),
    Member(_impl("reciprocal_round_up", "softmax", _along(reciprocal_up)), ("sum_to_one",)),
    Member(_impl("long_row_truncated_sum_lse", "logsumexp",
                 lambda c: lse_truncated_sum(moved(c)).astype(c.logits.dtype) if c.row_length else
                 np.full(moved(c).shape[:-1], -np.inf, c.logits.dtype)), ("accuracy",)),
    Member(_impl("jacobian_two_vectors", "softmax_jacobian",
                 lambda c: jacobian_two_vectors(c.logits).astype(c.logits.dtype), last_axis_only=True),
           ("jacobian",), ("float32",)),
    # The seed article's claim on its own code: its from-scratch (unshifted)
    # torch softmax is not the sigmoid it says it equals; it overflows past x = 88.
    Member(_impl("sigmoid_beside_scratch_softmax", "sigmoid", lambda c: stable_sigmoid(c.logits),
                 partner="torch.seed_scratch_softmax[cpu]", requires=("torch",)), ("sigmoid_equivalence",)),
    Member(_impl("log_safe_floor", "masked_softmax", _mask(log_safe_floor), profile="masked"), ("masked",)),
    Member(_impl("empty_axis_pad_lane", "softmax", lambda c: unmove(pad_lane(moved(c)), c)), ("special_values",)),
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
__all__ = ["CONTROLS", "MEMBERS", "Member", "flags", "sparse_rows", "stable_log_softmax"]

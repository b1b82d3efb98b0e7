r"""Tolerances and verdicts, in one place, with the error analysis beside them.

Notation: u = 2**-p is the unit roundoff of the *output* dtype; u_acc is the
unit roundoff of the accumulator (float32 for float16/bfloat16 outputs, since
every mainstream implementation accumulates half precision in float32; the
output dtype otherwise).  For slice i: m = max_j x_j, d_i = x_i - m <= 0,
e_i = exp(d_i), S = sum_j e_j, s_i = e_i / S, L = log S, n = slice length.

Shifted softmax  s_i = fl(exp(fl(x_i - m))) / fl(sum_j ...)
(Blanchard, D. J. Higham & N. J. Higham, "Accurately computing the log-sum-exp
and softmax functions", IMA J. Numer. Anal. 41(4), 2021), to first order:

    |s^_i - s_i| / s_i <= u * ( |d_i|            rounding of x_i - m, amplified by exp
                              + C_EXP           exp itself (vector libms: <= ~4 ulp)
                              + 1               the division
                              + sum_j s_j (|d_j| + C_EXP) )   error of the terms of S
                          + u_acc * SUM(n)      summation: ceil(log2 n) + 1 for pairwise /
                                                blocked sums ("good"), n - 1 for recursive
                                                summation ("bounded", worst case)

So a correct float32 implementation may show ~34 ulp at |x_i - m| = 40 and
must not be flagged; a fixed rtol is wrong in both directions.

log_softmax  lsm_i = fl(fl(d_i) - fl(log S)) is judged in *absolute* error,
since it has no relative bound near 0 (e.g. x = [0, -20] in float32 gives 0
for -2e-9; every framework does this):

    |err| <= u * (|d_i| + C_LOG |L| + |lsm_i|) + rel_err(S)

where rel_err(S) is the relative error of S from the line above (it becomes
an absolute error in log S).

logsumexp  lse = m + log S:  |err| <= u * (C_LOG |L| + |lse|) + rel_err(S).

sigmoid  1/(1+exp(-x)) for x >= 0, exp(x)/(1+exp(x)) for x < 0:
    relative error <= u * (C_EXP + 3);  x is exact, so no input term.

softmax Jacobian  J_ij = s_i delta_ij - s_i s_j: absolute error
    <= u * (s_i eps_i delta_ij + s_i s_j (eps_i + eps_j + 1) + |J_ij|)
The diagonal s_i - s_i**2 cancels when s_i ~ 1: the bound is absolute on
purpose, and an implementation that computes s_i (1 - s_i) is simply better.

softmax VJP  v_i = s_i (g_i - <g, s>):
    err(<g,s>) <= u * sum_j |g_j| s_j (eps_j + SUM(n) + 1)
    |err v_i| <= s_i err(<g,s>) + u * s_i |g_i - <g,s>| (eps_i + 2)

cross-entropy  index label: -lsm_label (log_softmax's bound);  soft targets:
    sum_j t_j err(lsm_j) + u * n * sum_j t_j |lsm_j|.

Every budget gets ABS_ULPS smallest subnormals on top: an operation whose
result is subnormal has an absolute, not relative, rounding error.
Flush to zero (FTZ): returning 0 where the exact result is subnormal loses at
most the dtype's smallest normal number in absolute terms: 1.2e-38 in
bfloat16 and float32, 2.2e-308 in float64, below anything a probability can
mean.  That passes as the named verdict "ftz".  In float16 the smallest normal
is 6.1e-5, a probability a sampler can draw: there FTZ is out-of-bound.

Grades, per element, then the worst over the output:
    exact <= 0.5 ulp; faithful <= 1 ulp; good <= the log2(n) bound;
    bounded <= SAFETY * the recursive-summation bound; else out-of-bound.
The verdicts, their order and the gates are in harness/verdicts.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from oracles import FORMATS, Format

from .budget_arrays import compact, distances, owned, per_ulp, shifted
from .functions import PROBABILITIES
from .verdicts import GRADES

C_EXP = 4.0
C_LOG = 4.0
SAFETY = 2.0
ABS_ULPS = 2.0

FTZ_PASSES_BELOW = 1e-30  # smallest normal under which a flush is "ftz" (bf16/f32/f64), not a defect (f16)


def flushed(got: np.ndarray, exact_rounded: np.ndarray, fmt: Format, where: np.ndarray) -> bool:
    """Every element in ``where`` is a 0 whose exact value is subnormal."""
    g, e = np.asarray(got, dtype=np.float64), np.asarray(exact_rounded, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        sub = (g == 0) & (e != 0) & (np.abs(e) < fmt.min_normal)
    return bool(where.any() and sub[where].all())


def flush_verdict(fmt: Format) -> str:
    return "ftz" if fmt.min_normal < FTZ_PASSES_BELOW else "out-of-bound"


def flush_message(fmt: Format) -> str:
    return (f"subnormal results flushed to zero (FTZ): up to {fmt.min_normal:.2g} lost"
            + ("" if fmt.min_normal < FTZ_PASSES_BELOW else f", a real probability in {fmt.name}"))


def acc_format(fmt: Format) -> Format:
    """Accumulator format assumed for sums: float32 for half-precision outputs."""
    return FORMATS["float32"] if fmt.p < 24 else fmt


@dataclass
class Budget:
    """Per-element budgets in ulps of the output dtype."""

    good: np.ndarray
    bounded: np.ndarray
    # Outputs whose stable algorithm has no finite bound (see beyond_range): a
    # non-finite result there is that algorithm's own outcome, graded bounded.
    beyond: np.ndarray | None = None


def _sum_terms(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ceil(log2 n) + 1, n - 1) as read-only views of n's shape, computed once
    per slice (n is a broadcast view): elementwise, so the same numbers."""
    c = np.maximum(np.asarray(compact(n), dtype=np.float64), 1.0)
    shape = np.shape(n)
    return np.broadcast_to(np.ceil(np.log2(c)) + 1.0, shape), np.broadcast_to(c - 1.0, shape)


@dataclass
class RowStats:
    """Float64 quantities of each slice, broadcast to the logits' moved shape
    (slices along the last axis).  Accuracy of these is irrelevant: they only
    scale budgets.  n, L, m and w are constant along a slice: broadcast views."""

    d: np.ndarray  # x_i - m (-inf for excluded positions)
    s: np.ndarray  # softmax
    n: np.ndarray  # slice length (broadcast)
    L: np.ndarray  # log S
    m: np.ndarray  # slice max
    w: np.ndarray  # sum_j s_j (|d_j| + C_EXP)
    ad: np.ndarray | None = None  # distances(d), once: see gaps

    def gaps(self) -> np.ndarray:
        """|d_i| where finite, else 0 (read only: shared by every budget of these rows)."""
        if self.ad is None:
            self.ad = distances(self.d)
            self.ad.flags.writeable = False
        return self.ad


def row_stats(x: np.ndarray, keep: np.ndarray | None = None) -> RowStats:
    """``x`` has slices on its last axis (any leading shape)."""
    x = np.asarray(x, dtype=np.float64)
    if keep is not None:
        x = np.where(keep, x, -np.inf)
    n = np.broadcast_to(float(x.shape[-1]) if x.ndim else 1.0, x.shape)
    d, m = shifted(x)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        e = np.exp(d)
        S = np.sum(e, axis=-1, keepdims=True)
        S = np.where(S > 0, S, 1.0)
        s = np.divide(e, S, out=e)
        ad = distances(d)
        t = ad + C_EXP
        w = np.sum(np.multiply(t, s, out=t), axis=-1, keepdims=True)  # sum_j s_j (|d_j| + C_EXP)
        L = np.log(S)
    ad.flags.writeable = False
    b = np.broadcast_to
    return RowStats(d, s, n, b(L, x.shape), b(m, x.shape), b(w, x.shape), ad)


def _softmax_rel(st: RowStats, fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    """Relative error coefficients in units of u (good, bounded), C order."""
    ua = acc_format(fmt).u / fmt.u
    g_sum, b_sum = _sum_terms(compact(st.n))
    core = st.gaps() + C_EXP
    core += 1.0
    core += st.w
    np.minimum(core, 1e300, out=core)  # |d| near max finite: keep finite
    # C order, as when n was a full C-ordered array: later sums over these follow the layout.
    good = np.add(core, ua * g_sum, out=np.empty(core.shape))
    bounded = np.add(core, ua * b_sum, out=core if core.flags.c_contiguous else np.empty(core.shape))
    bounded *= SAFETY
    return good, bounded


def to_ulps(abs_err_u: np.ndarray, fmt: Format, ulp: np.ndarray, own: bool = False) -> np.ndarray:
    """Absolute error given in units of u -> ulps, plus the subnormal allowance.
    ``own``: abs_err_u is a float64 temporary the caller gives up (reused)."""
    e = owned(abs_err_u, own)
    np.minimum(e, 1e300, out=e)  # +inf -> 1e300
    if not np.isfinite(e).all():  # as nan_to_num: nan -> 0, -inf -> -max
        e[np.isnan(e)] = 0.0
        np.maximum(e, -np.finfo(np.float64).max, out=e)
    e *= fmt.u
    e += ABS_ULPS * fmt.min_subnormal
    return per_ulp(e, ulp)


def abs_to_ulps(abs_err: np.ndarray, fmt: Format, ulp: np.ndarray, own: bool = False) -> np.ndarray:
    """Absolute error (already multiplied by u) -> ulps, plus the subnormal allowance."""
    e = owned(abs_err, own)
    if not np.isfinite(e).all():  # as nan_to_num: nan -> 0, +-inf -> +max_finite, -max
        e[np.isnan(e)] = 0.0
        e[np.isposinf(e)] = fmt.max_finite
        np.maximum(e, -np.finfo(np.float64).max, out=e)
    e += ABS_ULPS * fmt.min_subnormal
    return per_ulp(e, ulp)


def budgets(function: str, stats: RowStats, exact_abs: np.ndarray, fmt: Format, ulp: np.ndarray,
            extra: np.ndarray | None = None) -> Budget:
    """Budgets for ``function``; an overflowing budget is +inf (anything goes
    there, e.g. a subnormal ulp beside a huge |x|), without a warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _budgets(function, stats, exact_abs, fmt, ulp, extra)


def _budgets(function: str, stats: RowStats, exact_abs: np.ndarray, fmt: Format, ulp: np.ndarray,
             extra: np.ndarray | None = None) -> Budget:
    """Budgets for ``function``.  ``stats`` describes the input slices (moved
    to the last axis); ``exact_abs`` and ``ulp`` are in the *output* layout
    (for reductions the slice axis is gone; Jacobians gain one)."""
    if function == "sigmoid":  # no slices: nothing of the row stats
        rel = (C_EXP + 3.0) * exact_abs
        return Budget(to_ulps(rel, fmt, ulp), to_ulps(SAFETY * rel, fmt, ulp, own=True))
    ua = acc_format(fmt).u / fmt.u
    # Per-slice quantities stay one value per slice (compact); full-size results
    # are made C-ordered, the layout they had when n was a full C array (sums
    # over budgets, e.g. in sum_to_one, follow the layout).
    g_sum, b_sum = _sum_terms(compact(stats.n))
    rel_g, rel_b = _softmax_rel(stats, fmt)
    ad = stats.gaps()
    if function in PROBABILITIES:
        return Budget(to_ulps(np.multiply(rel_g, exact_abs, out=rel_g), fmt, ulp, own=True),
                      to_ulps(np.multiply(rel_b, exact_abs, out=rel_b), fmt, ulp, own=True))
    w, L = compact(stats.w), compact(stats.L)
    if function in ("softmax_vjp", "cross_entropy"):  # short rows (mpmath-judged): full arrays, as always
        g_sum, b_sum = (np.ascontiguousarray(np.broadcast_to(t, stats.d.shape)) for t in (g_sum, b_sum))
        w, L = stats.w, stats.L
    sumS_g = w + ua * g_sum  # relative error of S, units of u
    sumS_b = w + ua * b_sum
    absL = np.abs(L)
    # The log family adds terms of size |x| ~ max finite: scale by u *before*
    # adding (absolute units), or the sum overflows and the budget collapses.
    U = fmt.u
    if function in ("log_softmax", "sparse_log_softmax"):
        base = ad * U
        base += C_LOG * U * absL
        base += exact_abs * U
        bounded = np.add(base, sumS_b * U, out=np.empty(base.shape))
        bounded *= SAFETY
        return Budget(abs_to_ulps(np.add(base, sumS_g * U, out=base if base.flags.c_contiguous else
                                          np.empty(base.shape)), fmt, ulp, own=True),
                      abs_to_ulps(bounded, fmt, ulp, own=True))
    if function == "logsumexp":
        base = C_LOG * U * absL[..., 0] + exact_abs * U
        bounded = np.add(base, sumS_b[..., 0] * U, out=np.empty(base.shape))
        bounded *= SAFETY
        return Budget(abs_to_ulps(np.add(base, sumS_g[..., 0] * U, out=np.empty(base.shape)), fmt, ulp, own=True),
                      abs_to_ulps(bounded, fmt, ulp, own=True))
    if function == "softmax_jacobian":
        out = []
        for rel in (rel_g, rel_b):
            s = stats.s
            si, sj = s[..., :, None], s[..., None, :]
            ei, ej = rel[..., :, None], rel[..., None, :]
            eye = np.eye(s.shape[-1], dtype=bool)
            e = np.where(eye, si * ei, 0.0) + si * sj * (ei + ej + 1.0) + exact_abs
            out.append(to_ulps(e, fmt, ulp))
        return Budget(out[0], SAFETY * out[1])
    if function == "softmax_vjp":
        g = np.asarray(extra, dtype=np.float64)
        s = stats.s
        dot = np.sum(g * s, axis=-1, keepdims=True)
        gap = np.abs(g - dot)
        out = []
        for rel, summ in ((rel_g, g_sum), (rel_b, b_sum)):
            err_dot = np.sum(np.abs(g) * s * (rel + ua * summ + 1.0), axis=-1, keepdims=True)
            # A subnormal s_j carries an absolute error of ~min_subnormal, which
            # the multiplications by g scale up: an absolute term, in ulps.
            sub = (s * np.sum(np.abs(g), axis=-1, keepdims=True) + gap) * ABS_ULPS * fmt.min_subnormal / ulp
            out.append(to_ulps(s * err_dot + s * gap * (rel + 2.0), fmt, ulp) + sub)
        return Budget(out[0], SAFETY * out[1])
    if function == "cross_entropy":
        with np.errstate(over="ignore", invalid="ignore"):
            lsm = stats.d - stats.L
        lsm_abs = np.where(np.isfinite(lsm), np.abs(lsm), 0.0) * U
        res = []
        for sumS, k in ((sumS_g, 1.0), (sumS_b, SAFETY)):
            per = ad * U + C_LOG * U * absL + lsm_abs + sumS * U  # log_softmax bound per class (absolute)
            if extra is None:  # index labels: caller passed the label's bound via ``exact_abs`` layout
                raise ValueError("cross_entropy budgets need labels")
            lab = np.asarray(extra)
            if lab.dtype.kind not in "iub":
                t = lab.astype(np.float64)
                n = np.ascontiguousarray(np.broadcast_to(stats.n, stats.d.shape))
                e = np.sum(t * per, axis=-1) + n[..., 0] * np.sum(t * lsm_abs, axis=-1)
            else:
                e = np.take_along_axis(per, lab.astype(np.int64)[..., None], axis=-1)[..., 0]
            res.append(abs_to_ulps(k * e, fmt, ulp))
        return Budget(res[0], res[1])
    raise ValueError(f"no budget for function {function!r}")


def beyond_range(x: np.ndarray, fmt: Format, labels: np.ndarray) -> np.ndarray | None:
    """Cross-entropy rows (slices on the last axis of ``x``) outside the
    stable algorithm's range: with probability labels it forms every class's
    log-probability x_i - L (L = logsumexp, max <= L <= max + log n) and sums
    t_i (x_i - L).  Where some finite logit lies more than max finite below
    the slice's max (a spread past the format's whole range), that term is
    -inf in the format and 0 * -inf is NaN: the algorithm has no finite bound
    there, though the exact loss may be finite.  Index labels form only the
    label's term, whose exact loss then overflows as well: none.  (Halves:
    the spread itself may overflow float64.)"""
    if labels.dtype.kind in "iub" or x.shape[-1] == 0:
        return None
    h = np.where(np.isfinite(x), x / 2, np.nan)
    with np.errstate(invalid="ignore"):
        top = np.nanmax(np.where(np.isnan(h), -np.inf, h), axis=-1, keepdims=True)
        return ((top - h) > fmt.max_finite / 2).any(axis=-1)


def grade(err: np.ndarray, special: np.ndarray, budget: Budget, diff: np.ndarray | None = None,
          abs_budget: Budget | None = None) -> tuple[str, np.ndarray]:
    """Per-element grade index (0..4 = exact..out-of-bound, 5 = wrong-special)
    and the worst verdict.

    In float64 an exact value of 0 has an ulp of 2**-1074, so an error or a
    budget above ~9e-16 is more than 2**1024 ulps: both overflow to inf, and
    inf <= inf would pass any output.  Where a budget overflowed, the absolute
    error ``diff`` is compared with the absolute budget instead (the same
    inequality, multiplied through by the ulp)."""
    tiers = np.full(err.shape, 4, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        ok_b, ok_g = err <= budget.bounded, err <= budget.good
        if diff is not None and abs_budget is not None:
            ok_b = np.where(np.isinf(budget.bounded), diff <= abs_budget.bounded, ok_b)
            ok_g = np.where(np.isinf(budget.good), diff <= abs_budget.good, ok_g)
        tiers = np.where(ok_b, 3, tiers)
        tiers = np.where(ok_g, 2, tiers)
        tiers = np.where(err <= 1.0, 1, tiers)
        tiers = np.where(err <= 0.5, 0, tiers)
    tiers = np.where(special, 5, tiers)
    if budget.beyond is not None:  # the stable algorithm's own outcome: bounded at worst
        tiers = np.where(budget.beyond, np.minimum(tiers, 3), tiers)
    names = GRADES + ("out-of-bound", "wrong-special")
    return (names[int(tiers.max())] if tiers.size else "exact"), tiers


def describe_budget() -> dict:
    return {"C_EXP": C_EXP, "C_LOG": C_LOG, "SAFETY": SAFETY, "ABS_ULPS": ABS_ULPS,
            "summation": {"good": "ceil(log2 n) + 1", "bounded": "n - 1"}, "ln2": math.log(2)}

"""The mpmath ground truth: rigorous interval evaluation with Ziv's strategy.

Every function of the softmax family is written once, per slice, in
``mpmath.iv`` interval arithmetic over the *exact* values of the
dtype-rounded input.  The interval encloses the exact result.  If both of its
endpoints round to the same value of the target format, that value is the
correctly rounded result; otherwise the slice is recomputed at twice the
precision (Ziv).  Exact results (e.g. ``softmax([a, a]) = 0.5``) give
zero-width intervals and are decided at once; results that are exactly zero
but computed by cancellation are decided as soon as the interval is narrower
than half the smallest subnormal of every format.

Besides the rounded value, each element keeps a double-double ``hi + lo``
approximation of the exact value (relative error about 2**-106), which is what
errors are measured against.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from mpmath import iv, libmp, mp

from .formats import FORMATS, Format, round_raw

F64 = FORMATS["float64"]
START_PREC = 96
MAX_PREC = 1 << 13
# exp(d) for d below this is enclosed by [2**-3100, 2**-3000] instead of being
# evaluated; every format rounds such magnitudes (relative to outputs >= them)
# far below its smallest subnormal 2**-1074.
EXP_FLOOR = -2100.0
_TINY = None


def _tiny():
    global _TINY
    if _TINY is None:
        _TINY = iv.mpf([mp.ldexp(1, -3100), mp.ldexp(1, -3000)])
    return _TINY


def iv_exp(d):
    """exp on an interval whose upper end may be hugely negative."""
    if d.b < EXP_FLOOR:
        return _tiny()
    return iv.exp(d)


class Enclosure:
    """Result of one Ziv evaluation: rounded values plus double-double hi/lo."""

    __slots__ = ("rounded", "hi", "lo", "prec")

    def __init__(self, rounded: list[float], hi: list[float], lo: list[float], prec: int):
        self.rounded, self.hi, self.lo, self.prec = rounded, hi, lo, prec


def _mid(a: tuple, b: tuple) -> tuple:
    return libmp.mpf_shift(libmp.mpf_add(a, b, 0), -1)  # exact: prec=0 adds exactly


def _hi_lo(raw: tuple) -> tuple[float, float]:
    hi = round_raw(raw, F64)
    if not math.isfinite(hi):
        return hi, 0.0
    rest = libmp.mpf_sub(raw, libmp.from_float(hi), 0)
    return hi, round_raw(rest, F64)


def ziv(compute: Callable[[], Sequence], fmt: Format, start: int = START_PREC) -> Enclosure:
    """Evaluate ``compute`` (returning iv intervals) until every output rounds
    unambiguously to ``fmt``."""
    prec = max(start, fmt.p + 40)
    while True:
        saved = iv.prec
        iv.prec = prec
        try:
            outs = list(compute())
        finally:
            iv.prec = saved
        ends = [o._mpi_ for o in outs]
        decided = all(round_raw(a, fmt) == round_raw(b, fmt) for a, b in ends)
        if decided or prec >= MAX_PREC:
            break
        prec *= 2
    mids = [_mid(a, b) for a, b in ends]
    # The midpoint is inside the enclosure, so when decided it rounds to the
    # common value (with the right sign of zero); past MAX_PREC it is the best
    # available estimate of an exact tie.
    rounded = [round_raw(m, fmt) for m in mids]
    his, los = zip(*(_hi_lo(m) for m in mids)) if mids else ((), ())
    return Enclosure(rounded, list(his), list(los), prec)


# ---------------------------------------------------------------------------
# Slice kernels.  Inputs are lists of finite Python floats (exact values);
# special values were resolved by the caller (see oracles/special.py).
# They return lists of iv intervals at the current iv precision.
# ---------------------------------------------------------------------------


def _exps(xs: Sequence[float]):
    """Shifted exponentials e_j = exp(x_j - max) and their sum S = 1 + S'.

    S' excludes one maximal term, so log(S) = log1p(S') has no cancellation.
    """
    m = max(xs)
    k = xs.index(m)
    es = [iv_exp(iv.mpf(x) - m) for x in xs]
    rest = iv.mpf(0)
    for j, e in enumerate(es):
        if j != k:
            rest += e
    return m, es, rest


def k_softmax(xs):
    _, es, rest = _exps(xs)
    total = rest + 1
    return [e / total for e in es]


def k_log_softmax(xs):
    m, _, rest = _exps(xs)
    lse_shift = iv.log1p(rest)
    return [(iv.mpf(x) - m) - lse_shift for x in xs]


def k_logsumexp(xs):
    m, _, rest = _exps(xs)
    return [m + iv.log1p(rest)]


def k_sigmoid(x: float):
    if x >= 0:
        return 1 / (1 + iv_exp(iv.mpf(-x)))
    e = iv_exp(iv.mpf(x))
    return e / (1 + e)


def _softmax_and_complement(xs):
    """s_j and 1 - s_j, the latter as (S - e_j)/S from prefix/suffix sums."""
    _, es, rest = _exps(xs)
    total = rest + 1
    n = len(es)
    prefix = [iv.mpf(0)] * (n + 1)
    for j in range(n):
        prefix[j + 1] = prefix[j] + es[j]
    suffix = [iv.mpf(0)] * (n + 1)
    for j in range(n - 1, -1, -1):
        suffix[j] = suffix[j + 1] + es[j]
    s = [e / total for e in es]
    comp = [(prefix[j] + suffix[j + 1]) / total for j in range(n)]
    return s, comp


def k_softmax_jacobian(xs):
    """Row-major k*k block of diag(s) - s s^T."""
    s, comp = _softmax_and_complement(xs)
    n = len(s)
    out = []
    for i in range(n):
        for j in range(n):
            out.append(s[i] * comp[i] if i == j else -(s[i] * s[j]))
    return out


def k_softmax_vjp(xs, gs):
    """s * (g - <g, s>), with <g, s> = sum(g e)/S."""
    _, es, rest = _exps(xs)
    total = rest + 1
    dot = iv.mpf(0)
    for g, e in zip(gs, es):
        dot += g * e
    dot = dot / total
    return [(e / total) * (iv.mpf(g) - dot) for g, e in zip(gs, es)]


def k_cross_entropy_index(xs, label: int):
    m, _, rest = _exps(xs)
    return [(m - iv.mpf(xs[label])) + iv.log1p(rest)]


def k_cross_entropy_soft(xs, ts):
    """sum_j t_j (lse - x_j); every (lse - x_j) >= 0 so nothing cancels."""
    m, _, rest = _exps(xs)
    shift = iv.log1p(rest)
    acc = iv.mpf(0)
    for x, t in zip(xs, ts):
        if t != 0:
            acc += iv.mpf(t) * ((m - iv.mpf(x)) + shift)
    return [acc]

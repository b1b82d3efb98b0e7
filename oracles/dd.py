r"""Double-double (dd: hi + lo) arithmetic on numpy arrays, vectorised, for
the certified float64 paths (oracles/f64.py, and the second tier of
oracles/fast.py).

Operation bounds (u = 2**-53) from Joldes, Muller, Popescu, "Tight and
rigorous error bounds for basic building blocks of double-word arithmetic",
ACM TOMS 2017, taken generously since numpy has no FMA: add (AccurateDWPlusDW)
3u**2, mul (DWTimesDW1, products by Dekker's split) 10u**2, div (DWDivDW1)
16u**2; all relative, no underflow in the ranges the callers use.  ``exp``,
``log`` and the rounding decisions carry their own analyses below; the
oracles' docstrings add them up.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

U = 2.0**-53
MAX_ULP_FRACTION = 0.01  # a decided value's bound, at most this share of its ulp

# ln2/64 in three parts: C1 has 35 significant bits so k*C1 is exact for |k| < 2**18
# (|k| <= 64 * 1500 / ln2 < 138,500 after the clamp).


def _consts():
    import mpmath

    with mpmath.workprec(400):
        ln = mpmath.log(2) / 64
        c1 = float(mpmath.mpf(mpmath.nint(ln * 2**41)) / 2**41)  # ln < 2**-6: 35 bits
        rest = ln - c1
        c2 = float(rest)
        c3 = float(rest - c2)
        table = []
        for j in range(64):
            v = mpmath.power(2, mpmath.mpf(j) / 64)
            h = float(v)
            table.append((h, float(v - h)))
    return c1, c2, c3, np.array([t[0] for t in table]), np.array([t[1] for t in table])


_C1, _C2, _C3, _TH, _TL = _consts()
_INV = [(float(Fraction(1, math.factorial(k))),
         float(Fraction(1, math.factorial(k)) - Fraction(float(Fraction(1, math.factorial(k)))))) for k in range(12)]


# ---- double-double primitives (vectorised) -------------------------------------------------

def two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def fast_two_sum(a, b):
    s = a + b
    return s, b - (s - a)


def split(a):
    c = 134217729.0 * a
    hi = c - (c - a)
    return hi, a - hi


def two_prod(a, b):
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def add(xh, xl, yh, yl):
    sh, sl = two_sum(xh, yh)
    th, tl = two_sum(xl, yl)
    sh, sl = fast_two_sum(sh, sl + th)
    return fast_two_sum(sh, sl + tl)


def mul(xh, xl, yh, yl):
    ch, cl = two_prod(xh, yh)
    return fast_two_sum(ch, cl + (xh * yl + xl * yh))


def div(xh, xl, yh, yl):
    th = xh / yh
    ch, cl1 = two_prod(yh, th)
    ch, tl1 = fast_two_sum(ch, yl * th)
    rh, rl = fast_two_sum(ch, tl1 + cl1)
    ph, pl = two_sum(xh, -rh)
    tl = (ph + (pl + (xl - rl))) / yh
    return fast_two_sum(th, tl)


# ---- exp in dd, scaled -----------------------------------------------------------------------

def exp(dh: np.ndarray, dl: np.ndarray):
    """exp(dh + dl) = (th + tl) 2**K, th + tl in [0.7, 1.5), relative error < 2**-98,
    for -1600 < dh <= 0 (clamp first)."""
    k = np.rint(dh * (64 / math.log(2)))
    r1 = dh - k * _C1                      # exact (Sterbenz, or k = 0)
    rh, rl = two_sum(r1, dl)
    ph, pl = two_prod(k, _C2)
    rh, rl = add(rh, rl, -ph, -pl)
    rh, rl = add(rh, rl, -(k * _C3), np.zeros_like(rh))
    # terms 6..11 in float64
    tail = np.full_like(rh, _INV[11][0])
    for c in range(10, 5, -1):
        tail = tail * rh + _INV[c][0]
    ph, pl = tail, np.zeros_like(rh)
    for c in range(5, -1, -1):
        ph, pl = mul(ph, pl, rh, rl)
        ph, pl = add(ph, pl, np.full_like(rh, _INV[c][0]), np.full_like(rh, _INV[c][1]))
    ki = k.astype(np.int64)
    j = ki % 64
    th, tl = mul(_TH[j], _TL[j], ph, pl)
    return th, tl, ki // 64


def round_scaled(qh: np.ndarray, ql: np.ndarray, K: np.ndarray, bound: np.ndarray):
    """RNE float64 of (qh + ql) 2**K for positive normal dd q, and whether all of
    [q - bound, q + bound] 2**K round to it.  Returns (rounded, lo, ok)."""
    m, e = np.frexp(qh)
    E = e.astype(np.int64) - 1 - ((m == 0.5) & (ql < 0))
    Q = np.maximum(E + K, -1022) - 52          # exponent of the result's ulp
    s = Q - K                                  # grid of q: 2**s
    deep = s > 200                             # q/g < 2**-190: rounds to 0
    sc = np.where(deep, 0, s).astype(np.int32)
    a, b = np.ldexp(qh, -sc), np.ldexp(ql, -sc)
    N = np.rint(a)
    f = (a - N) + b                            # a - N exact; |f| < 1
    step = np.where(f > 0.5, 1.0, np.where(f < -0.5, -1.0, 0.0))  # a at a half, b past it
    N, f = N + step, f - step
    bg = np.ldexp(bound, -sc)
    N, f, bg = np.where(deep, 0.0, N), np.where(deep, 0.0, f), np.where(deep, 0.0, bg)
    ok = (np.abs(f) + bg < 0.5 - 2.0**-40) & (bg < 1 / 16)
    Qi = Q.astype(np.int32)
    return np.ldexp(N, Qi), np.ldexp(f, Qi), ok


def log(sh: np.ndarray, sl: np.ndarray):
    r"""log S for a dd S in [1, 2**60): (Lh, Ll, bound) with |Lh + Ll - log S| <= bound.

    One Newton step from numpy's y0 = log(sh), whose accuracy is *not* assumed:
    z = S exp(-y0) = e**delta (delta = log S - y0), c = z - 1, L = y0 + c - c**2/2.
    Then L - log S = (c - c**2/2) - log1p(c), |.| <= |c|**3/3 (|c| < 2**-20 or the
    element is left undecided), plus the dd error of z: exp 2**-98, one dd mul
    10u**2, so |c - (e**delta - 1)| < 2**-97 |z| <= 2**-96, and the few dd adds,
    3u**2 |L| each.  bound = 2**-94 + 2**-100 |L| + |c|**3 covers all of it."""
    y0 = np.log(sh)
    th, tl, K = exp(-y0, np.zeros_like(y0))
    zh, zl = mul(sh, sl, th, tl)
    zh, zl = np.ldexp(zh, K.astype(np.int32)), np.ldexp(zl, K.astype(np.int32))  # z near 1: exact
    ch, cl = two_sum(zh, -1.0)                # z within 2**-20 of 1: exact (Sterbenz)
    ch, cl = fast_two_sum(ch, cl + zl)
    Lh, Ll = add(y0, np.zeros_like(y0), ch, cl)
    Lh, Ll = add(Lh, Ll, -0.5 * ch * ch, np.zeros_like(y0))
    bound = 2.0**-94 + 2.0**-100 * np.abs(Lh) + np.abs(ch) ** 3
    return Lh, Ll, np.where(np.abs(ch) < 2.0**-20, bound, np.inf)


def round_nearest(vh: np.ndarray, vl: np.ndarray, bound: np.ndarray):
    """(vh, ok): vh = RN(vh + vl) for a normalised dd (fast_two_sum output), and ok
    where every real within ``bound`` of vh + vl rounds to vh too: |vl| + bound
    stays inside half the *smaller* of vh's two gaps (the gap towards zero halves
    at a power of two), with a 2**-40 margin for the float sum, and bound is at
    most 0.01 of that gap."""
    with np.errstate(all="ignore"):
        gap = np.minimum(np.nextafter(vh, np.inf) - vh, vh - np.nextafter(vh, -np.inf))
        ok = (np.abs(vl) + bound < 0.5 * gap * (1 - 2.0**-40)) & np.isfinite(vh)
        # and hi + lo measures errors to within 0.01 ulp (a log near 0 has an
        # absolute bound far above its ulp: mpmath then)
        ok &= bound <= MAX_ULP_FRACTION * gap
    return vh, ok

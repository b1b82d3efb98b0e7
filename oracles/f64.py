r"""A certified float64-target path for softmax, log_softmax, logsumexp and
sigmoid (issue 14 §1), called by ``oracles.fast.evaluate`` for float64 targets
(and, through ``values``, for its lower-precision rows left undecided); the
double-double arithmetic and its bounds are in ``oracles.dd``.

Each row is evaluated in double-double (dd: hi + lo, vectorised over all rows
at once with numpy, no Python loop per row or element) as s_i = q_i 2**K_i,
with q_i a dd near 1 and K_i an integer, so subnormal outputs keep full
precision.  An element is decided when every value of [v - B, v + B] rounds
(RNE, float64, gradual underflow) to one float64; then that float64 is the
correctly rounded softmax.  A row with an undecided element, a NaN or +inf
entry, all -inf, or another function goes to mpmath (``oracles.api.evaluate``).
log_softmax and logsumexp add log S by one Newton step (``dd.log``: its error
is measured from the step, not assumed) and are decided by ``dd.round_nearest``
within an absolute bound; sigmoid is 1/(1 + e) or e/(1 + e) (``sigmoid_flat``).

Error bound (u = 2**-53; dd operation bounds from Joldes, Muller, Popescu,
"Tight and rigorous error bounds for basic building blocks of double-word
arithmetic", ACM TOMS 2017, taken generously since numpy has no FMA: dd+dd
(AccurateDWPlusDW) 3u², dd*dd (DWTimesDW1, products by Dekker) 10u², dd/dd
(DWDivDW1) 16u²; all relative, no underflow in the dd ranges used here):
  d_j = x_j - m              exact as a dd (TwoSum), m = max of the row;
                             d_j < -1500 (or -inf) is clamped: s_j < e**-1500
                             rounds to +0 and its share of S is < 2**-2000.
  d = k ln2/64 + r           k = rint(64 d/ln2), ln2/64 split in 35+53+53 bits:
                             k*C1 exact, d - k*C1 exact (Sterbenz), the rest in
                             dd: |r| <= 0.0055, abs error < 2**-115.
  exp(r)                     degree 11 Taylor: terms 6..11 in float64 (each
                             below 2**-55, abs error < 2**-106), terms 0..5 by
                             dd Horner (6 mul + 6 add: < 80u²), truncation
                             < 2**-129; relative < 2**-99.
  t = 2**(j/64) * exp(r)     table T_j rounded to dd from mpmath (u²), one dd
                             mul (10u²): eps_e = rel(t) < 2**-98.
  e_j = t 2**K, K = k // 64  exact unless it underflows: absolute < 2**-1073
                             per term; S >= 1 (the max's term is exactly 1).
  S = sum_j e_j              dd pairwise tree of depth h = ceil(log2 n), positive
                             terms: rel(S) <= eps_e + 3 h u² + n 2**-1073.
  q_i = t_i / S              dd/dd: rel <= eps_e + rel(S) + 16u².
For n <= 2**30 this totals < 2**-96 relative; the code uses B = 2**-90 |q|
(a x64 margin), about 2**-37 ulp, so almost every element is decided.

The rounding decision is made in scaled units: with the result's ulp g (at
least 2**-1074), N = the integer nearest q/g and f = q/g - N (exact
but for two roundings, < 2**-52); decided when |f| + B/g < 0.5 - 2**-40 and B/g < 1/16 (the latter
covers an interval that crosses a binade boundary, where the grid halves).

Measured (``softmax-harness bench``; 2 shared cores, numpy 2.4.6, python-flint
0.9.0, best of 3-7, loaded machine so ranges): the dd rows on blocks of 2**15
elements 2.4-4.5M elem/s for n = 8, 256 and 4096 alike; python-flint arb balls
per element (``flint_softmax_rows``) 0.41-1.04M; mpmath 31-45k.  The dd path is
chosen: 3-8x the balls, and no Python loop per row.  ``evaluate`` on (64, 16000)
float64: 3.7-4.3M elem/s, about 130x mpmath.  Peak memory is a few dozen
temporaries of one block.
"""

from __future__ import annotations

import numpy as np

from . import api, dd
from .formats import format_of

REL_BOUND = 2.0**-90
CLAMP = -1500.0
F64_FUNCTIONS = ("softmax", "log_softmax", "logsumexp", "sigmoid")

def eligible(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows the certified paths take, their -inf entries) for float64 rows (R, n):
    finite entries and -inf with a finite maximum.  Every special-value profile
    agrees on those (a -inf entry takes no part: softmax 0, log_softmax -inf);
    NaN, +inf and all -inf rows are profile-dependent: mpmath."""
    fin = np.isfinite(rows)
    if fin.all():  # the common case, in one pass: no -inf entry
        return np.asarray(fin.any(axis=-1)), np.zeros(rows.shape, dtype=bool)
    ninf = np.isneginf(rows)
    return np.asarray((fin | ninf).all(axis=-1) & fin.any(axis=-1)), ninf


def _exp_terms(rows: np.ndarray):
    """Shared by the row functions.  rows: (R, n) float64, finite or -inf with a finite
    maximum (-inf entries are clamped).  Returns d = x - m
    as a dd (exact), the exp terms t 2**K, the clamped mask and S = sum_j exp(d_j)
    as a dd (S >= 1: the max's term is exactly 1)."""
    R, n = rows.shape
    m = rows.max(axis=-1, keepdims=True)
    with np.errstate(all="ignore"):
        dh, dl = dd.two_sum(rows, np.broadcast_to(-m, rows.shape))
    clamped = ~(dh > CLAMP)                    # also -inf / nan from an overflowing x - m
    eh = np.where(clamped, CLAMP, dh)
    el = np.where(clamped, 0.0, dl)
    th, tl, K = dd.exp(eh, el)
    # S: scale each term to 2**0 (exact, or underflow < 2**-1073), pairwise dd tree.
    with np.errstate(under="ignore"):
        Kc = np.maximum(K, -1100).astype(np.int32)
        sh = np.where(clamped, 0.0, np.ldexp(th, Kc))
        sl = np.where(clamped, 0.0, np.ldexp(tl, Kc))
    P = 1 << max(0, (n - 1).bit_length())
    if P != n:
        sh = np.concatenate([sh, np.zeros((R, P - n))], axis=1)
        sl = np.concatenate([sl, np.zeros((R, P - n))], axis=1)
    while sh.shape[1] > 1:
        h = sh.shape[1] // 2
        sh, sl = dd.add(sh[:, :h], sl[:, :h], sh[:, h:], sl[:, h:])
    return m, dh, dl, th, tl, K, clamped, sh, sl


def softmax_rows(rows: np.ndarray):
    """rows: (R, n) float64 as for _exp_terms, n >= 1.  Returns (rounded, lo, row_ok)."""
    _, _, _, th, tl, K, clamped, sh, sl = _exp_terms(rows)
    qh, ql = dd.div(th, tl, sh, sl)
    rounded, lo, ok = dd.round_scaled(qh, ql, K, REL_BOUND * qh)
    rounded = np.where(clamped, 0.0, rounded)
    lo = np.where(clamped, 0.0, lo)
    ok = ok | clamped
    return rounded, lo, ok.all(axis=-1)


def log_values(function: str, rows: np.ndarray):
    """log_softmax (R, n) or logsumexp (R,) of rows as for _exp_terms, before
    rounding: (vh, vl, bound), vh + vl within ``bound`` of the exact value
    (NaN where x - max overflowed; -inf entries of log_softmax are -inf, exact)."""
    m, dh, dl, _, _, _, _, sh, sl = _exp_terms(rows)
    Lh, Ll, bL = dd.log(sh, sl)
    # S's own error: relative < 2**-96 (the docstring's sum), so log S moves < 2**-95 more.
    bL = bL + 2.0**-95
    if function == "logsumexp":
        vh, vl = dd.add(m, np.zeros_like(m), Lh, Ll)
        return vh[:, 0], vl[:, 0], (bL + 2.0**-100 * np.abs(vh))[:, 0]
    vh, vl = dd.add(dh, dl, -np.broadcast_to(Lh, dh.shape), -np.broadcast_to(Ll, dh.shape))
    b = bL + 2.0**-100 * np.abs(vh)
    ninf = np.isneginf(rows)
    return np.where(ninf, -np.inf, vh), np.where(ninf, 0.0, vl), np.where(ninf, 0.0, b)


def log_rows(function: str, rows: np.ndarray):
    """log_softmax (R, n) or logsumexp (R,) rounded to float64: (hi, lo, row_ok)."""
    vh, vl, b = log_values(function, rows)
    hi, ok = dd.round_nearest(vh, vl, b)
    # -inf: a -inf entry of log_softmax, or x - max past -max_finite (the exact
    # value is below it too, as L >= 0): both round to -inf.
    ninf = np.isneginf(vh)
    return hi, np.where(ninf, 0.0, vl), (ok | ninf) if ok.ndim == 1 else (ok | ninf).all(axis=-1)


def softmax_values(rows: np.ndarray):
    """softmax of rows as for _exp_terms, before rounding: (vh, vl, bound) with
    vh + vl = (qh + ql) 2**K (ldexp: exact, or off by < 2**-1074 each when the
    value is subnormal) and |vh + vl - exact| <= bound."""
    _, _, _, th, tl, K, clamped, sh, sl = _exp_terms(rows)
    qh, ql = dd.div(th, tl, sh, sl)
    with np.errstate(under="ignore"):
        Kc = np.maximum(K, -1200).astype(np.int32)
        vh, vl = np.ldexp(qh, Kc), np.ldexp(ql, Kc)
    b = REL_BOUND * 2 * vh + 2.0**-1072
    return np.where(clamped, 0.0, vh), np.where(clamped, 0.0, vl), b


def values(function: str, rows: np.ndarray):
    """(vh, vl, bound) of a row function; what oracles.fast falls back on for
    a lower-precision target before mpmath (an element the float64 path left
    undecided is almost always a near tie, which 2**-90 settles)."""
    return softmax_values(rows) if function == "softmax" else log_values(function, rows)


def sigmoid_flat(x: np.ndarray):
    """sigmoid of finite float64 x: (hi, lo, ok).  E = exp(-|x|) in dd (x < -1500
    clamps as in softmax: the result is below 2**-2000, rounds to 0), then 1/(1+E)
    for x >= 0 and E/(1+E) below, kept scaled by 2**K for subnormal results: one
    dd add (3u**2) and one dd div (16u**2) on top of dd.exp's 2**-98."""
    a = np.minimum(np.abs(x), -CLAMP)
    th, tl, K = dd.exp(-a, np.zeros_like(a))
    with np.errstate(under="ignore"):
        Kc = np.maximum(K, -1100).astype(np.int32)
        eh, el = np.ldexp(th, Kc), np.ldexp(tl, Kc)
    one = np.ones_like(a)
    dh, dl = dd.add(one, np.zeros_like(a), eh, el)
    neg = x < 0
    qh, ql = dd.div(np.where(neg, th, one), np.where(neg, tl, 0.0), dh, dl)
    Ks = np.where(neg, K, 0)
    rounded, lo, ok = dd.round_scaled(qh, ql, Ks, REL_BOUND * qh)
    deep = neg & (np.abs(x) >= -CLAMP)
    return np.where(deep, 0.0, rounded), np.where(deep, 0.0, lo), ok | deep


def evaluate(function: str, x: np.ndarray, axis: int = -1, **kw) -> api.Exact:
    """Same contract as :func:`oracles.api.evaluate`: softmax, log_softmax,
    logsumexp and sigmoid with a float64 target here, undecided rows (elements,
    for sigmoid) and everything else through mpmath."""
    x = np.asarray(x)
    fmt = format_of(kw.get("out_dtype") if kw.get("out_dtype") is not None else x.dtype)
    plain = all(kw.get(k) is None for k in ("mask", "indices", "labels", "upstream"))
    if function not in F64_FUNCTIONS or fmt.p != 53 or not plain or x.size == 0 or x.ndim == 0:
        return api.evaluate(function, x, axis, **kw)
    if function == "sigmoid":
        flat = x.astype(np.float64).reshape(-1)
        fin = np.isfinite(flat)
        with np.errstate(all="ignore"):
            rounded, lo, ok = sigmoid_flat(np.where(fin, flat, 0.0))
        bad = np.flatnonzero(~(ok & fin))
        if bad.size:
            ex = api.evaluate(function, x.reshape(-1)[bad], **kw)
            rounded[bad], lo[bad] = ex.rounded.astype(np.float64), ex.lo
        return api.Exact(rounded.reshape(x.shape), rounded.reshape(x.shape).copy(), lo.reshape(x.shape))
    ax = axis % x.ndim
    moved = np.moveaxis(x.astype(np.float64), ax, -1)
    n = moved.shape[-1]
    rows = moved.reshape(-1, n)
    finite, _ = eligible(rows)  # a -inf entry is clamped in _exp_terms (softmax 0, log_softmax -inf)
    safe = np.where(finite[:, None], rows, 0.0)
    # Blocks of about 2**15 elements: the temporaries stay in cache (2-3x faster than one pass).
    step = max(1, 2**15 // n)
    kernel = softmax_rows if function == "softmax" else (lambda r: log_rows(function, r))
    with np.errstate(all="ignore"):  # an overflowing x - max is left to mpmath below
        parts = [kernel(safe[i:i + step]) for i in range(0, len(safe), step)]
    rounded, lo = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    ok = np.concatenate([p[2] for p in parts]) & finite
    bad = np.flatnonzero(~ok)
    if bad.size:
        ex = api.evaluate(function, moved.reshape(-1, n)[bad], -1, **kw)
        rounded[bad], lo[bad] = ex.rounded.astype(np.float64), ex.lo
    if function == "logsumexp":
        shape = moved.shape[:-1]
        r = rounded.reshape(shape)
        return api.Exact(r, r.copy(), lo.reshape(shape))
    back = (lambda a: np.moveaxis(a.reshape(moved.shape), -1, ax))
    r = back(rounded)
    return api.Exact(r.astype(np.float64), r.copy(), back(lo))


def flint_softmax_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The other measured candidate: python-flint arb balls per element (a Python
    loop), decided when the ball's ends convert to one float64.  Kept for
    ``softmax-harness bench``; not used (the dd path above is about 2x faster)."""
    from flint import arb, ctx

    old, ctx.prec = ctx.prec, 128
    try:
        out, ok = np.empty(rows.shape), np.ones(rows.shape[0], dtype=bool)
        for i, row in enumerate(rows.tolist()):
            m = max(row)
            e = [(arb(v) - m).exp() for v in row]
            S = sum(e, arb(0))
            for j, t in enumerate(e):
                s = t / S
                lo, hi = float(s.lower()), float(s.upper())
                out[i, j] = lo
                ok[i] &= lo == hi
    finally:
        ctx.prec = old
    return out, ok

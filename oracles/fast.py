r"""A certified fast path in front of the mpmath oracle.

For float16, bfloat16 and float32 *targets* of softmax, log_softmax,
logsumexp and sigmoid on slices of finite values and -inf (with a finite
maximum), compute in float64 with numpy and
carry a rigorous per-element bound B on |v - exact|.  An element is decided
when v - B and v + B round (directly, RNE, to the target format) to the same
value and B <= 0.01 ulp of the target; then that value *is* the correctly
rounded result and hi = v measures ulp errors to within 0.01 ulp.  A float64
target goes to the double-double path of ``oracles.f64``; any slice with an
undecided element or a non-finite entry goes to the mpmath interval oracle (``oracles.api.evaluate``), which stays the
definition of truth (tests/self/test_fast_oracle.py compares the two).

Error analysis, u = 2**-53, n = slice length, all terms first order, then x2:
  d_j = fl(x_j - m):     x_j - m = d_j + err_j exactly (TwoSum gives err_j);
                         delta_j = |err_j| / u <= |d_j|, often 0 (x, m exact; one rounding)
  e_j = exp(d_j):        rel <= C u + delta_j u   (numpy's exp: C = 4 ulp, enforced by
                                                   tests/self/test_exp_calibration.py,
                                                   which fails past C/2 ulp (rel C u):
                                                   measured max 0.72 ulp on 2**20
                                                   arguments, numpy 2.4.6, AVX512F)
  S = sum(e_j):          rel <= (sum_j s_j (delta_j + C) + 1) u + 3 k^2 u^2, k = ceil(log2 n)
                         (each e_j brings its own error; the summation itself is
                         summation.compensated_sum, a vectorised pairwise TwoSum tree
                         with a proven rel <= u + 3 k^2 u^2, derived there: for
                         n = 2**17 that is u + 2**-43.8 u, and 3 k^2 u <= 1e-9
                         for any n numpy can hold, so the old fsum term "1 u"
                         stands, with 3 k^2 u^2 added explicitly)
  softmax  s_i = e_i/S:  rel <= (delta_i + C + 1) u + rel(S)
  log S:                 abs <= rel(S) + C u |log S|
  log_softmax d_i - log S:  abs <= u delta_i + abs(log S) + u |lsm_i|
  logsumexp m + log S:      abs <= abs(log S) + u |lse|
  sigmoid 1/(1+e^-x) or e^x/(1+e^x):  rel <= (C + 3) u
plus 2**-1070 absolute everywhere (float64 underflow of exp), far below the
targets' smallest subnormals.
"""

from __future__ import annotations

import numpy as np

from . import api, f64
from .formats import Format, format_of
from .summation import compensated_sum

FAST_FUNCTIONS = ("softmax", "log_softmax", "logsumexp", "sigmoid")
U64 = 2.0**-53
C = 4.0  # numpy exp error, relative, in units of u: see the docstring
SAFETY = 2.0
ABS = 2.0**-1070
MAX_ULP_FRACTION = 0.01
BLOCK = 2**15  # elements per block in evaluate: 256 KiB float64 temporaries stay in a core's L2


def _quantum(v: np.ndarray, fmt: Format) -> np.ndarray:
    """The target grid's spacing at float64 v: 2**(max(floor(log2|v|), emin) - p + 1),
    from v's exponent bits (cheaper than frexp/ldexp; the same value).  A
    float64 zero or subnormal has exponent field 0, below every target's emin;
    inf/nan give an unused value (callers keep non-finite v as they are)."""
    field = v.view(np.uint64) >> np.uint64(52)
    field &= np.uint64(0x7FF)
    exp = field.view(np.int64)  # the same buffer, worked in place: fields < 2**11 read alike
    exp -= 1023
    np.maximum(exp, fmt.emin, out=exp)
    # exp - p + 1 + 1023 lies in [1, 2046] for every target (p <= 24, emin >= -149).
    exp += 1024 - fmt.p
    field <<= np.uint64(52)
    return field.view(np.float64)


def round_to(v: np.ndarray, fmt: Format, q: np.ndarray | None = None) -> np.ndarray:
    """Round float64 values directly to ``fmt`` (RNE, gradual underflow,
    overflow to inf), returned as float64.  Scaling by a power of two is
    exact and np.rint rounds half to even.  q: v's _quantum, if at hand."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    with np.errstate(all="ignore"):
        if q is None:
            q = _quantum(v, fmt)
        r = np.rint(v / q) * q
        # Past max_finite + ulp/2 (a tie there rounds to the even 2**(emax+1)) is inf.
        r = np.where(np.abs(r) > fmt.max_finite, np.copysign(np.inf, v), r)
    return np.where(np.isfinite(v), r, v)


def _ulp(v: np.ndarray, fmt: Format) -> np.ndarray:
    """_quantum, except at v == 0, where it has always been the ulp of 1.0."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    return np.where(v == 0, 2.0 ** (1 - fmt.p), _quantum(v, fmt))


def _decide(v: np.ndarray, bound: np.ndarray, fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    r"""(round_to(v), ok): ok where every real in [v - bound, v + bound] rounds
    to round_to(v) and bound <= MAX_ULP_FRACTION of the target quantum q at v.

    In units of q (exact: q is a power of two), a = |v|/q, ra = rint(a),
    dev = a - ra (exact, |dev| <= 1/2), bq = bound/q.  Within v's binade the
    grid is the integers, so the interval rounds to ra if |dev| + bq < 1/2
    (fl(|dev| + bq) < 1/2 implies it exactly: 1/2 is a float, rounding is
    monotone; the open interval excludes the ties).  Leaving the binade:
    upward, the grid above is coarser and contains 2 ** p (in q units), so
    nothing changes; downward is possible only if the interval reaches below
    2 ** (p-1) <= a, i.e. ra = 2 ** (p-1) given the first test, and then the
    grid below is the half-integers (unless v's binade is emin's, where the
    grid runs evenly down to 0): there, bq - dev < 1/4 is also required.
    Signs: RNE is symmetric, so a and its interval's mirror round alike.
    Beyond the overflow threshold the whole interval rounds to inf (below).
    One pass per step over the arrays, from v's exponent bits."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    with np.errstate(all="ignore"):  # each step one elementwise pass; temporaries reused in place
        q = _quantum(v, fmt)
        av = np.abs(v)
        a = av / q
        ra = np.rint(a)
        dev = np.subtract(a, ra, out=a)
        bq = bound / q
        t = np.abs(dev)
        t += bq
        ok = t < 0.5  # |dev| + bq < 1/2
        bottom = (ra == 2.0 ** (fmt.p - 1)) & (q > fmt.min_subnormal)
        ok &= ~bottom | (np.subtract(bq, dev, out=t) < 0.25)
        # Past the overflow threshold T = max_finite + ulp/2 everything rounds to inf:
        # fl(|v| - bound) >= T (1 + 2**-50) implies |v| - bound > T exactly.
        T = fmt.max_finite + 2.0 ** (fmt.emax - fmt.p)
        ok |= np.subtract(av, bound, out=av) >= T * (1 + 2.0**-50)
        ok &= (bq <= MAX_ULP_FRACTION) & np.isfinite(v)
        mag = np.multiply(ra, q, out=ra)
        mag[mag > fmt.max_finite] = np.inf
        rounded = np.copysign(mag, v, out=mag)
    return rounded, ok


def _rows_fast(function: str, rows: np.ndarray, fmt: Format, ninf: np.ndarray | None = None):
    """rows: (R, n) float64, finite or -inf with a finite maximum, n >= 1
    (``ninf``: its -inf entries, if known).  Returns (v, bound) in the output
    layout: (R, n) for row functions, (R,) for logsumexp.  A -inf entry has
    e = exp(-inf) = 0 exactly and no error to charge (softmax v = 0 exactly;
    log_softmax v = -inf, set by the caller).  Temporaries are reused in place:
    every value is the same elementwise operation on the same operands."""
    with np.errstate(all="ignore"):
        m = rows.max(axis=-1, keepdims=True)
        d = rows - m
        # The exact rounding error of d (TwoSum: x - m = d + err exactly), so the
        # bounds below charge |err_j| (0 when the difference is exact, as it is
        # for most float32-origin rows) instead of its worst case u |d_j|.
        # ad = |err_j| / u = |(x - (d - bb)) - (m + bb)| 2**53, exact (a power-of-two scaling).
        bb = d - rows
        ad = d - bb
        np.subtract(rows, ad, out=ad)
        ad -= np.add(m, bb, out=bb)
        np.abs(ad, out=ad)
        ad *= 2.0**53
        if ninf is None:
            ninf = np.isneginf(rows)
        if ninf.any():
            ad[ninf] = 0.0  # nan there (-inf - -inf)
        e = np.exp(d)
        S, k = compensated_sum(e)
        # Relative error of S: the terms' errors weighted by their share, w = sum_j s_j (delta_j + C),
        # computed with a x2 margin for its own rounding (np.sum in any order of n - 1 additions
        # of non-negative terms errs by at most gamma_{n-1} <= 2**-36 relative for n <= 2**17,
        # and stays < 1/2 up to n = 2**51: within the x2), plus the summation's u + 3 k^2 u^2.
        adC = ad + C  # delta_j + C
        w = 2.0 * np.sum(np.multiply(e, adC, out=bb), axis=-1, keepdims=True) / S
        relS = (w + 1.0 + 3.0 * k * k * U64) * U64
        if function == "softmax":
            v = np.divide(e, S, out=e)
            # SAFETY ((delta_i + C + 1) u + rel(S)) |v| + ABS; v >= +0 here, so |v| is v.
            bound = adC
            bound += 1
            bound *= U64
            bound += relS
            bound *= SAFETY
            bound *= v
            bound += ABS
            return v, bound
        L = np.log(S)
        absL = relS + C * U64 * np.abs(L)
        if function == "log_softmax":
            v = np.subtract(d, L, out=d)
            # SAFETY (u delta_i + abs(log S) + u |v|) + ABS
            bound = np.multiply(ad, U64, out=ad)
            bound += absL
            bound += np.multiply(np.abs(v, out=adC), U64, out=adC)
            bound *= SAFETY
            bound += ABS
            return v, bound
        v = (m + L)[..., 0]
        return v, SAFETY * (absL[..., 0] + U64 * np.abs(v)) + ABS


def _sigmoid_fast(x: np.ndarray):
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        v = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return v, SAFETY * (C + 3) * U64 * np.abs(v) + ABS


def _dd_rows(function: str, src: np.ndarray, rows: np.ndarray, fmt: Format, rounded: np.ndarray,
             hi: np.ndarray, lo: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Second tier for ``rows`` (indices into src) the float64 path left undecided:
    the double-double values of oracles.f64 (within 2**-90 relative), decided
    the same way, written into rounded/hi/lo.  Returns the rows still undecided
    plus ``rest`` (not eligible), for mpmath.  A long row then costs one dd pass
    instead of a whole row through mpmath for one near-tie element."""
    if not rows.size:
        return rest
    x = src[rows].astype(np.float64)
    with np.errstate(all="ignore"):
        vh, vl, b = f64.values(function, x)
        r, ok = _decide(vh, np.abs(vl) + b, fmt)
    if function == "log_softmax":  # a -inf entry: exactly -inf
        ninf = np.isneginf(x)
        r[ninf], ok[ninf] = -np.inf, True
    done = ok.all(axis=-1) if ok.ndim == 2 else ok
    idx = rows[done]
    width = rounded.shape[1]
    rounded[idx], hi[idx] = r[done].reshape(-1, width), vh[done].reshape(-1, width)
    lo[idx] = np.where(np.isfinite(vh[done]), vl[done], 0.0).reshape(-1, width)
    return np.concatenate([rows[~done], rest])


def _castable(r: np.ndarray, fmt: Format) -> np.ndarray:
    """float64 values of the target format (the decided ones; any other row is
    overwritten later), ready to cast to the target dtype: through float32 for
    bfloat16, exact all the same, as ml_dtypes casts float32 to bfloat16
    several times faster than float64."""
    return r.astype(np.float32) if fmt.name == "bfloat16" else r


def applicable(function: str, fmt: Format, mask, indices, labels, upstream) -> bool:
    return (function in FAST_FUNCTIONS and fmt.p <= 24 and mask is None and indices is None
            and labels is None and upstream is None)


def evaluate(function: str, x: np.ndarray, axis: int = -1, *, mask=None, indices=None, labels=None,
             upstream=None, profile: str = "ieee", out_dtype=None) -> api.Exact:
    """Same contract as :func:`oracles.api.evaluate`; identical rounded results."""
    x = np.asarray(x)
    fmt = format_of(out_dtype if out_dtype is not None else x.dtype)
    kw = dict(mask=mask, indices=indices, labels=labels, upstream=upstream, profile=profile, out_dtype=out_dtype)
    if fmt.p == 53:  # float64 targets: the double-double path, same contract
        return f64.evaluate(function, x, axis, **kw)
    if not applicable(function, fmt, mask, indices, labels, upstream) or x.size == 0:
        return api.evaluate(function, x, axis, **kw)
    if function == "sigmoid":
        flat = x.astype(np.float64).reshape(-1)
        hi, b = _sigmoid_fast(flat)
        rounded, ok = _decide(hi, b, fmt)
        ok &= np.isfinite(flat)
        lo = np.zeros_like(hi)
        if not ok.all():
            bad = np.flatnonzero(~ok)
            ex = api.evaluate("sigmoid", x.reshape(-1)[bad], **kw)
            rounded[bad], hi[bad], lo[bad] = ex.rounded.astype(np.float64), ex.hi, ex.lo
        shape = x.shape
        return api.Exact(_castable(rounded, fmt).astype(fmt.dtype).reshape(shape), hi.reshape(shape), lo.reshape(shape))
    ndim = max(x.ndim, 1)
    ax = axis % ndim if x.ndim else 0
    # Annotated: numpy's stubs take reshape of an untyped shape for a 0-d result.
    shape_1d: tuple[int, ...] = x.shape or (1,)
    src = np.moveaxis(x.reshape(shape_1d), ax, -1)
    lead, n = src.shape[:-1], src.shape[-1]
    src = src.reshape(-1, n)  # the input's dtype: converted to float64 a block at a time
    R = src.shape[0]
    width = n if function != "logsumexp" else 1
    # rounded in the target dtype directly (every value is representable there);
    # lo by np.zeros, whose pages stay unmapped where nothing is written.
    hi, rounded = np.empty((R, width)), np.empty((R, width), dtype=fmt.dtype)
    row_ok, eligible = np.empty(R, dtype=bool), np.empty(R, dtype=bool)
    # Blocks of about BLOCK elements (whole rows; a longer row is a block of its
    # own), written into the outputs in place: the dozens of float64 temporaries
    # per element stay in cache, and no full-size copy of the input or the
    # results is made.  Every step is row by row, so the block size changes no bit.
    step = max(1, BLOCK // n)
    for i in range(0, R, step):
        rows = src[i:i + step].astype(np.float64)
        finite, ninf = f64.eligible(rows)
        if not finite.all():
            rows[~finite] = 0.0
        v, b = _rows_fast(function, rows, fmt, ninf)
        r, ok = _decide(v, b, fmt)
        if function == "log_softmax":  # a -inf entry: exactly -inf
            r[ninf], v[ninf], ok[ninf] = -np.inf, -np.inf, True
        row_ok[i:i + step] = finite & (ok.all(axis=-1) if ok.ndim == 2 else ok)
        eligible[i:i + step] = finite
        hi[i:i + step] = v.reshape(len(rows), width)
        rounded[i:i + step] = _castable(r, fmt).reshape(len(rows), width)
    lo = np.zeros((R, width))
    bad = np.flatnonzero(~row_ok)
    if bad.size:
        bad = _dd_rows(function, src, bad[eligible[bad]], fmt, rounded, hi, lo, bad[~eligible[bad]])
    if bad.size:
        ex = api.evaluate(function, src[bad], -1, **kw)
        rounded[bad] = ex.rounded.reshape(len(bad), width)
        hi[bad], lo[bad] = ex.hi.reshape(len(bad), width), ex.lo.reshape(len(bad), width)
    out_shape = lead + ((n,) if function != "logsumexp" else ())

    def back(a):
        a = a.reshape(out_shape)
        if function != "logsumexp":
            a = np.moveaxis(a, -1, ax).reshape(x.shape)
        return a

    return api.Exact(back(rounded), back(hi), back(lo))

"""The error measure: ulps of the output dtype at the *exact* value.

- ulp(x) = 2**(max(floor(log2|x|), emin) - p + 1); for a zero or subnormal
  exact value that is the smallest subnormal.
- error = |got - exact| / ulp(exact), with exact = hi + lo (double-double), so
  the measure itself is good to about 2**-50 ulp even for float64 outputs.
- NaN expected and NaN got agree (error 0).  Equal infinities agree.  An
  overflowed expectation (the exact value rounds to inf) measured against a
  finite output is still a number.  Every other NaN/inf mismatch is not a
  number but a ``wrong-special`` verdict: it is reported in ``special``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracles import Exact, Format


@dataclass
class Measure:
    err: np.ndarray  # ulps, float64; NaN where ``special`` is set
    ulp: np.ndarray  # ulp of the exact value in the output format
    special: np.ndarray  # bool: NaN/inf mismatch
    diff: np.ndarray | None = None  # |got - exact|, absolute; ulps overflow past 2**1024 * min subnormal


def ulp_of(hi: np.ndarray, lo: np.ndarray, fmt: Format) -> np.ndarray:
    """ulp in ``fmt`` of the exact value hi + lo, from hi's exponent bits:
    top = floor(log2|hi|) is the biased exponent field - 1023 for normal hi;
    zero and subnormal hi give <= -1023, below every format's emin, where the
    clip takes them; inf and nan count as 1.0 (top 0), as they always have."""
    hi = np.asarray(hi, dtype=np.float64)
    bits = hi.view(np.uint64)
    # Shifts cast straight into small outputs (numpy buffers them): no 8-byte temporaries.
    top = np.right_shift(bits, np.uint64(52), out=np.empty_like(hi, dtype=np.int16), casting="unsafe")
    top &= 0x7FF
    top -= 1023
    if (top == 1024).any():  # inf, nan
        top = np.where(top == 1024, np.int16(0), top)
    fraction = np.left_shift(bits, np.uint64(12), out=np.empty_like(hi, dtype=bool), casting="unsafe")
    with np.errstate(invalid="ignore"):
        # hi may have rounded up to a power of two (fraction bits 0) from just below it.
        below = ~fraction & (np.asarray(lo) * np.sign(hi) < 0)
    top = np.clip(top - below, fmt.emin, fmt.emax)
    return np.ldexp(1.0, top - (fmt.p - 1))


def measure(got: np.ndarray, exact: Exact, fmt: Format) -> Measure:
    g = np.asarray(got).astype(np.float64)
    hi, lo = exact.hi, exact.lo
    ulp = ulp_of(hi, lo, fmt)
    # No special value (the common case): every element is a number.
    if g.ndim and np.shape(hi) == np.shape(lo) == exact.rounded.shape == g.shape and np.isfinite(g).all() and \
            np.isfinite(exact.rounded).all():
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.subtract(g, hi, out=g)  # g is a copy: (g - hi) - lo in its place
            diff -= lo
            np.abs(diff, out=diff)
            return Measure(diff / ulp, ulp, np.zeros(diff.shape, dtype=bool), diff)
    r = exact.rounded.astype(np.float64)
    both_finite = np.isfinite(g) & np.isfinite(r)
    overflow = np.isinf(r) & np.isfinite(g) & np.isfinite(hi)
    numeric = both_finite | overflow
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs((g - hi) - lo)
        err = np.where(numeric, diff / ulp, 0.0)
    agree = (np.isnan(g) & np.isnan(r)) | (np.isinf(g) & (g == r))
    special = ~numeric & ~agree
    err = np.where(special, np.nan, err)
    return Measure(err, ulp, special, np.where(numeric, diff, np.nan))

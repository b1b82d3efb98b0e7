"""Binary floating-point formats and exact rounding from mpmath values.

Rounding goes *directly* from an exact binary value (an mpmath raw tuple
``(sign, man, exp, bc)``, meaning ``(-1)**sign * man * 2**exp``) to the target
format, with round-to-nearest, ties-to-even, gradual underflow and overflow to
inf.  Going through float64 first would round twice, which is wrong for some
float16/bfloat16 values (see tests/self/test_oracle_rounding.py).

Nothing here imports a framework; ``ml_dtypes`` only supplies the numpy
bfloat16 dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ml_dtypes
import numpy as np
from mpmath import libmp


@dataclass(frozen=True)
class Format:
    """An IEEE-style binary format: ``p`` significand bits (implicit bit
    included), normal exponents in ``[emin, emax]``."""

    name: str
    p: int
    emin: int
    emax: int

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(ml_dtypes.bfloat16) if self.name == "bfloat16" else np.dtype(self.name)

    @property
    def u(self) -> float:
        """Unit roundoff 2**-p."""
        return math.ldexp(1.0, -self.p)

    @property
    def min_subnormal(self) -> float:
        return math.ldexp(1.0, self.emin - self.p + 1)

    @property
    def min_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    @property
    def max_finite(self) -> float:
        return math.ldexp(2.0 - math.ldexp(1.0, 1 - self.p), self.emax)


FORMATS: dict[str, Format] = {
    "float16": Format("float16", 11, -14, 15),
    "bfloat16": Format("bfloat16", 8, -126, 127),
    "float32": Format("float32", 24, -126, 127),
    "float64": Format("float64", 53, -1022, 1023),
}
DTYPE_NAMES: tuple[str, ...] = tuple(FORMATS)


def dtype_name(dtype) -> str:
    """Canonical name of a numpy (or ml_dtypes) floating dtype."""
    name = np.dtype(dtype).name
    if name not in FORMATS:
        raise ValueError(f"unsupported dtype {name!r}; expected one of {', '.join(FORMATS)}")
    return name


def format_of(dtype) -> Format:
    return FORMATS[dtype_name(dtype)]


def round_raw(raw: tuple, fmt: Format) -> float:
    """Round an exact mpmath raw value to ``fmt``; return it as a Python float.

    Every value of the four formats is exactly a Python float, so the return
    value carries no further rounding.
    """
    sign, man, exp, bc = raw
    if not man:
        if raw == libmp.fnan:
            return math.nan
        if raw == libmp.finf:
            return math.inf
        if raw == libmp.fninf:
            return -math.inf
        return -0.0 if sign else 0.0
    top = exp + bc - 1  # value lies in [2**top, 2**(top+1))
    q = max(top, fmt.emin) - (fmt.p - 1)  # quantum of the target grid there
    if exp >= q:
        n = int(man) << (exp - q)
    else:
        shift = q - exp
        n = int(man) >> shift
        rem = int(man) - (n << shift)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and n & 1):
            n += 1
    if n == 0:
        return -0.0 if sign else 0.0
    if n.bit_length() - 1 + q > fmt.emax:
        return -math.inf if sign else math.inf
    v = math.ldexp(float(n), q)  # n has at most p+1 <= 54 bits and is even if 54: exact
    return -v if sign else v


def round_mpf(value, fmt: Format) -> float:
    """Round an ``mpmath.mpf`` directly to ``fmt``."""
    return round_raw(value._mpf_, fmt)

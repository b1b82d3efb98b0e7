"""dtype facts the strategies need, and exact casting from float64."""

from __future__ import annotations

import math

import numpy as np

from oracles import FORMATS, Format

from ..dtypes import DTYPES  # noqa: F401  (re-exported: the strategies' dtype list)


def fmt(dtype: str) -> Format:
    return FORMATS[dtype]


def log_max(dtype: str) -> float:
    """log of the largest finite value: exp overflows just above it."""
    f = FORMATS[dtype]
    return math.log(f.max_finite)


def log_min_subnormal(dtype: str) -> float:
    """exp(d) is zero (after rounding) a little below this."""
    return math.log(FORMATS[dtype].min_subnormal)


def cast(x: np.ndarray, dtype: str) -> np.ndarray:
    """Round float64 values to ``dtype`` (nearest, ties to even), clipping
    finite values to the finite range so that a finite draw stays finite."""
    f = FORMATS[dtype]
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        x = np.where(np.isfinite(x), np.clip(x, -f.max_finite, f.max_finite), x)
    return x.astype(f.dtype)


def float_width(dtype: str) -> int:
    """Width for ``st.floats`` whose draws are exactly representable (bf16 is
    drawn as float32 and rounded)."""
    return {"float16": 16, "bfloat16": 32, "float32": 32, "float64": 64}[dtype]

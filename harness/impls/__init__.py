"""One adapter module per framework family.  Each exposes ``impls()``, which
builds Impl records without importing its framework (imports happen inside
the adapter functions, on first call)."""

from __future__ import annotations

import numpy as np

from ..records import Case

HALF = ("float16", "bfloat16")
ALL_DTYPES = ("float16", "bfloat16", "float32", "float64")


def moved(case: Case) -> np.ndarray:
    """Logits with the case's axis moved last."""
    return np.moveaxis(case.logits, case.norm_axis, -1)


def unmove(out: np.ndarray, case: Case) -> np.ndarray:
    return np.moveaxis(out, -1, case.norm_axis)

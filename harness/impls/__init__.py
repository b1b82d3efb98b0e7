"""One adapter module per framework family.  Each exposes ``impls()``, which
builds Impl records without importing its framework (imports happen inside
the adapter functions, on first call)."""

from __future__ import annotations

import numpy as np

from ..dtypes import DTYPES as ALL_DTYPES  # noqa: F401  (the adapters' names for them)
from ..dtypes import HALF  # noqa: F401
from ..records import Case


def moved(case: Case) -> np.ndarray:
    """Logits with the case's axis moved last."""
    return np.moveaxis(case.logits, case.norm_axis, -1)


def unmove(out: np.ndarray, case: Case) -> np.ndarray:
    return np.moveaxis(out, -1, case.norm_axis)

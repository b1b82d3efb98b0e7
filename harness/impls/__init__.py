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


def as_rows(a: np.ndarray, case: Case) -> np.ndarray:
    """``a`` (the logits, or an array of their shape) as a fresh C-order (rows, n)
    array, the case's axis last; a 0-d case is one row of one.  Canonical strides
    even on length-1 axes (torch's CPU flash kernel rejects a last axis of length 1
    whose stride is not 1, though torch calls such a tensor contiguous)."""
    if case.logits.ndim == 0:
        return np.array(a).reshape(1, 1)
    x = np.moveaxis(a, case.norm_axis, -1)
    rows = int(np.prod(x.shape[:-1]))  # not -1: an empty axis (n = 0) leaves -1 undetermined
    return np.array(x.reshape(rows, x.shape[-1]), order="C")


def from_rows(y: np.ndarray, case: Case) -> np.ndarray:
    """(rows, n) back to the case's shape and axis."""
    if case.logits.ndim == 0:
        return y.reshape(())
    return unmove(y.reshape(moved(case).shape), case)

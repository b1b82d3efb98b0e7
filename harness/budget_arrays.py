"""Array mechanics of the budgets (harness/policy.py): each slice's distances
to its max, quantities constant along a slice stored once per slice, and
float64 arithmetic done in place on temporaries the budgets own, with every
result in the memory layout numpy's operators would have given it: the
numbers are elementwise the same either way, but later sums over budgets
(sum_to_one's, the Jacobian's rows) add in the order of the layout."""

from __future__ import annotations

import numpy as np


def distances(d: np.ndarray) -> np.ndarray:
    """|d| where finite, 0 elsewhere (excluded positions and spreads past float64)."""
    ad = np.abs(d)
    if not np.isfinite(ad).all():
        ad[~np.isfinite(ad)] = 0.0
    return ad


def shifted(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d, m) for float64 slices on the last axis of ``x``: d = x - m, -inf at
    non-finite entries; m the slice's finite max (keepdims), 0 where there is none."""
    with np.errstate(invalid="ignore", over="ignore"):
        fin = np.where(np.isfinite(x), x, -np.inf)
        m = np.max(fin, axis=-1, keepdims=True) if x.shape[-1] else np.zeros(x.shape[:-1] + (1,))
        m = np.where(np.isfinite(m), m, 0.0)
        return np.subtract(fin, m, out=fin), m  # fin's buffer: d keeps the layout it always had


def gaps(x: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """|x_i - max| per element of float64 slices on the last axis (0 where not
    finite or masked out): all a local budget needs of the slices."""
    x = np.asarray(x, dtype=np.float64)
    return distances(shifted(np.where(keep, x, -np.inf) if keep is not None else x)[0])


def compact(a: np.ndarray) -> np.ndarray:
    """The smallest array that broadcasts back to ``a``: its zero-stride axes
    cut to length 1 (a quantity constant along a slice is stored once per slice)."""
    a = np.asarray(a)
    return a[tuple(slice(0, 1) if st == 0 and k > 1 else slice(None) for st, k in zip(a.strides, a.shape))]


ELIDE_BYTES = 256 * 1024  # numpy's NPY_MIN_ELIDE_BYTES


def per_ulp(e: np.ndarray, ulp: np.ndarray) -> np.ndarray:
    """e / ulp with the result in the memory layout ``temporary / ulp`` always
    gave (later sums over budgets, e.g. sum_to_one's, follow the layout):
    numpy writes into a temporary of >= ELIDE_BYTES of the result's shape
    (temporary elision), and so does this, as where ulp has e's layout; else
    a new array, whose layout numpy picks from both."""
    if isinstance(ulp, float) or (np.shape(ulp) == e.shape and (e.nbytes >= ELIDE_BYTES or ulp.strides == e.strides)):
        np.divide(e, ulp, out=e)
        return e if e.ndim else e[()]  # a 0-d result is a scalar, as numpy's operators give
    return np.divide(e, ulp)


def owned(a: np.ndarray, own: bool) -> np.ndarray:
    """``a`` itself where the caller gave up a float64 temporary, else a copy
    (np.array keeps the layout, as nan_to_num's copy did)."""
    if own and isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.writeable:
        return a
    return np.array(a, dtype=np.float64)

"""Is a dtype unsupported, or is the implementation broken?

A correct kernel may refuse a whole dtype with a clear exception (a float16
kernel asked for bfloat16).  That is ``unsupported (raises TypeError: ...)``
for the dtype, not a defect.  The test: ordinary probes of several shapes, in
that dtype, every one raising the same exception as the failure.  A kernel
that raises only on some inputs (a length-1 axis, a NaN) still fails: one
probe succeeds or raises something else.
"""

from __future__ import annotations

import numpy as np

from oracles import format_of

from .evaluate import invoke
from .records import Case, Impl

# Ordinary inputs only: small finite logits, rows of 3 and 5, 1-D to 3-D.
PROBE_SHAPES = ((3,), (2, 5), (2, 3, 5))


def _probes(impl: Impl, dtype: str) -> list[Case]:
    out = []
    for shape in PROBE_SHAPES:
        x = np.linspace(-2.0, 2.0, int(np.prod(shape))).reshape(shape).astype(format_of(dtype).dtype)
        case = Case(x, -1, "probe")
        n = shape[-1]
        if impl.function == "cross_entropy":
            case.labels = np.zeros(shape[:-1], np.int64) + 1
        if impl.function == "softmax_vjp":
            case.upstream = np.ones_like(x)
        if impl.function == "masked_softmax":
            case.mask = np.ones(shape, bool)
        if impl.function.startswith("sparse_"):
            case.indices = np.argwhere(np.ones(shape, bool)).astype(np.int64)
        if impl.unsupported(case) is None and n:
            out.append(case)
    return out


def dtype_refusal(impl: Impl, dtype: str, error: str) -> str | None:
    """``"raises TypeError: ..."`` when every probe in ``dtype`` raises the
    same ``error`` (its type and first line) as the failure; else None."""
    probes = _probes(impl, dtype)
    if not probes or not error:
        return None
    for case in probes:
        if invoke(impl, case).error != error:
            return None
    return f"raises {error}"

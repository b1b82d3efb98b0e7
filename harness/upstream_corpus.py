"""Upstream regressions as a named corpus (issue 16 §4): fixed cases, each
from a real upstream report, its repository and issue number in the regime
tag (``upstream:pytorch#25110``).

Each case runs against every implementation of its function, in the dtypes
it is about.  What the output must be comes from the oracle and the
convention rules (harness/special_values.py), never from the report's own
claim: an output passes where it follows a recognised convention (its
claimed one first) within the accuracy budget, as the special-value classes
do; the cell shows the convention followed, or the ulps for finite rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from oracles import PROFILES
from oracles.formats import FORMATS

from . import verdicts
from .evaluate import accuracy, invoke
from .records import Case, Finding, Impl

NINF, INF, NAN = -np.inf, np.inf, np.nan


@dataclass(frozen=True)
class UpstreamCase:
    tag: str  # upstream:<repo>#<number>
    function: str
    title: str
    url: str
    build: Callable[[str], Case | None]  # dtype -> the case, None where the report is not about that dtype
    dtypes: tuple[str, ...] | None = None  # None: every dtype

    def case(self, dtype: str) -> Case | None:
        if self.dtypes is not None and dtype not in self.dtypes:
            return None
        c = self.build(dtype)
        if c is not None:
            c.regime = self.tag
        return c


def _a(values, dtype: str) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(FORMATS[dtype].dtype)


def _rows(values, mask=None):
    return lambda dt: Case(_a(values, dt), -1, mask=None if mask is None else np.asarray(mask, bool))


def _wide(n: int):
    def build(dt: str) -> Case:  # rows of a width the report names, seeded normal logits
        return Case(_a(np.random.default_rng(143644).normal(0, 3, (4, n)), dt), -1)
    return build


GH = "https://github.com/"
CORPUS: tuple[UpstreamCase, ...] = (
    UpstreamCase("upstream:pytorch#25110", "softmax", "softmax over all -inf gives NaN",
                 GH + "pytorch/pytorch/issues/25110", _rows([[NINF, NINF, NINF], [0.0, 1.0, 2.0]])),
    UpstreamCase("upstream:pytorch#6864", "softmax", "softmax([inf, 0]) gives NaN (also jax-ml/jax#21495)",
                 GH + "pytorch/pytorch/issues/6864", _rows([[INF, 0.0], [1.0, 0.0]])),
    # ∇logsumexp is softmax, so its all -inf row is softmax's: here log_softmax's own form
    UpstreamCase("upstream:pytorch#31829", "log_softmax", "logsumexp / log_softmax at all -inf is NaN",
                 GH + "pytorch/pytorch/issues/31829", _rows([[NINF, NINF], [0.5, -0.5]])),
    UpstreamCase("upstream:pytorch#49724", "logsumexp", "logsumexp of all -inf (its gradient is NaN there)",
                 GH + "pytorch/pytorch/issues/49724", _rows([[NINF, NINF, NINF], [0.0, -1.0, 3.0]])),
    UpstreamCase("upstream:pytorch#103749", "masked_softmax", "SDPA on a fully masked row",
                 GH + "pytorch/pytorch/issues/103749",
                 _rows([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]], [[True, True, False], [False, False, False]])),
    UpstreamCase("upstream:pytorch#101967", "masked_softmax", "a NaN in a masked-out position spreads",
                 GH + "pytorch/pytorch/issues/101967",
                 _rows([[1.0, NAN, 2.0], [0.0, 1.0, NAN]], [[True, False, True], [True, True, False]])),
    UpstreamCase("upstream:tensorflow#116933", "softmax", "softmax over an axis of size 1 returns 1 - 2**-24",
                 GH + "tensorflow/tensorflow/issues/116933", _rows([[0.5], [-2.0], [7.0]])),
    UpstreamCase("upstream:pytorch#158310", "log_softmax", "fp16 log_softmax near -2e4 differs CPU vs GPU",
                 GH + "pytorch/pytorch/issues/158310", _rows([[0.0, -2.0e4, -1.999e4, -1.0]]), ("float16",)),
    UpstreamCase("upstream:keras-team/keras#21123", "masked_softmax", "a fully masked Softmax returns uniform 0.25",
                 GH + "keras-team/keras/issues/21123",
                 _rows([[0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]],
                       [[False, False, False, False], [True, True, True, True]])),
    UpstreamCase("upstream:jax-ml/jax#19490", "masked_softmax", "where= masking with large masked-out logits",
                 GH + "jax-ml/jax/issues/19490",
                 lambda dt: Case(_a([[0.0, 1.0, FORMATS[dt].max_finite / 2], [2.0, FORMATS[dt].max_finite, 1.0]], dt),
                                 -1, mask=np.array([[True, True, False], [True, False, True]]))),
    UpstreamCase("upstream:pytorch#143644", "softmax", "float64 row sums wrong at some widths (CUDA): rows of 1025",
                 GH + "pytorch/pytorch/issues/143644", _wide(1025), ("float64",)),
    UpstreamCase("upstream:scipy#19521", "log_softmax", "log_softmax loses accuracy where log1p is needed",
                 GH + "scipy/scipy/issues/19521", _rows([[0.0, -40.0], [0.0, -20.0]])),
)


FUNCTIONS = tuple(sorted({u.function for u in CORPUS}))


def cases_for(impl: Impl, dtype: str) -> list[Case]:
    return [c for u in CORPUS if u.function == impl.function and (c := u.case(dtype)) is not None]


def check_case(impl: Impl, case: Case) -> Finding:
    """One corpus case on one implementation: the convention followed (the
    claimed one first) and the accuracy under it."""
    reason = impl.unsupported(case)
    if reason:
        return Finding("upstream", "unsupported", message=reason, stats={"cell": "unsupported"})
    oc = invoke(impl, case)
    if oc.output is None:
        return Finding("upstream", "error", message=f"raised {oc.error}", stats={"cell": "raises", "error": oc.error})
    out = np.asarray(oc.output)
    graded = {p: accuracy(impl, case, out, p) for p in PROFILES}
    followed = [p for p in PROFILES if verdicts.passes(graded[p].verdict)]
    conv = impl.profile if impl.profile in followed else (followed[0] if followed else impl.profile)
    f = graded[conv]
    special = not np.isfinite(case.logits).all() or (case.mask is not None and not case.mask.any(axis=-1).all())
    f.property = "upstream"
    f.stats = {"cell": (conv if followed else "none") if special else None, "convention": conv if followed else None,
               "profiles": {p: g.verdict for p, g in graded.items()},
               "returned": np.array2string(out.astype(np.float64).reshape(-1)[:6], precision=4)}
    if special and not followed:
        f.message = f"follows no convention ({', '.join(f'{p}: {g.verdict}' for p, g in graded.items())}); {f.message}"
    return f

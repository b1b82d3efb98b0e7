"""Special-value behaviour: fixed input classes, what came back, and the
verdict under each profile (ieee, limit, masked).  The gate uses the
profile the implementation claims (default ieee) unless overridden."""

from __future__ import annotations

import math

import numpy as np

from oracles import PROFILES, format_of

from .evaluate import expected, invoke
from .records import Case, Finding, Impl
from .ulp import measure

NAN, INF = math.nan, math.inf
ROW_CLASSES = {
    "nan": [NAN, 0.0, 1.0],
    "+inf": [INF, 0.0, 1.0],
    "-inf": [-INF, 0.0, 1.0],
    "all -inf": [-INF, -INF, -INF],
    "+inf and -inf": [INF, -INF, 0.0],
    "two +inf": [INF, INF, 0.0],
    "single": [5.0],
    "empty": [],
}
SIGMOID_CLASSES = {"nan": [NAN], "+inf": [INF], "-inf": [-INF], "-0": [-0.0], "max": [1e300], "-max": [-1e300]}


def _case(impl: Impl, values: list[float], dtype: str, name: str) -> Case:
    fmt = format_of(dtype)
    x = np.clip(np.array(values, dtype=np.float64), -fmt.max_finite, fmt.max_finite)
    x = np.where(np.isinf(np.array(values, dtype=np.float64)), values, x).astype(fmt.dtype) if values else \
        np.zeros(0, fmt.dtype)
    if impl.ranks is not None and 1 not in impl.ranks or impl.function.startswith("sparse_") \
            or impl.function == "softmax_jacobian":
        x = x.reshape(1, -1)
    case = Case(x, -1, f"special:{name}")
    n = x.shape[-1]
    if impl.function == "cross_entropy":
        case.labels = np.zeros(x.shape[:-1], np.int64) + min(1, max(n - 1, 0))
    if impl.function == "softmax_vjp":
        case.upstream = np.ones_like(x)
    if impl.function == "masked_softmax":
        case.mask = np.ones(x.shape, bool)
    if impl.function.startswith("sparse_"):
        case.indices = np.argwhere(np.ones(x.shape, bool)).astype(np.int64)
    return case


def _short(a: np.ndarray | None, err: str | None) -> str:
    if err:
        return "raised " + err.split(":")[0]
    if a is None:
        return "-"
    flat = np.asarray(a).astype(np.float64).reshape(-1)
    return "[" + ", ".join(f"{v:.4g}" for v in flat[:6]) + (", ..." if flat.size > 6 else "") + "]"


def classes_for(impl: Impl) -> dict[str, list[float]]:
    cls = SIGMOID_CLASSES if impl.function == "sigmoid" else ROW_CLASSES
    if impl.function in ("cross_entropy", "softmax_jacobian") or impl.function.startswith("sparse_"):
        cls = {k: v for k, v in cls.items() if v}
    return cls


def check_class(impl: Impl, dtype: str, name: str, values: list[float], profile: str | None = None
                ) -> tuple[Finding, Case]:
    case = _case(impl, values, dtype, name)
    reason = impl.unsupported(case)
    if reason:
        return Finding("special_values", "unsupported", message=reason,
                       stats={"input_class": name, "returned": "unsupported", "profiles": {}}), case
    oc = invoke(impl, case)
    verdicts = {}
    for prof in PROFILES:
        if oc.output is None:
            verdicts[prof] = "error"
            continue
        ex = expected(case, impl.function, impl.judge_dtype(case), prof)
        got = np.asarray(oc.output)
        if got.shape != ex.rounded.shape:
            verdicts[prof] = "wrong-shape"
            continue
        m = measure(got, ex, format_of(ex.rounded.dtype))
        verdicts[prof] = "wrong-special" if m.special.any() else ("exact" if (m.err <= 1).all() else "out-of-bound")
    claim = profile or impl.profile
    verdict = verdicts.get(claim, "error")
    returned = _short(oc.output, oc.error)
    msg = f"{name} {list(values)} -> {returned} (profile {claim}: {verdict})"
    if oc.error and verdict == "error":
        msg += f": {oc.error}"
    return Finding("special_values", verdict, message=msg,
                   stats={"input_class": name, "returned": returned, "profiles": verdicts}), case

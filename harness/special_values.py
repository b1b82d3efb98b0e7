"""Special-value behaviour: fixed input classes, what came back, and which
known *convention* it follows.

No standard settles softmax of a +inf logit, of two +inf, of all -inf or of
an empty axis, so an implementation is judged on following a recognised
convention, consistently, not on following ours:

``ieee``    NaN slice (inf - inf, 0/0)            (oracles.special)
``limit``   the mathematical limits
``masked``  exact zeros
``raises``  a Python exception with a message: a convention for the empty
            axis (numpy's and scipy's own reductions raise there); elsewhere a
            raise is ``error`` unless the implementation declares the class in
            ``Impl.raises_on``.

A class fails when the output follows no convention (a swallowed NaN, a
partial NaN, a finite answer that is not the limit), or follows different
ones in a single row and in a batch.  ``--conventions X`` gates on X alone.
A NaN logit gives NaN under every convention, so swallowing it always fails.
"""

from __future__ import annotations

import math

import numpy as np

from oracles import PROFILES, format_of

from . import verdicts
from .evaluate import accuracy, expected, invoke
from .memo import LRU
from .records import Case, Finding, Impl, Result
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
CONVENTIONS = PROFILES + ("raises",)
GATES = ("any",) + PROFILES
RAISES_ALWAYS = ("empty",)  # classes where raising is a convention without a declaration
# What each convention returns, for the one-line summary `check` prints.
SAYS = {"ieee": "NaN", "limit": "limit", "masked": "zeros"}


def _values(values: list[float], dtype: str) -> np.ndarray:
    """``values`` in ``dtype``: finite ones clipped to its range, infinities kept."""
    fmt = format_of(dtype)
    v = np.array(values, dtype=np.float64)
    return np.where(np.isinf(v), v, np.clip(v, -fmt.max_finite, fmt.max_finite)).astype(fmt.dtype)


def _case(impl: Impl, values: list[float], dtype: str, name: str, batched: bool = False) -> Case:
    """The class as one row, or (``batched``) as the first row of two, the
    second an ordinary row: a convention must not depend on the batch."""
    x = _values(values, dtype).reshape(1, -1)
    if batched:
        other = np.linspace(-1.0, 1.0, len(values)) if values else np.zeros(0)
        x = np.concatenate([x, _values(list(other), dtype).reshape(1, -1)])
    elif not (impl.ranks is not None and 1 not in impl.ranks or impl.function.startswith("sparse_")
              or impl.function == "softmax_jacobian"):
        x = x.reshape(-1)
    case = Case(x, -1, f"special:{name}" + ("+batch" if batched else ""))
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


_FOLLOWED: LRU = LRU(1024)  # (case, function, judged dtype, output bits) -> _followed's answer
MEMO_ELEMENTS = 256  # outputs up to this size are memoized (the classes give at most 18 elements)


def _followed(impl: Impl, case: Case, output: np.ndarray) -> dict[str, str]:
    """``_grade_conventions``, memoized on the output's bits: the special_values
    property calls the implementation on the same fixed classes for every
    example of a search, and the same bits on the same case grade the same
    (the grading reads only the case, the function, the judged dtype and the
    output).  The implementation is still called every time."""
    if output.dtype.hasobject or output.size > MEMO_ELEMENTS:  # object bits are pointers, not values
        return _grade_conventions(impl, case, output)
    key = (case.id, impl.function, impl.judge_dtype(case), output.dtype, output.shape, output.tobytes())
    hit = _FOLLOWED.get(key, lambda: _grade_conventions(impl, case, output))
    return dict(hit)


def _grade_conventions(impl: Impl, case: Case, output: np.ndarray) -> dict[str, str]:
    """Verdict of ``output`` under each convention's oracle (FTZ counts as
    following it where it passes: it is a named behaviour, not a convention).
    An empty axis has no elements to budget: the output must be the
    convention's value exactly (a logsumexp of nothing is -inf)."""
    if case.row_length:
        return {p: accuracy(impl, case, output, p).verdict for p in PROFILES}
    out = {}
    for p in PROFILES:
        ex = expected(case, impl.function, impl.judge_dtype(case), p)
        if output.shape != ex.rounded.shape or output.dtype.kind in "OSUb":  # (ml_dtypes' bfloat16 is kind V)
            out[p] = "wrong-shape" if output.shape != ex.rounded.shape else "wrong-dtype"
            continue
        m = measure(output, ex, format_of(ex.rounded.dtype))
        out[p] = "wrong-special" if m.special.any() else ("exact" if (m.err <= 0.5).all() else "out-of-bound")
    return out


def _observe(impl: Impl, case: Case, name: str) -> dict:
    """One layout: what came back and which conventions it follows."""
    oc = invoke(impl, case)
    if oc.output is None:
        raises = name in RAISES_ALWAYS or name in impl.raises_on
        return {"returned": _short(None, oc.error), "error": oc.error,
                "matched": ["raises"] if raises else [], "profiles": {p: "error" for p in PROFILES}}
    by_profile = _followed(impl, case, np.asarray(oc.output))
    matched = [p for p in PROFILES if verdicts.passes(by_profile[p])]
    return {"returned": _short(oc.output, None), "error": None, "matched": matched, "profiles": by_profile}


def name_convention(matched: list[str], error: str | None, prefer: str = "ieee") -> str:
    """The one name to show: the claimed convention where it is among those
    followed, else the first in CONVENTIONS order; "none" if none is."""
    if "raises" in matched:
        return "raises " + (error or "").split(":")[0]
    if not matched:
        return "none"
    return prefer if prefer in matched else matched[0]


def check_class(impl: Impl, dtype: str, name: str, values: list[float], gate: str | None = None
                ) -> tuple[Finding, Case]:
    """Judge one class in ``dtype``: as one row, and as a row of a batch where
    the implementation takes 2-D input.  ``gate``: "any" (default) or one
    convention that every class must follow."""
    gate = gate or "any"
    case = _case(impl, values, dtype, name)
    reason = impl.unsupported(case)
    if reason:
        return Finding("special_values", "unsupported", message=reason,
                       stats={"input_class": name, "returned": "unsupported", "profiles": {},
                              "convention": "unsupported", "matched": []}), case
    seen = [_observe(impl, case, name)]
    batch = _case(impl, values, dtype, name, batched=True)
    if impl.function != "sigmoid" and impl.unsupported(batch) is None:
        seen.append(_observe(impl, batch, name))
    common = [c for c in CONVENTIONS if all(c in s["matched"] for s in seen)]
    first = seen[0]
    conv = name_convention(common, first["error"], impl.profile)
    shown = f"{name} {list(values)} -> {first['returned']}"
    if not all(s["matched"] for s in seen):
        bad = next(s for s in seen if not s["matched"])
        layout = "as one row" if bad is first else "in a batch"
        if bad["error"]:
            verdict, why = "error", f"raised {bad['error']} {layout}"
        elif near := [p for p, v in bad["profiles"].items() if v == "out-of-bound"]:  # special values as p says
            verdict = "out-of-bound"
            why = f"special values as {'/'.join(near)} says {layout}, but finite values are wrong (out of bound)"
        else:
            verdict = "wrong-special"
            why = f"follows no convention {layout} (ieee: {bad['profiles']['ieee']}, limit: " \
                  f"{bad['profiles']['limit']}, masked: {bad['profiles']['masked']})"
    elif not common:
        verdict = "wrong-special"
        why = "mixed conventions: " + " as one row, ".join(
            "/".join(s["matched"]) for s in seen) + " in a batch"
    elif gate != "any" and gate not in common:
        verdict, why = "wrong-special", f"follows {'/'.join(common)}, not {gate} (--conventions {gate})"
    else:
        verdict, why = "exact", conv
    msg = f"{shown} ({why})"
    stats = {"input_class": name, "returned": first["returned"], "profiles": first["profiles"],
             "convention": conv if verdict == "exact" else "none", "matched": common}
    if any(s["error"] for s in seen):
        stats["error"] = next(s["error"] for s in seen if s["error"])
    return Finding("special_values", verdict, message=msg, stats=stats), case


def summary(results: list[Result]) -> str:
    """One line over special-value results of several dtypes: which
    convention each class follows, e.g. ``+inf -> NaN (ieee); empty ->
    raises ValueError``; dtypes are named where they differ."""
    by_cls: dict[str, dict[str, list[str]]] = {}
    for r in results:
        st = r.stats
        cls, conv = st.get("input_class"), st.get("convention")
        if not cls or not conv or conv == "unsupported" or set(PROFILES) <= set(st.get("matched") or []):
            continue  # every convention agrees here (a NaN logit, a single one): nothing to name
        by_cls.setdefault(cls, {}).setdefault(conv, []).append(r.dtype)
    parts = []
    for cls, convs in by_cls.items():
        said = [f"{SAYS.get(c, '')} ({c})".strip() if c in SAYS else c for c in convs]
        if len(convs) == 1:
            parts.append(f"{cls} -> {said[0]}")
        else:
            parts.append(f"{cls} -> " + ", ".join(f"{s} in {','.join(ds)}" for s, ds in zip(said, convs.values())))
    return "; ".join(parts)


def mixed_dtypes(results: list[Result]) -> list[str]:
    """Classes whose followed conventions share none across dtypes: one
    implementation, two conventions for the same input."""
    by_cls: dict[str, list[tuple[str, set]]] = {}
    for r in results:
        st = r.stats
        if st.get("input_class") and st.get("convention") not in (None, "unsupported", "none"):
            by_cls.setdefault(st["input_class"], []).append((r.dtype, set(st.get("matched") or [])))
    out = []
    for cls, seen in by_cls.items():
        if len(seen) > 1 and not set.intersection(*(m for _, m in seen)):
            out.append(f"{cls}: " + ", ".join(f"{'/'.join(sorted(m))} in {d}" for d, m in seen))
    return out

"""6 Failures: failing results, worst first and known findings last; the
first ``max_failures`` in full detail (input, expected and actual around the
worst element, reproducer, Hypothesis blob, likely cause), the rest counted.

Failures are grouped by root cause (``root_cause``): one card per group with
its count, its dtypes and its minimal member (the smallest stored input).
New failures are never cut; past ``max_failures`` cards only known ones are
counted instead of shown."""

from __future__ import annotations

import re
from collections import Counter

from harness.diagnosis import diagnose_one
from harness.verdicts import rank

from ..arrays import array_window, input_summary
from ..common import MAX_REPRODUCER, dtype_order, failing, fmt_ulp, num
from ..gather import ImplRow, Placed
from ..model import Failure, Failures

OMITTED_ANCHOR = "failures-omitted"  # where a cell whose failures were all cut links to


def _failure(i: int, p: Placed, row: ImplRow | None, also: list[str]) -> Failure:
    r = p.result
    hyp = r.hypothesis or {}
    blob = hyp.get("blob")
    return Failure(
        index=i, anchor=f"fail-{i}", rank=rank(p.effective), max_ulp=num(r.max_ulp),
        label=row.label if row else r.impl, result=r, env=p.env, effective=p.effective,
        max_ulp_text=fmt_ulp(num(r.max_ulp)), budget_text=fmt_ulp(num(r.budget_ulp)),
        input=input_summary(r.case, r.worst_index),
        window=array_window(r.case, r.expected, r.output, r.worst_index),
        reproducer=r.reproducer[:MAX_REPRODUCER], reproducer_cut=len(r.reproducer) > MAX_REPRODUCER,
        blob=f"@reproduce_failure({blob})" if blob else None, seed=hyp.get("seed"),
        src=f"{p.dir}/{p.src}",
        detail_error=r.stats.get("detail_error"),
        also=also,
        cause=diagnose_one(r),
    )


def root_cause(p: Placed) -> tuple:
    """Results that share a root cause: the same exception (an error or crash
    with the same first message line, whatever the property), else the same
    property, verdict and regime on the same implementation row."""
    r = p.result
    if r.verdict in WHOLE_CALL:
        return (p.row, p.effective, r.verdict, _first_line(r.message))
    return (p.row, p.effective, r.verdict, r.property, base_regime(r.regime))


# verdicts about the call itself, not about one property's numbers: the same
# message on one implementation is one cause, whichever property hit it
WHOLE_CALL = ("error", "crash", "timeout", "wrong-dtype", "wrong-shape")


def _first_line(msg: str | None) -> str:
    # digits vary with the case (sizes, values): they do not make another cause
    return re.sub(r"\d+", "#", (msg or "").strip().splitlines()[0]) if (msg or "").strip() else ""


def base_regime(regime: str) -> str:
    """``ordinary+layout-reversed`` -> ``ordinary``; ``special:+inf`` -> ``special``:
    the input family, without the layout and mask variants or the special class."""
    return regime.split("+", 1)[0].split(":", 1)[0]


def _input_size(p: Placed) -> tuple:
    """Smaller stored input first; results without a stored input last."""
    c = p.result.case
    return (c is None, len(str(c)) if c else 0)


def failures_section(results: list[Placed], rows: list[ImplRow],
                     max_failures: int) -> tuple[Failures, dict[tuple[int, str], str]]:
    """The section, and (row key, dtype) -> the anchor each matrix cell with
    failures links to: its first failure shown, else the omitted note."""
    fails = [p for p in results if failing(p.effective) or p.effective == "known"]
    fails.sort(key=lambda p: (p.effective == "known", -rank(p.result.verdict), -(num(p.result.max_ulp) or 0.0),
                              p.result.impl, dtype_order(p.result.dtype), p.result.property))
    grouped: dict[tuple, list[Placed]] = {}
    for p in fails:
        grouped.setdefault(root_cause(p), []).append(p)
    rows_by_key = {w.key: w for w in rows}
    links: dict[tuple[int, str], str] = {}
    shown: list[Failure] = []
    omitted: list[Placed] = []
    for group in grouped.values():
        # a new failure is what makes CI red: it is never cut, only known ones are
        if len(shown) >= max_failures and group[0].effective == "known":
            omitted.extend(group)
            continue
        i = len(shown)
        for p in group:
            links.setdefault((p.row, p.result.dtype), f"fail-{i}")
        rep = min(group, key=_input_size)  # the minimal member stands for the group
        f = _failure(i, rep, rows_by_key.get(rep.row), sorted({p.result.dtype for p in group} - {rep.result.dtype},
                                                              key=dtype_order))
        f.count = len(group)
        f.properties = sorted({p.result.property for p in group})
        shown.append(f)
    for p in omitted:
        links.setdefault((p.row, p.result.dtype), OMITTED_ANCHOR)
    section = Failures(shown=shown, total=len(fails), n_groups=len(grouped), omitted=len(omitted),
                       omitted_by_verdict=dict(Counter(p.effective for p in omitted)))
    return section, links

"""6 Failures: failing results, worst first and known findings last; the
first ``max_failures`` in full detail (input, expected and actual around the
worst element, reproducer, Hypothesis blob, likely cause), the rest counted.

The same failure in several dtypes (same implementation, property, input
class, verdict and message) is shown once, listing the other dtypes."""

from __future__ import annotations

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


def failures_section(results: list[Placed], rows: list[ImplRow],
                     max_failures: int) -> tuple[Failures, dict[tuple[int, str], str]]:
    """The section, and (row key, dtype) -> the anchor each matrix cell with
    failures links to: its first failure shown, else the omitted note."""
    fails = [p for p in results if failing(p.effective) or p.effective == "known"]
    fails.sort(key=lambda p: (p.effective == "known", -rank(p.result.verdict), -(num(p.result.max_ulp) or 0.0),
                              p.result.impl, dtype_order(p.result.dtype), p.result.property))
    grouped: dict[tuple, list[Placed]] = {}
    for p in fails:
        r = p.result
        grouped.setdefault((p.row, r.property, r.regime, p.effective, r.verdict, r.message), []).append(p)
    rows_by_key = {w.key: w for w in rows}
    links: dict[tuple[int, str], str] = {}
    shown: list[Failure] = []
    omitted: list[Placed] = []
    for group in grouped.values():
        if len(shown) >= max_failures:
            omitted.extend(group)
            continue
        i = len(shown)
        for p in group:
            links.setdefault((p.row, p.result.dtype), f"fail-{i}")
        shown.append(_failure(i, group[0], rows_by_key.get(group[0].row), [p.result.dtype for p in group[1:]]))
    for p in omitted:
        links.setdefault((p.row, p.result.dtype), OMITTED_ANCHOR)
    section = Failures(shown=shown, total=len(fails), n_groups=len(grouped), omitted=len(omitted),
                       omitted_by_verdict=dict(Counter(p.effective for p in omitted)))
    return section, links

"""6 Failures: failing results, worst first and known findings last; the
first ``max_failures`` in full detail (input, expected and actual around the
worst element, reproducer, Hypothesis blob, likely cause), the rest counted.

The same failure in several dtypes (same implementation, property, input
class, verdict and message) is shown once, listing the other dtypes."""

from __future__ import annotations

from collections import Counter

from harness.diagnosis import diagnose_one
from harness.policy import rank

from ..arrays import array_window, input_summary
from ..common import MAX_REPRODUCER, dtype_order, failing, fmt_ulp, num, stats
from ..gather import ImplRow
from ..model import Failure, Failures

OMITTED_ANCHOR = "failures-omitted"  # where a cell whose failures were all cut links to


def _failure(i: int, r: dict, row: ImplRow | None, also: list[str]) -> Failure:
    hyp = r.get("hypothesis") or {}
    blob = hyp.get("blob")
    repro = r.get("reproducer") or ""
    return Failure(
        index=i, anchor=f"fail-{i}", rank=rank(r["_eff"]), max_ulp=num(r.get("max_ulp")),
        label=row.label if row else r["impl"], impl=r["impl"], env=r["_env"],
        family=r.get("family", ""), function=r["function"], property=r["property"], dtype=r["dtype"],
        regime=r["regime"], verdict=r["verdict"], effective=r["_eff"], known=r.get("known"),
        message=r.get("message", ""), max_ulp_text=fmt_ulp(num(r.get("max_ulp"))),
        budget_text=fmt_ulp(num(r.get("budget_ulp"))), worst_index=r.get("worst_index"),
        case_id=r.get("case_id", ""), input=input_summary(r.get("case"), r.get("worst_index")),
        window=array_window(r.get("case"), r.get("expected"), r.get("output"), r.get("worst_index")),
        reproducer=repro[:MAX_REPRODUCER], reproducer_cut=len(repro) > MAX_REPRODUCER,
        blob=f"@reproduce_failure({blob})" if blob else None, seed=hyp.get("seed"),
        src=f"{r['_dir']}/{r.get('_src', '')}", device=r.get("device", ""),
        detail_error=stats(r).get("detail_error"),
        also=also,
        cause=diagnose_one(r),
    )


def failures_section(results: list[dict], rows: list[ImplRow],
                     max_failures: int) -> tuple[Failures, dict[tuple[int, str], str]]:
    """The section, and (row key, dtype) -> the anchor each matrix cell with
    failures links to: its first failure shown, else the omitted note."""
    fails = [r for r in results if failing(r["_eff"]) or r["_eff"] == "known"]
    fails.sort(key=lambda r: (r["_eff"] == "known", -rank(r["verdict"]), -(num(r.get("max_ulp")) or 0.0),
                              r["impl"], dtype_order(r["dtype"]), r["property"]))
    grouped: dict[tuple, list] = {}
    for r in fails:
        grouped.setdefault((r["_row"], r["property"], r["regime"], r["_eff"], r["verdict"], r.get("message", "")),
                           []).append(r)
    rows_by_key = {w.key: w for w in rows}
    links: dict[tuple[int, str], str] = {}
    shown: list[Failure] = []
    omitted: list[dict] = []
    for group in grouped.values():
        if len(shown) >= max_failures:
            omitted.extend(group)
            continue
        i = len(shown)
        for r in group:
            links.setdefault((r["_row"], r["dtype"]), f"fail-{i}")
        shown.append(_failure(i, group[0], rows_by_key.get(group[0]["_row"]), [r["dtype"] for r in group[1:]]))
    for r in omitted:
        links.setdefault((r["_row"], r["dtype"]), OMITTED_ANCHOR)
    section = Failures(shown=shown, total=len(fails), n_groups=len(grouped), omitted=len(omitted),
                       omitted_by_verdict=dict(Counter(r["_eff"] for r in omitted)))
    return section, links

"""Plain-text summary table of results, for terminals."""

from __future__ import annotations

from collections import defaultdict

from .policy import VERDICTS, worst


def table(results: list[dict], width: int = 60) -> str:
    by_impl: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        by_impl[r["impl"]].append(r)
    cols = [v for v in VERDICTS if any(r["verdict"] == v for r in results)]
    head = f"{'implementation':<{width}} {'worst':<14} {'max ulp':>10}  " + " ".join(f"{c[:8]:>8}" for c in cols)
    lines = [head, "-" * len(head)]
    for impl in sorted(by_impl):
        rs = by_impl[impl]
        w = worst(r["verdict"] for r in rs)
        ulps = [r["max_ulp"] for r in rs if r.get("max_ulp") is not None and r["property"] == "accuracy"]
        mu = f"{max(ulps):.3g}" if ulps else "-"
        counts = " ".join(f"{sum(r['verdict'] == c for r in rs):>8}" for c in cols)
        lines.append(f"{impl[:width]:<{width}} {w:<14} {mu:>10}  {counts}")
    return "\n".join(lines)

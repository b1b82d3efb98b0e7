"""What the upstream tolerance rules would have said: over every accuracy
result of the run, where each rule (harness/upstream_rules.py) disagrees
with the oracle-graded verdict: blind (passes an out-of-bound output) or
too strict (fails one within the Blanchard-Higham-Higham bound)."""

from __future__ import annotations

from harness.dtypes import DTYPES
from harness.upstream_rules import LABELS, RULES, disagreement

from ..common import fmt_ulp, num
from ..gather import ImplRow
from ..model import RuleExample, RuleRow, Rules

TOP = 8  # examples listed per rule and kind


def rules_section(rows: list[ImplRow]) -> Rules:
    out = {r: RuleRow(rule=r, label=LABELS[r]) for r in RULES}
    for row in rows:
        for p in row.results:
            res = p.result
            tallies = res.stats.get("rules") if res.property == "accuracy" else None
            if not isinstance(tallies, dict):
                continue
            for rule, t in tallies.items():
                if rule not in out or not isinstance(t, dict):
                    continue
                rr = out[rule]
                passed = not t.get("fail")  # the search's verdict: every example passes
                kind = disagreement(res.verdict, passed)
                rr.results += 1
                for k in ("blind", "too_strict"):
                    rr.example_counts[k] += int(t.get(k, 0))
                rr.example_counts["judged"] += int(t.get("pass", 0)) + int(t.get("fail", 0))
                per = rr.per_dtype.setdefault(res.dtype, {"results": 0, "blind": 0, "too_strict": 0})
                per["results"] += 1
                if kind is None:
                    rr.agree += 1
                    continue
                per[kind] += 1
                setattr(rr, kind, getattr(rr, kind) + 1)
                getattr(rr, f"{kind}_top").append(RuleExample(
                    label=row.label, dtype=res.dtype, verdict=res.verdict, max_ulp=fmt_ulp(num(res.max_ulp)),
                    budget=fmt_ulp(num(res.budget_ulp)), regime=res.regime, raw=num(res.max_ulp) or 0.0,
                    row=row.key))
    for rr in out.values():
        rr.per_dtype = {d: rr.per_dtype[d] for d in DTYPES if d in rr.per_dtype}
        rr.blind_top.sort(key=lambda e: -e.raw)
        rr.too_strict_top.sort(key=lambda e: -e.raw)
        rr.n_blind_listed, rr.n_strict_listed = len(rr.blind_top), len(rr.too_strict_top)
        del rr.blind_top[TOP:], rr.too_strict_top[TOP:]
    return Rules([rr for rr in out.values() if rr.results])

"""3 Accuracy: a Zimmermann-style table, the max ulp error per
implementation per dtype with the input that produced it.  Values found by
search are lower bounds of the true max."""

from __future__ import annotations

from harness.dtypes import DTYPES
from harness.policy import rank

from ..arrays import input_summary
from ..common import cell_verdict, fmt_ulp, num, stats
from ..gather import ImplRow
from ..model import Accuracy, AccuracyCell, AccuracyRow


def _cell(results: list[dict]) -> AccuracyCell:
    """The result with the largest error (search max included) speaks for the
    cell; the verdict is the worst of all."""
    best = None
    for r in results:
        u = num(r.get("max_ulp"))
        su = num(stats(r).get("search_max_ulp"))
        val = max([x for x in (u, su) if x is not None], default=None)
        key = (val if val is not None else -1.0, -rank(r["_eff"]))
        if best is None or key > best[0]:
            best = (key, r, val)
    _, r, val = best
    v = cell_verdict(r_["_eff"] for r_ in results)
    return AccuracyCell(
        value=fmt_ulp(val) if val is not None else v, raw=val, lower_bound=not stats(r).get("exhaustive"),
        verdict=v, budget=fmt_ulp(num(r.get("budget_ulp"))),
        input=input_summary(r.get("case"), r.get("worst_index")), regime=r.get("regime", ""),
        examples=stats(r).get("examples"), message=r.get("message", ""),
    )


def accuracy_section(rows: list[ImplRow]) -> Accuracy:
    out_rows = []
    dtypes_seen = set()
    for row in rows:
        acc = [r for r in row.results if r["property"] == "accuracy"]
        if not acc:
            continue
        cells = {}
        for dt in DTYPES:
            rs_ = [r for r in acc if r["dtype"] == dt]
            if rs_:
                dtypes_seen.add(dt)
                cells[dt] = _cell(rs_)
        out_rows.append(AccuracyRow(key=row.key, label=row.label, family=row.family, function=row.function,
                                    cells=cells, notes=row.info.get("notes", "") if row.info else ""))
    return Accuracy(out_rows, [d for d in DTYPES if d in dtypes_seen])

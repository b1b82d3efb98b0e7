"""3 Accuracy: a Zimmermann-style table, the max ulp error per
implementation per dtype with the input that produced it.  Values found by
search are lower bounds of the true max."""

from __future__ import annotations

from harness.dtypes import DTYPES
from harness.verdicts import rank, worst

from ..arrays import input_summary
from ..common import cell_verdict, fmt_ulp, num
from ..gather import ImplRow, Placed
from ..model import Accuracy, AccuracyCell, AccuracyRow


def _cell(results: list[Placed]) -> AccuracyCell:
    """The result with the largest error (search max included) speaks for the
    cell; the verdict is the worst of all."""
    best: tuple[tuple[float, int], Placed, float | None] | None = None
    for p in results:
        u = num(p.result.max_ulp)
        su = num(p.result.stats.get("search_max_ulp"))
        val = max([x for x in (u, su) if x is not None], default=None)
        key = (val if val is not None else -1.0, -rank(p.effective))
        if best is None or key > best[0]:
            best = (key, p, val)
    assert best is not None, "a cell has results"
    r, val = best[1].result, best[2]
    v = cell_verdict(p.effective for p in results)
    # a known finding shows the severity it has, with a "known" mark (as in the matrix)
    shade = worst(p.result.verdict for p in results if p.effective == "known") if v == "known" else v
    return AccuracyCell(
        shade=shade,
        value=fmt_ulp(val) if val is not None else v, raw=val, lower_bound=not r.stats.get("exhaustive"),
        verdict=v, budget=fmt_ulp(num(r.budget_ulp)),
        input=input_summary(r.case, r.worst_index), regime=r.regime,
        examples=r.stats.get("examples"), message=r.message,
    )


def accuracy_section(rows: list[ImplRow]) -> Accuracy:
    out_rows = []
    dtypes_seen = set()
    unavailable = []
    for row in rows:
        # a row that never ran (every result "unavailable") is listed once, not a table row of dashes
        if not row.available:
            unavailable.append(row.label)
            continue
        acc = [p for p in row.results if p.result.property == "accuracy"]
        if not acc:
            continue
        cells = {}
        for dt in DTYPES:
            rs_ = [p for p in acc if p.result.dtype == dt]
            if rs_:
                dtypes_seen.add(dt)
                cells[dt] = _cell(rs_)
        out_rows.append(AccuracyRow(key=row.key, label=row.label, family=row.family, function=row.function,
                                    cells=cells, notes=row.info.get("notes", "") if row.info else ""))
    return Accuracy(out_rows, [d for d in DTYPES if d in dtypes_seen], unavailable)

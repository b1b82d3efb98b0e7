"""2 Conformance matrix: one cell per implementation x dtype, coloured by
the worst verdict over every property run on it, with the max ulp error the
accuracy search found and a link to the cell's first failure.

``unsupported`` property results (a property that does not apply) never
colour a cell unless nothing else ran in it."""

from __future__ import annotations

from collections import defaultdict

from harness.dtypes import DTYPES
from harness.verdicts import rank, worst

from ..common import cell_verdict, dtype_order, failing, fmt_ulp, function_order, num
from ..gather import ImplRow, Placed
from ..model import Column, Matrix, MatrixCell, MatrixRow

MAX_TITLE_LINES = 14  # properties listed in a cell's tooltip


def columns(rows: list[ImplRow]) -> list[Column]:
    """One column group per function: the dtypes declared or run for it."""
    by_fn: dict[str, set] = defaultdict(set)
    for row in rows:
        by_fn[row.function].update(d for d in row.info.get("dtypes", []) if d in DTYPES)
        by_fn[row.function].update(p.result.dtype for p in row.results)
    out = []
    for fn in sorted(by_fn, key=lambda f: (function_order(f), f)):
        ds = sorted(by_fn[fn], key=lambda d: (dtype_order(d), d))
        out.append(Column(fn, ds or list(DTYPES)))
    return out


def _cell(results: list[Placed], link: str | None) -> MatrixCell:
    v = cell_verdict(p.effective for p in results)
    acc = [u for p in results if p.result.property == "accuracy"
           for u in (num(p.result.max_ulp), num(p.result.stats.get("search_max_ulp")))
           if u is not None]
    mu = max(acc) if acc else None
    props = sorted(results, key=lambda p: -rank(p.effective))
    lines = []
    for p in props[:MAX_TITLE_LINES]:
        u = num(p.result.max_ulp)
        extra = f" ({fmt_ulp(u)} ulp)" if u is not None else ""
        kn = f" [known: {p.result.verdict}]" if p.effective == "known" else ""
        lines.append(f"{p.result.property}: {p.effective}{kn}{extra}")
    if len(props) > MAX_TITLE_LINES:
        lines.append(f"… {len(props) - MAX_TITLE_LINES} more")
    # a known finding keeps the colour of what it is (severity stays visible); the mark says "known"
    known = [p for p in results if p.effective == "known"]
    shade = worst(p.result.verdict for p in known) if v == "known" and known else v
    reasons = sorted({p.result.known or "known" for p in known})
    if reasons:
        lines.insert(0, "known (baseline): " + "; ".join(reasons)[:400])
    return MatrixCell(verdict=v, text=v, title="\n".join(lines), max_ulp=mu, shade=shade,
                      max_ulp_text=fmt_ulp(mu) if mu is not None else "",
                      n_failing=sum(1 for p in results if failing(p.effective)),
                      n_known=sum(1 for p in results if p.effective == "known"), link=link)


def _row(row: ImplRow, cols: list[Column], links: dict[tuple[int, str], str]) -> MatrixRow:
    cells: dict[str, MatrixCell] = {}
    by_dtype: dict[str, list[Placed]] = defaultdict(list)
    for p in row.results:
        by_dtype[p.result.dtype].append(p)
    declared = set(row.info.get("dtypes") or []) if row.info else set()
    for col in cols:
        if col.function != row.function:
            continue
        for dt in col.dtypes:
            rs_ = by_dtype.get(dt, [])
            if not row.available:
                cells[dt] = MatrixCell(verdict="unavailable", text="unavailable", title=row.reason)
            elif not rs_:
                why = "not declared" if declared and dt not in declared else "not run"
                cells[dt] = MatrixCell(verdict=None, text="n/a" if why == "not declared" else "–", title=why)
            else:
                cells[dt] = _cell(rs_, links.get((row.key, dt)))
    worst = cell_verdict(c.verdict for c in cells.values() if c.verdict) if cells else "unsupported"
    mus = [c.max_ulp for c in cells.values() if c.max_ulp is not None]
    return MatrixRow(key=row.key, label=row.label, impl=row.impl, env=row.env_id, family=row.family,
                     function=row.function, device=row.device, notes=row.info.get("notes", "") if row.info else "",
                     available=row.available, reason=row.reason, cells=cells, worst=worst,
                     max_ulp=max(mus) if mus else None)


def matrix_section(rows: list[ImplRow], links: dict[tuple[int, str], str]) -> Matrix:
    """``links``: (row key, dtype) -> anchor of the failure a cell links to."""
    cols = columns(rows)
    return Matrix(cols, [_row(row, cols, links) for row in rows])

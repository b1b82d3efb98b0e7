"""9 Upstream regressions: the fixed corpus of harness/upstream_corpus.py,
per function a matrix of cases (rows, with the upstream report) by
implementations (columns); a cell shows the convention the output followed
or, for a finite case, its ulps, coloured by its verdict."""

from __future__ import annotations

from collections import defaultdict

from harness.dtypes import SHORT as DTYPE_SHORT
from harness.upstream_corpus import CORPUS
from harness.verdicts import worst

from ..common import cell_verdict, dtype_order, fmt_ulp, function_order, num
from ..gather import ImplRow, Placed
from ..model import SpecialImpl, UpstreamCell, UpstreamRow, UpstreamTable
from .special import SHORT_CONVENTION

BY_TAG = {u.tag: u for u in CORPUS}


def _cell(placed: list[Placed]) -> UpstreamCell:
    rs = sorted((p.result for p in placed), key=lambda r: dtype_order(r.dtype))
    shown = []
    for r in rs:
        cell = r.stats.get("cell")
        if cell:
            shown.append(SHORT_CONVENTION.get(str(cell), str(cell).split()[0][:6]))
        elif r.max_ulp is not None:
            shown.append(fmt_ulp(num(r.max_ulp)))
    verdict = cell_verdict(p.effective for p in placed)
    short = shown[0] if len(set(shown)) == 1 else "/".join(dict.fromkeys(shown))
    lines = [f"{DTYPE_SHORT.get(r.dtype, r.dtype)}: {r.verdict}; {r.stats.get('returned', '')}; {r.message}"
             for r in rs]
    return UpstreamCell(short=short or "?", verdict=verdict, title="\n".join(lines)[:900],
                        shade=worst(p.result.verdict for p in placed if p.effective == "known")
                        if verdict == "known" else verdict)


def upstream_section(rows: list[ImplRow]) -> list[UpstreamTable]:
    tables: dict[str, UpstreamTable] = {}
    cells: dict[str, dict[tuple, UpstreamCell]] = defaultdict(dict)
    for row in rows:
        ps = [p for p in row.results if p.result.property == "upstream" and p.result.regime in BY_TAG
              and p.result.verdict not in ("unavailable", "unsupported")] if row.available else []
        if not ps:
            continue
        t = tables.setdefault(row.function, UpstreamTable(row.function, [], []))
        t.impls.append(SpecialImpl(row.key, row.label, row.family, (row.info or {}).get("profile", "ieee")))
        groups: dict[str, list[Placed]] = defaultdict(list)
        for p in ps:
            groups[p.result.regime].append(p)
        for tag, g in groups.items():
            cells[row.function][(tag, row.key)] = _cell(g)
    out = []
    for fn in sorted(tables, key=lambda f: (function_order(f), f)):
        t = tables[fn]
        tags = [u.tag for u in CORPUS if u.function == fn and any((u.tag, i.key) in cells[fn] for i in t.impls)]
        t.rows = [UpstreamRow(tag, BY_TAG[tag].title, BY_TAG[tag].url,
                              [cells[fn].get((tag, i.key)) for i in t.impls]) for tag in tags]
        out.append(t)
    return out

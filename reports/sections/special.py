"""4 Special values: per function, what each implementation returns for
each special input class, the convention it follows, and its verdict under
each convention (profile)."""

from __future__ import annotations

from collections import defaultdict

from harness.dtypes import SHORT as DTYPE_SHORT
from harness.verdicts import worst

from ..common import PROFILES, cell_verdict, dtype_order, function_order
from ..gather import ImplRow, Placed
from ..model import Returned, SpecialCell, SpecialGridRow, SpecialImpl, SpecialTable

MAX_MESSAGE = 600
# a cell shows the convention followed in a few letters; the rest is in its title
SHORT_CONVENTION = {"ieee": "I", "limit": "L", "masked": "M", "raises": "raise", "none": "none"}


def _short(dtype: str) -> str:
    return DTYPE_SHORT.get(dtype, dtype)


def _cell(placed: list[Placed]) -> SpecialCell:
    """One input class on one implementation, over its dtypes."""
    results = [p.result for p in placed]
    rets: dict[str, list] = defaultdict(list)  # returned -> dtypes
    for r in sorted(results, key=lambda r: dtype_order(r.dtype)):
        rets[str(r.stats.get("returned", r.message))].append(_short(r.dtype))
    prof = {}
    for pr in PROFILES:
        vs = [v for v in (r.stats.get("profiles", {}).get(pr) for r in results) if v]
        prof[pr] = worst(vs) if vs else None
    convs: dict[str, list] = defaultdict(list)  # convention followed -> dtypes
    for r in results:
        c = r.stats.get("convention")
        if c:
            convs[str(c)].append(_short(r.dtype))
    verdict = cell_verdict(p.effective for p in placed)
    convention = "; ".join(c if len(convs) == 1 else f"{c} ({','.join(ds)})" for c, ds in convs.items())
    return SpecialCell(
        short="/".join(SHORT_CONVENTION.get(c, c.split()[0][:6]) for c in convs) or "?",
        verdict=verdict,
        # a known finding keeps the colour of its severity, as in the matrix
        shade=worst(p.result.verdict for p in placed if p.effective == "known") if verdict == "known" else verdict,
        returned=[Returned(t, ds if len(rets) > 1 else []) for t, ds in rets.items()],
        profiles=prof,
        convention=convention,
        message="\n".join(sorted({r.message for r in results}))[:MAX_MESSAGE],
    )


def special_section(rows: list[ImplRow]) -> list[SpecialTable]:
    tables: dict[str, SpecialTable] = {}
    cells: dict[str, dict[tuple, SpecialCell]] = defaultdict(dict)  # function -> (class, row key) -> cell
    for row in rows:
        # an implementation that did not run here would only add a column (and a "-" class) of dashes
        sv = [p for p in row.results if p.result.property == "special_values"
              and p.result.verdict not in ("unavailable", "unsupported")] if row.available else []
        if not sv:
            continue
        t = tables.setdefault(row.function, SpecialTable(row.function, [], [], []))
        t.impls.append(SpecialImpl(row.key, row.label, row.family, (row.info or {}).get("profile", "ieee")))
        groups: dict[str, list[Placed]] = defaultdict(list)
        for p in sv:
            regime = p.result.regime
            cls = p.result.stats.get("input_class") or (regime[8:] if regime.startswith("special:") else regime)
            groups[str(cls)].append(p)
            if cls not in t.classes:
                t.classes.append(cls)
        for cls, rs_ in groups.items():
            cells[row.function][(cls, row.key)] = _cell(rs_)
    out = []
    for fn in sorted(tables, key=lambda f: (function_order(f), f)):
        t = tables[fn]
        t.grid = [SpecialGridRow(c, [cells[fn].get((c, i.key)) for i in t.impls]) for c in t.classes]
        out.append(t)
    return out

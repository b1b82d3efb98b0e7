"""4 Special values: per function, what each implementation returns for
each special input class, the convention it follows, and its verdict under
each convention (profile)."""

from __future__ import annotations

from collections import defaultdict

from harness.dtypes import SHORT as DTYPE_SHORT
from harness.policy import worst

from ..common import PROFILES, cell_verdict, dtype_order, function_order, stats
from ..gather import ImplRow
from ..model import Returned, SpecialCell, SpecialGridRow, SpecialImpl, SpecialTable

MAX_MESSAGE = 600


def _short(dtype: str) -> str:
    return DTYPE_SHORT.get(dtype, dtype)


def _cell(results: list[dict]) -> SpecialCell:
    """One input class on one implementation, over its dtypes."""
    rets: dict[str, list] = defaultdict(list)  # returned -> dtypes
    for r in sorted(results, key=lambda r: dtype_order(r["dtype"])):
        rets[str(stats(r).get("returned", r.get("message", "")))].append(_short(r["dtype"]))
    prof = {}
    for p in PROFILES:
        vs = [v for v in (stats(r).get("profiles", {}).get(p) for r in results) if v]
        prof[p] = worst(vs) if vs else None
    convs: dict[str, list] = defaultdict(list)  # convention followed -> dtypes
    for r in results:
        c = stats(r).get("convention")
        if c:
            convs[str(c)].append(_short(r["dtype"]))
    return SpecialCell(
        verdict=cell_verdict(r["_eff"] for r in results),
        returned=[Returned(t, ds if len(rets) > 1 else []) for t, ds in rets.items()],
        profiles=prof,
        convention="; ".join(c if len(convs) == 1 else f"{c} ({','.join(ds)})" for c, ds in convs.items()),
        message="\n".join(sorted({r.get("message", "") for r in results}))[:MAX_MESSAGE],
    )


def special_section(rows: list[ImplRow]) -> list[SpecialTable]:
    tables: dict[str, SpecialTable] = {}
    cells: dict[str, dict[tuple, SpecialCell]] = defaultdict(dict)  # function -> (class, row key) -> cell
    for row in rows:
        sv = [r for r in row.results if r["property"] == "special_values"]
        if not sv:
            continue
        t = tables.setdefault(row.function, SpecialTable(row.function, [], [], []))
        t.impls.append(SpecialImpl(row.key, row.label, row.family, (row.info or {}).get("profile", "ieee")))
        groups: dict[str, list] = defaultdict(list)
        for r in sv:
            cls = stats(r).get("input_class") or (r["regime"][8:] if r["regime"].startswith("special:")
                                                  else r["regime"])
            groups[str(cls)].append(r)
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

"""The report's rows: loaded results grouped by implementation (and by
environment where one ran in several), before any section looks at them.

Rows are implementations; an implementation that ran in several
environments (e.g. TF with oneDNN on and off) gets one row per environment,
labelled ``impl @ env``.  An implementation that is registered but
unavailable everywhere gets a row of its own with the reason.

Each result is placed (:class:`Placed`) with what the sections need beside
it: its result set's label and folder, its effective verdict (``known`` for
a baselined failure), its row's key and its source line.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from harness.records import Result

from .common import DEVICE_TOKENS, effective, function_order
from .load import ResultSet


@dataclass(frozen=True)
class Placed:
    """One result where the report puts it."""

    result: Result
    env: str  # its result set's label
    dir: str  # its results folder
    effective: str  # the verdict shown: ``known`` for a failure the baseline knows
    row: int  # its ImplRow's key
    src: str  # "<file name>:<line>" in ``dir``


@dataclass
class ImplRow:
    key: int
    impl: str
    env_id: str | None  # set when the implementation ran in several environments
    label: str
    family: str
    function: str
    device: str
    info: dict  # Impl.describe() from impls.json
    available: bool = True
    reason: str = ""
    results: list[Placed] = field(default_factory=list)

    @property
    def twin_key(self) -> str:
        """The id with device tokens dropped: the same implementation on CPU
        and on GPU share it."""
        def strip(m):
            toks = [t for t in m.group(1).split(",") if t.strip().lower() not in DEVICE_TOKENS]
            return f"[{','.join(toks)}]" if toks else ""

        return re.sub(r"\[([^\]]*)\]", strip, self.impl)


@dataclass
class Gathered:
    rows: list[ImplRow]  # in display order
    results: list[Placed]  # every result
    not_run: list[str]  # available implementations no environment ran


def _impl_infos(sets: list[ResultSet]) -> dict[str, dict]:
    """impl id -> description (an available one preferred), with per-env
    unavailability reasons."""
    infos: dict[str, dict] = {}
    for rs in sets:
        for d in rs.impls:
            cur = infos.get(d["id"])
            entry = dict(d)
            entry.setdefault("unavailable_in", {})
            if cur is None:
                infos[d["id"]] = entry
                cur = entry
            elif d.get("available") and not cur.get("available"):
                entry["unavailable_in"] = cur["unavailable_in"]
                infos[d["id"]] = entry
                cur = entry
            if not d.get("available", True):
                cur["unavailable_in"][rs.label] = d.get("reason") or "unavailable"
    return infos


def gather(sets: list[ResultSet]) -> Gathered:
    for rs in sets:
        rs.label = rs.label or rs.env_id
    infos = _impl_infos(sets)
    envs_of: dict[str, list[str]] = defaultdict(list)
    for rs in sets:
        for res in rs.results:
            if rs.label not in envs_of[res.impl]:
                envs_of[res.impl].append(rs.label)
    rows: dict[tuple[str, str | None], ImplRow] = {}
    all_results: list[Placed] = []
    for rs in sets:
        for r, src in rs.located():
            multi = len(envs_of[r.impl]) > 1
            rk = (r.impl, rs.label if multi else None)
            row = rows.get(rk)
            if row is None:
                info = infos.get(r.impl, {})
                row = ImplRow(key=len(rows), impl=r.impl, env_id=rs.label if multi else None,
                              label=f"{r.impl} @ {rs.label}" if multi else r.impl,
                              family=r.family or info.get("family", "?"),
                              function=r.function or info.get("function", "?"),
                              device=r.device or info.get("device", "cpu"), info=info)
                rows[rk] = row
            p = Placed(r, env=rs.label, dir=str(rs.dir), effective=effective(r), row=row.key, src=src)
            row.results.append(p)
            all_results.append(p)
    ran = {impl for impl, _ in rows}
    not_run = []
    for impl, info in infos.items():
        if impl in ran:
            continue
        if info.get("unavailable_in") and not info.get("available", True):
            by_reason: dict[str, list] = defaultdict(list)
            for e, why in info["unavailable_in"].items():
                by_reason[why].append(e)
            reason = "; ".join(f"{why} (in {', '.join(es)})" if len(sets) > 1 else why
                               for why, es in by_reason.items())
            rows[(impl, None)] = ImplRow(key=len(rows), impl=impl, env_id=None, label=impl,
                                         family=info.get("family", "?"), function=info.get("function", "?"),
                                         device=info.get("device", "cpu"), info=info, available=False,
                                         reason=reason)
        else:
            not_run.append(impl)
    for row in rows.values():
        if row.results and all(p.result.verdict == "unavailable" for p in row.results):
            row.available = False
            row.reason = row.reason or "; ".join(sorted({p.result.message or "unavailable" for p in row.results}))
    ordered = sorted(rows.values(), key=lambda w: (function_order(w.function), w.function, not w.available,
                                                    w.family, w.impl, w.env_id or ""))
    return Gathered(ordered, all_results, sorted(not_run))

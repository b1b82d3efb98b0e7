"""5 Disagreements: bitwise agreement between implementations on the cases
they shared, from stored outputs or output hashes; exact distances where
both outputs were stored; CPU against GPU of the same implementation.

Every case is judged against the oracle; this section only compares
implementations afterwards."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable

from harness.dtypes import DTYPES

from ..arrays import decode, sha, ulp_distance
from ..common import MAX_DISAGREEMENT_CASES, MAX_PAIRS, cell_verdict, fmt_ulp, function_order, num
from ..gather import ImplRow
from ..model import DeviceComparison, DeviceDtype, Disagreements, FunctionAgreement, PairDiff, SplitCase

CaseKey = tuple[str, str, str]  # (function, dtype, case id)


def connected_groups(members: Iterable, links: Iterable[tuple]) -> list[list]:
    """Members joined by ``links`` (pairs), as groups in order of first
    member (union-find with path halving)."""
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    members = list(members)
    for a in members:
        find(a)
    for a, b in links:
        parent[find(a)] = find(b)
    groups: dict = defaultdict(list)
    for a in members:
        groups[find(a)].append(a)
    return list(groups.values())


def _outputs(rows: list[ImplRow]) -> tuple[dict, dict, dict]:
    """Per case: row key -> output hash, row key -> stored output, and the regime."""
    shas: dict[CaseKey, dict] = defaultdict(dict)
    arrays: dict[CaseKey, dict] = defaultdict(dict)
    regimes: dict[CaseKey, str] = {}
    for row in rows:
        for p in row.results:
            r = p.result
            if r.property == "special_values":
                continue
            st = r.stats
            base = (row.function, r.dtype)
            outs = st.get("outputs")
            if isinstance(outs, dict):
                for cid, h in outs.items():
                    if isinstance(h, str):
                        shas[base + (cid,)][row.key] = h
            cid = r.case_id
            if cid:
                h = sha(r.output) or (st.get("output_sha") if isinstance(st.get("output_sha"), str) else None)
                if h:
                    shas[base + (cid,)][row.key] = h
                if r.output:
                    arrays[base + (cid,)][row.key] = r.output
                regimes.setdefault(base + (cid,), r.regime)
    return shas, arrays, regimes


def group_ulp(keys: list[int], dt: str, by_key: dict[int, ImplRow]) -> tuple[float | None, float | None]:
    """A group's distance to the oracle in ``dt``: the max of its members'
    accuracy max ulp, and the median of the ulp errors the accuracy search
    sampled (``stats.points``); members agree bitwise, so they share them."""
    mx: list[float] = []
    pts: list[float] = []
    for k in keys:
        for p in by_key[k].results:
            r = p.result
            if r.property != "accuracy" or r.dtype != dt:
                continue
            for u in (num(r.max_ulp), num(r.stats.get("search_max_ulp"))):
                if u is not None:
                    mx.append(u)
            pts += [u for pt in r.stats.get("points") or [] if isinstance(pt, list) and len(pt) > 1
                    for u in [num(pt[1])] if u is not None]
    return (max(mx) if mx else None), (statistics.median(pts) if pts else None)


def _agreement(fn: str, dt: str, items: list, arrays: dict, label: dict[int, str],
               by_key: dict[int, ImplRow]) -> FunctionAgreement:
    """Pairwise counts over the cases of one function and dtype."""
    pair: dict[tuple, list] = defaultdict(lambda: [0, 0, None])  # shared, equal, max distance
    for k, m in items:
        keys = sorted(m)
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                p = pair[(a, b)]
                p[0] += 1
                p[1] += m[a] == m[b]
                if m[a] != m[b] and a in arrays[k] and b in arrays[k]:
                    d = ulp_distance(decode(arrays[k][a]), decode(arrays[k][b]))
                    if d is not None:
                        p[2] = d if p[2] is None else max(p[2], d)
    # a group: implementations joined by pairs that agreed on every shared case
    members = sorted({a for ab in pair for a in ab})
    agreed = [(a, b) for (a, b), (n, eq, _) in pair.items() if n and eq == n]
    keyed = sorted(connected_groups(members, agreed), key=lambda g: (-len(g), sorted(label[a] for a in g)))
    ulps = [group_ulp(g, dt, by_key) for g in keyed]
    pairs = sorted(pair.items(), key=lambda kv: (-(kv[1][0] - kv[1][1]) / kv[1][0], -kv[1][0]))
    return FunctionAgreement(
        function=fn, dtype=dt, n_cases=len(items),
        groups=[sorted(label[a] for a in g) for g in keyed],
        group_ulp=[(fmt_ulp(m), fmt_ulp(md)) for m, md in ulps],
        pairs=[PairDiff(label[a], label[b], n, n - eq,
                        fmt_ulp(d) if d is not None and math.isfinite(d) else ("NaN vs number" if d else None))
               for (a, b), (n, eq, d) in pairs if n - eq > 0][:MAX_PAIRS],
        n_pairs_differ=sum(1 for _, (n, eq, _) in pairs if n - eq > 0), n_pairs=len(pairs),
    )


def _devices(rows: list[ImplRow], shas: dict) -> list[DeviceComparison]:
    """Each implementation on CPU against its twin on a GPU, per dtype."""
    twins: dict[str, list[ImplRow]] = defaultdict(list)
    for row in rows:
        if row.results:
            twins[row.twin_key].append(row)
    out = []
    for tk, rs_ in sorted(twins.items()):
        cpu = [w for w in rs_ if w.device == "cpu"]
        # a GPU twin that never ran here (no GPU in this run) has nothing to compare: it is counted, not listed
        gpu = [w for w in rs_ if w.device != "cpu" and w.available]
        for c in cpu:
            for g in gpu:
                per = []
                for dt in DTYPES:
                    a = [p for p in c.results if p.result.dtype == dt]
                    b = [p for p in g.results if p.result.dtype == dt]
                    if not a or not b:
                        continue
                    ua = [num(p.result.max_ulp) for p in a if p.result.property == "accuracy"]
                    ub = [num(p.result.max_ulp) for p in b if p.result.property == "accuracy"]
                    shared = equal = 0
                    for (_fn, d2, _cid), m in shas.items():
                        if d2 == dt and c.key in m and g.key in m:
                            shared += 1
                            equal += m[c.key] == m[g.key]
                    per.append(DeviceDtype(dtype=dt, cpu=cell_verdict(p.effective for p in a),
                                           gpu=cell_verdict(p.effective for p in b),
                                           cpu_ulp=fmt_ulp(max((u for u in ua if u is not None), default=None)),
                                           gpu_ulp=fmt_ulp(max((u for u in ub if u is not None), default=None)),
                                           shared=shared, equal=equal))
                out.append(DeviceComparison(name=tk, cpu=c.label, gpu=g.label, gpu_device=g.device, dtypes=per))
    return out


def disagreements_section(rows: list[ImplRow]) -> Disagreements:
    label = {w.key: w.label for w in rows}
    by_key = {w.key: w for w in rows}
    shas, arrays, regimes = _outputs(rows)
    by_fd: dict[tuple, list] = defaultdict(list)  # (function, dtype) -> cases run by two or more
    for k, m in shas.items():
        if len(m) > 1:
            by_fd[k[:2]].append((k, m))
    by_function = []
    examples = []
    for (fn, dt), items in sorted(by_fd.items(), key=lambda kv: (function_order(kv[0][0]), kv[0])):
        by_function.append(_agreement(fn, dt, items, arrays, label, by_key))
        for k, m in items:
            split: dict[str, list] = defaultdict(list)
            for rk, h in m.items():
                split[h].append(label[rk])
            if len(split) > 1 and len(m) >= 3:
                examples.append(SplitCase(function=fn, dtype=dt, case_id=k[2], regime=regimes.get(k, ""),
                                          groups=sorted(((h, sorted(ls)) for h, ls in split.items()),
                                                        key=lambda g: (-len(g[1]), g[0]))))
    examples.sort(key=lambda e: (-len(e.groups), e.function, e.dtype, e.case_id))
    return Disagreements(by_function=by_function, examples=examples[:MAX_DISAGREEMENT_CASES],
                         n_examples=len(examples), devices=_devices(rows, shas),
                         n_gpu_unavailable=sum(1 for w in rows if w.device != "cpu" and not w.available))

"""Aggregate results folders and render the self-contained HTML report.

``render(dirs, out_path) -> Path`` is the entry point; ``build(sets)`` gives
the model the template renders (and the one-line summary the CLI prints).

Everything is aggregated here, so the page stays small for 100k results:
the conformance matrix holds one cell per implementation x dtype, the
special-value matrix one per input class x implementation, plots keep at most
``MAX_PLOT_POINTS`` samples per implementation, and only the first
``max_failures`` failures carry full detail (input, expected, actual,
reproducer, Hypothesis blob).

Rows are implementations; an implementation that ran in several
environments (e.g. TF with oneDNN on and off) gets one row per environment,
labelled ``impl @ env``.  A result whose verdict fails but which matches the
known-findings baseline (``known`` set) counts as ``known``.  ``unsupported``
property results (a property that does not apply) never colour a cell unless
nothing else ran in it.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.diagnosis import diagnose_one
from harness.dtypes import DTYPES
from harness.dtypes import SHORT as DTYPE_SHORT
from harness.policy import PASSING, VERDICTS, rank, worst
from harness.records import FUNCTIONS, bytes_sha

from . import plot_layout
from .load import ResultSet, load

PROFILES = ("ieee", "limit", "masked")
NEUTRAL = ("unsupported", "unavailable")  # do not colour a cell when anything else ran
MAX_FAILURES = 200
MAX_PLOT_POINTS = 300
MAX_DISAGREEMENT_CASES = 40
MAX_PAIRS = 25
MAX_REPRODUCER = 16000
WINDOW = 12  # array elements shown around the worst one
DEVICE_TOKENS = ("cpu", "cuda", "gpu", "tpu", "mps", "rocm", "xpu")

VERDICT_COLOURS = {
    "exact": ("#1a7f37", "#fff"),
    "faithful": ("#4c9f38", "#fff"),
    "good": ("#a6d96a", "#111"),
    "bounded": ("#e6f098", "#111"),
    "ftz": ("#d9ef8b", "#111"),
    "known": ("#c9c3e6", "#111"),
    "unsupported": ("#eeeeee", "#555"),
    "unavailable": ("#d5d5d5", "#333"),
    "out-of-bound": ("#f46d43", "#111"),
    "wrong-special": ("#d73027", "#fff"),
    "wrong-dtype": ("#b2182b", "#fff"),
    "wrong-shape": ("#b2182b", "#fff"),
    "mutated-input": ("#8e0152", "#fff"),
    "nondeterministic": ("#c51b7d", "#fff"),
    "error": ("#67001f", "#fff"),
    "crash": ("#222222", "#fff"),
    "timeout": ("#444444", "#fff"),
}


def effective(r: dict) -> str:
    v = r["verdict"]
    return "known" if r.get("known") and v not in PASSING else v


def failing(v: str) -> bool:
    return v not in PASSING


def cell_verdict(verdicts) -> str:
    vs = list(verdicts)
    real = [v for v in vs if v not in NEUTRAL]
    return worst(real) if real else (worst(vs) if vs else "unsupported")


def fmt_ulp(v: float | None) -> str:
    if v is None or not isinstance(v, (int, float)) or not math.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    if v < 10:
        return f"{v:.2g}" if v < 1 else f"{v:.3g}"
    if v < 1e5:
        return f"{v:.0f}" if v >= 100 else f"{v:.1f}"
    return f"{v:.2e}"


def fmt_time(t) -> str:
    if not isinstance(t, (int, float)):
        return "–"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _num(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


# ---------------------------------------------------------------- arrays

def _decode(d: dict | None) -> np.ndarray | None:
    if not isinstance(d, dict) or "b64" not in d:
        return None
    try:
        from harness.records import decode_array

        return decode_array(d)
    except Exception:
        return None


def _sha(d: dict | None) -> str | None:
    """Same hash as the harness's ``output_sha`` (sha256 of the raw bytes)."""
    if not isinstance(d, dict) or "b64" not in d:
        return None
    try:
        return bytes_sha(base64.b64decode(d["b64"]))
    except (ValueError, TypeError):
        return None


def _fmt_val(v) -> tuple[str, str]:
    """(short decimal, hex) of one element."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v), ""
    if isinstance(v, (bool, np.bool_)) or (isinstance(v, np.generic) and v.dtype.kind in "iub"):
        return str(v), ""
    if isinstance(v, np.generic) and v.dtype.itemsize < 8:
        text = str(v)  # shortest repr that round-trips in its own dtype (float16, bfloat16, float32)
    else:
        text = repr(f)
    return text, f.hex()


def _flat_index(idx, shape) -> int | None:
    if not isinstance(idx, list) or len(idx) != len(shape):
        return None
    try:
        return int(np.ravel_multi_index(tuple(int(i) for i in idx), tuple(shape)))
    except (ValueError, TypeError):
        return None


def ordinal(a: np.ndarray) -> np.ndarray:
    """Floats mapped to integers (as float64) whose differences count the
    representable numbers between them; +0 and -0 coincide."""
    a = np.ascontiguousarray(a)
    it = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
    i = a.view(it).astype(np.int64)
    mag = i & np.int64((1 << (8 * a.dtype.itemsize - 1)) - 1)
    return np.where(i < 0, -mag, mag).astype(np.float64)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> float | None:
    """Max distance in representable numbers of their (common) dtype; NaN
    against NaN is agreement, NaN against a number is inf."""
    if a is None or b is None or a.dtype != b.dtype or a.shape != b.shape or a.dtype.itemsize not in (2, 4, 8):
        return None
    if a.dtype.kind != "f" and a.dtype.name != "bfloat16":
        return None
    if a.size == 0:
        return 0.0
    fa, fb = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.isnan(fa), np.isnan(fb)
    if np.any(na != nb):
        return math.inf
    keep = ~na
    if not keep.any():
        return 0.0
    return float(np.max(np.abs(ordinal(a)[keep] - ordinal(b)[keep])))


def input_summary(case: dict | None, worst_index=None) -> dict | None:
    """Compact description of a stored case: dtype, shape, regime and the
    input element at the worst index (when the output has the input's shape)."""
    if not isinstance(case, dict):
        return None
    lg = case.get("logits") or {}
    shape = lg.get("shape") or []
    out = {"dtype": lg.get("dtype", "?"), "shape": "×".join(str(s) for s in shape) or "scalar",
           "regime": case.get("regime", ""), "axis": case.get("axis", -1), "id": case.get("id", ""),
           "extras": [k for k in ("mask", "indices", "labels", "upstream") if k in case], "at": None}
    flat = _flat_index(worst_index, shape)
    if flat is not None:
        hexes = lg.get("hex")
        if isinstance(hexes, list) and flat < len(hexes):
            out["at"] = _fmt_val(float.fromhex(hexes[flat]))
        else:
            x = _decode(lg)
            if x is not None and flat < x.size:
                out["at"] = _fmt_val(x.reshape(-1)[flat])
    return out


def array_window(case: dict | None, expected: dict | None, output: dict | None, worst_index) -> dict:
    """Rows (index, input, expected, actual) around the worst element, and the
    full input when it is small."""
    x, e, g = _decode((case or {}).get("logits")), _decode(expected), _decode(output)
    ref = e if e is not None else g
    res = {"rows": [], "note": "", "input_full": None, "shapes": {}}
    for name, a in (("expected", e), ("actual", g)):
        if a is not None:
            res["shapes"][name] = f"{a.dtype.name}[{'×'.join(map(str, a.shape))}]"
    if x is not None and x.size <= 64:
        res["input_full"] = [_fmt_val(v) for v in x.reshape(-1)]
    if ref is None:
        res["note"] = "output not stored" if x is not None else "case not stored"
        return res
    flat = _flat_index(worst_index, list(ref.shape))
    centre = flat if flat is not None else 0
    lo = max(0, min(centre - WINDOW // 2, ref.size - WINDOW))
    hi = min(ref.size, lo + WINDOW)
    same_in = x is not None and x.shape == ref.shape
    for k in range(lo, hi):
        idx = list(np.unravel_index(k, ref.shape)) if ref.ndim else []
        row = {"index": "(" + ", ".join(str(int(i)) for i in idx) + ")", "worst": k == flat,
               "input": _fmt_val(x.reshape(-1)[k]) if same_in else None,
               "expected": _fmt_val(e.reshape(-1)[k]) if e is not None and e.size == ref.size else None,
               "actual": _fmt_val(g.reshape(-1)[k]) if g is not None and g.size == ref.size else None}
        res["rows"].append(row)
    if ref.size > hi - lo:
        res["note"] = f"elements {lo}–{hi - 1} of {ref.size} (flat order)"
    if e is not None and g is not None and e.shape != g.shape:
        res["note"] += f"; actual has shape {list(g.shape)}, expected {list(e.shape)}"
    return res


# ---------------------------------------------------------------- model

@dataclass
class Row:
    key: int
    impl: str
    env_id: str | None
    label: str
    family: str
    function: str
    device: str
    info: dict
    available: bool = True
    reason: str = ""
    results: list = field(default_factory=list)

    @property
    def twin_key(self) -> str:
        def strip(m):
            toks = [t for t in m.group(1).split(",") if t.strip().lower() not in DEVICE_TOKENS]
            return f"[{','.join(toks)}]" if toks else ""

        return re.sub(r"\[([^\]]*)\]", strip, self.impl)


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


def _env_entry(rs: ResultSet, results: list[dict]) -> dict:
    env = rs.env or {}
    counts = Counter(effective(r) for r in results)
    modes = {k: env.get(k) for k in ("tf_onednn", "keras_backend", "jax_x64", "tox_env") if env.get(k) is not None}
    return {
        "id": rs.label, "dir": str(rs.dir), "python": env.get("python", "?"), "platform": env.get("platform", "?"),
        "hostname": env.get("hostname", "?"), "device": env.get("device", "?"), "gpu": env.get("gpu"),
        "cpu": env.get("cpu"), "modes": modes, "started": fmt_time(env.get("started")),
        "finished": fmt_time(env.get("finished")),
        "complete": rs.finished and bool(results), "problems": list(rs.problems), "n": len(results),
        "newer": list(rs.newer),
        "counts": dict(counts), "files": rs.files, "n_impls": len(rs.impls),
        "n_unavailable": sum(1 for d in rs.impls if not d.get("available", True)),
    }


def build(sets: list[ResultSet], max_failures: int = MAX_FAILURES) -> dict:
    for rs in sets:
        rs.label = rs.label or rs.env_id
    infos = _impl_infos(sets)
    # -------- rows
    envs_of: dict[str, list[str]] = defaultdict(list)
    for rs in sets:
        for r in rs.results:
            if rs.label not in envs_of[r["impl"]]:
                envs_of[r["impl"]].append(rs.label)
    rows: dict[tuple[str, str | None], Row] = {}
    all_results: list[dict] = []
    for rs in sets:
        for r in rs.results:
            r = dict(r)
            r["_env"] = rs.label
            r["_dir"] = str(rs.dir)
            r["_eff"] = effective(r)
            multi = len(envs_of[r["impl"]]) > 1
            rk = (r["impl"], rs.label if multi else None)
            row = rows.get(rk)
            if row is None:
                info = infos.get(r["impl"], {})
                row = Row(key=len(rows), impl=r["impl"], env_id=rs.label if multi else None,
                          label=f"{r['impl']} @ {rs.label}" if multi else r["impl"],
                          family=r.get("family") or info.get("family", "?"),
                          function=r.get("function") or info.get("function", "?"),
                          device=r.get("device") or info.get("device", "cpu"), info=info)
                rows[rk] = row
            r["_row"] = row.key
            row.results.append(r)
            all_results.append(r)
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
            rows[(impl, None)] = Row(key=len(rows), impl=impl, env_id=None, label=impl,
                                     family=info.get("family", "?"), function=info.get("function", "?"),
                                     device=info.get("device", "cpu"), info=info, available=False, reason=reason)
        else:
            not_run.append(impl)
    for row in rows.values():
        if row.results and all(r["verdict"] == "unavailable" for r in row.results):
            row.available = False
            row.reason = row.reason or "; ".join(sorted({r.get("message") or "unavailable" for r in row.results}))
    fn_order = {f: i for i, f in enumerate(FUNCTIONS)}
    row_list = sorted(rows.values(), key=lambda w: (fn_order.get(w.function, 99), w.function, not w.available,
                                                     w.family, w.impl, w.env_id or ""))

    # -------- matrix
    columns: list[dict] = []  # {function, dtypes}
    by_fn: dict[str, set] = defaultdict(set)
    for row in row_list:
        by_fn[row.function].update(d for d in row.info.get("dtypes", []) if d in DTYPES)
        by_fn[row.function].update(r["dtype"] for r in row.results)
    for fn in sorted(by_fn, key=lambda f: (fn_order.get(f, 99), f)):
        ds = sorted(by_fn[fn], key=lambda d: (DTYPES.index(d) if d in DTYPES else 9, d))
        columns.append({"function": fn, "dtypes": ds or list(DTYPES)})

    # failures first (their anchors are linked from cells)
    fails = [r for r in all_results if failing(r["_eff"]) or r["_eff"] == "known"]
    fails.sort(key=lambda r: (r["_eff"] == "known", -rank(r["verdict"]), -(_num(r.get("max_ulp")) or 0.0),
                              r["impl"], DTYPES.index(r["dtype"]) if r["dtype"] in DTYPES else 9, r["property"]))
    # The same failure in several dtypes (same implementation, property, input
    # class, verdict and message) is shown once, listing the other dtypes.
    grouped: dict[tuple, list] = {}
    for r in fails:
        grouped.setdefault((r["_row"], r["property"], r["regime"], r["_eff"], r["verdict"], r.get("message", "")),
                           []).append(r)
    cell_anchor: dict[tuple[int, str], str] = {}
    rows_by_key = {w.key: w for w in row_list}
    failures = []
    omitted_results: list[dict] = []
    for group in grouped.values():
        if len(failures) >= max_failures:
            omitted_results.extend(group)
            continue
        i = len(failures)
        for r in group:
            cell_anchor.setdefault((r["_row"], r["dtype"]), f"fail-{i}")
        entry = _failure_entry(i, group[0], rows_by_key)
        entry["also"] = [r["dtype"] for r in group[1:]]
        entry["cause"] = diagnose_one(group[0])  # the likely cause, where a signature is recognised
        failures.append(entry)
    omitted = len(omitted_results)
    omitted_by_cell = Counter((r["_row"], r["dtype"]) for r in omitted_results)

    matrix_rows = []
    for row in row_list:
        cells = {}
        by_dtype: dict[str, list] = defaultdict(list)
        for r in row.results:
            by_dtype[r["dtype"]].append(r)
        declared = set(row.info.get("dtypes") or []) if row.info else set()
        for col in columns:
            if col["function"] != row.function:
                continue
            for dt in col["dtypes"]:
                rs_ = by_dtype.get(dt, [])
                if not row.available:
                    cells[dt] = {"v": "unavailable", "text": "unavailable", "title": row.reason, "u": None,
                                 "nf": 0, "link": None}
                    continue
                if not rs_:
                    why = "not declared" if declared and dt not in declared else "not run"
                    cells[dt] = {"v": None, "text": "n/a" if why == "not declared" else "–", "title": why,
                                 "u": None, "nf": 0, "link": None}
                    continue
                v = cell_verdict(r["_eff"] for r in rs_)
                acc = [u for r in rs_ if r["property"] == "accuracy"
                       for u in (_num(r.get("max_ulp")), _num((r.get("stats") or {}).get("search_max_ulp")))
                       if u is not None]
                mu = max(acc) if acc else None
                nf = sum(1 for r in rs_ if failing(r["_eff"]))
                nk = sum(1 for r in rs_ if r["_eff"] == "known")
                props = sorted(rs_, key=lambda r: -rank(r["_eff"]))
                lines = []
                for r in props[:14]:
                    u = _num(r.get("max_ulp"))
                    extra = f" ({fmt_ulp(u)} ulp)" if u is not None else ""
                    kn = f" [known: {r['verdict']}]" if r["_eff"] == "known" else ""
                    lines.append(f"{r['property']}: {r['_eff']}{kn}{extra}")
                if len(props) > 14:
                    lines.append(f"… {len(props) - 14} more")
                link = cell_anchor.get((row.key, dt))
                if link is None and omitted_by_cell.get((row.key, dt)):
                    link = "failures-omitted"
                cells[dt] = {"v": v, "text": v, "u": mu, "ut": fmt_ulp(mu) if mu is not None else "",
                             "nf": nf, "nk": nk, "title": "\n".join(lines), "link": link}
        row_worst = cell_verdict(c["v"] for c in cells.values() if c["v"]) if cells else "unsupported"
        mus = [c["u"] for c in cells.values() if c.get("u") is not None]
        matrix_rows.append({"key": row.key, "label": row.label, "impl": row.impl, "env": row.env_id,
                            "family": row.family, "function": row.function, "device": row.device,
                            "notes": row.info.get("notes", "") if row.info else "", "available": row.available,
                            "reason": row.reason, "cells": cells, "worst": row_worst,
                            "max_ulp": max(mus) if mus else None})

    # -------- summary
    counts = Counter(r["_eff"] for r in all_results)
    verdict_cols = [v for v in VERDICTS if counts.get(v)] + sorted(v for v in counts if v not in VERDICTS)
    envs = []
    for rs in sets:
        envs.append(_env_entry(rs, [r for r in all_results if r["_dir"] == str(rs.dir)]))
    pkgs = sorted({p for rs in sets for p in ((rs.env or {}).get("versions") or {})})
    versions = [{"package": p, "by_env": [((rs.env or {}).get("versions") or {}).get(p, "–") for rs in sets]}
                for p in pkgs]
    offenders = sorted((m for m in matrix_rows if m["available"] and failing(m["worst"])),
                       key=lambda m: (-rank(m["worst"]), -(m["max_ulp"] or 0.0)))[:12]
    for m in offenders:
        m["first_fail"] = next((c["link"] for c in m["cells"].values() if c.get("link")), None)
        m["n_fail"] = sum(c["nf"] for c in m["cells"].values())
    unavailable = [m for m in matrix_rows if not m["available"]]

    model = {
        "generated": fmt_time(time.time()),
        "sources": [str(rs.dir) for rs in sets],
        "envs": envs, "versions": versions, "env_ids": [rs.label for rs in sets],
        "counts": counts, "verdict_cols": verdict_cols, "total": len(all_results),
        "n_failing": sum(1 for r in all_results if failing(r["_eff"])),
        "n_known": counts.get("known", 0),
        "offenders": offenders, "unavailable": unavailable, "not_run": sorted(not_run),
        "columns": columns, "matrix": matrix_rows,
        "accuracy": _accuracy(row_list),
        "special": _special(row_list),
        "disagreements": _disagreements(row_list),
        "failures": failures, "n_failures_total": len(fails), "failures_omitted": omitted,
        "n_failure_groups": len(grouped),
        "failures_omitted_by_verdict": dict(Counter(r["_eff"] for r in omitted_results)),
        "plots": _plots(row_list),
        "families": sorted({m["family"] for m in matrix_rows}),
        "functions": [c["function"] for c in columns],
        "dtypes": [d for d in DTYPES if any(d in c["dtypes"] for c in columns)],
        "verdicts": list(VERDICTS), "colours": VERDICT_COLOURS, "dtype_short": DTYPE_SHORT,
        "passing": sorted(PASSING, key=rank), "profiles": PROFILES,
    }
    model["data"] = {
        "verdicts": list(VERDICTS), "passing": sorted(PASSING, key=rank),
        "envs": [{k: e[k] for k in ("id", "complete", "n", "counts", "device", "gpu", "modes")} for e in envs],
        "rows": [{"key": m["key"], "impl": m["impl"], "env": m["env"], "family": m["family"],
                  "function": m["function"], "available": m["available"], "worst": m["worst"],
                  "cells": {d: {"v": c["v"], "u": c.get("u"), "nf": c["nf"]} for d, c in m["cells"].items()}}
                 for m in matrix_rows],
        "failures": {"shown": len(failures), "total": len(fails)},
    }
    model["summary_line"] = summary_line(model)
    return model


def summary_line(model: dict) -> str:
    n_rows = sum(1 for m in model["matrix"] if m["available"])
    parts = [f"{model['total']} results from {len(model['envs'])} env(s), {n_rows} implementation(s)"]
    if model["unavailable"]:
        parts[-1] += f" ({len(model['unavailable'])} unavailable)"
    c = model["counts"]
    parts.append(", ".join(f"{v} {c[v]}" for v in model["verdict_cols"]))
    parts.append(f"{model['n_failing']} failing" + (f", {model['n_known']} known" if model["n_known"] else ""))
    incomplete = [e["id"] for e in model["envs"] if not e["complete"]]
    if incomplete:
        parts.append("incomplete: " + ", ".join(incomplete))
    return "; ".join(parts)


def _failure_entry(i: int, r: dict, rows_by_key: dict) -> dict:
    hyp = r.get("hypothesis") or {}
    blob = hyp.get("blob")
    repro = r.get("reproducer") or ""
    row = rows_by_key.get(r["_row"])
    return {
        "i": i, "anchor": f"fail-{i}", "rank": rank(r["_eff"]), "ulp": _num(r.get("max_ulp")),
        "row": row.label if row else r["impl"], "impl": r["impl"], "env": r["_env"],
        "family": r.get("family", ""), "function": r["function"], "property": r["property"], "dtype": r["dtype"],
        "regime": r["regime"], "verdict": r["verdict"], "eff": r["_eff"], "known": r.get("known"),
        "message": r.get("message", ""), "max_ulp": fmt_ulp(_num(r.get("max_ulp"))),
        "budget": fmt_ulp(_num(r.get("budget_ulp"))), "worst_index": r.get("worst_index"),
        "case_id": r.get("case_id", ""), "input": input_summary(r.get("case"), r.get("worst_index")),
        "window": array_window(r.get("case"), r.get("expected"), r.get("output"), r.get("worst_index")),
        "reproducer": repro[:MAX_REPRODUCER], "reproducer_cut": len(repro) > MAX_REPRODUCER,
        "blob": f"@reproduce_failure({blob})" if blob else None, "seed": hyp.get("seed"),
        "src": f"{r['_dir']}/{r.get('_src', '')}", "device": r.get("device", ""),
        "detail_error": (r.get("stats") or {}).get("detail_error"),
    }


def _accuracy(rows: list[Row]) -> dict:
    """Zimmermann-style table: max ulp per implementation per dtype, with the
    worst input.  Values found by search are lower bounds of the true max."""
    out_rows = []
    dtypes_seen = set()
    for row in rows:
        acc = [r for r in row.results if r["property"] == "accuracy"]
        if not acc:
            continue
        cells = {}
        for dt in DTYPES:
            rs_ = [r for r in acc if r["dtype"] == dt]
            if not rs_:
                continue
            dtypes_seen.add(dt)
            best = None
            for r in rs_:
                u = _num(r.get("max_ulp"))
                su = _num((r.get("stats") or {}).get("search_max_ulp"))
                val = max([x for x in (u, su) if x is not None], default=None)
                key = (val if val is not None else -1.0, -rank(r["_eff"]))
                if best is None or key > best[0]:
                    best = (key, r, val)
            vs = [r["_eff"] for r in rs_]
            _, r, val = best
            exhaustive = bool((r.get("stats") or {}).get("exhaustive"))
            v = cell_verdict(vs)
            non_numeric = val is None
            cells[dt] = {
                "value": fmt_ulp(val) if not non_numeric else v, "raw": val, "lower_bound": not exhaustive,
                "v": v, "budget": fmt_ulp(_num(r.get("budget_ulp"))),
                "input": input_summary(r.get("case"), r.get("worst_index")), "regime": r.get("regime", ""),
                "examples": (r.get("stats") or {}).get("examples"), "message": r.get("message", ""),
            }
        out_rows.append({"key": row.key, "label": row.label, "family": row.family, "function": row.function,
                         "cells": cells, "notes": row.info.get("notes", "") if row.info else ""})
    return {"rows": out_rows, "dtypes": [d for d in DTYPES if d in dtypes_seen]}


def _special(rows: list[Row]) -> list[dict]:
    """Per function: rows = input classes, columns = implementations."""
    by_fn: dict[str, dict] = {}
    for row in rows:
        sv = [r for r in row.results if r["property"] == "special_values"]
        if not sv:
            continue
        fnd = by_fn.setdefault(row.function, {"function": row.function, "classes": [], "impls": [], "cells": {}})
        fnd["impls"].append({"key": row.key, "label": row.label, "family": row.family,
                             "profile": (row.info or {}).get("profile", "ieee")})
        groups: dict[str, list] = defaultdict(list)
        for r in sv:
            st = r.get("stats") or {}
            cls = st.get("input_class") or (r["regime"][8:] if r["regime"].startswith("special:") else r["regime"])
            groups[str(cls)].append(r)
            if cls not in fnd["classes"]:
                fnd["classes"].append(cls)
        for cls, rs_ in groups.items():
            rets: dict[str, list] = defaultdict(list)
            for r in sorted(rs_, key=lambda r: DTYPES.index(r["dtype"]) if r["dtype"] in DTYPES else 9):
                st = r.get("stats") or {}
                rets[str(st.get("returned", r.get("message", "")))].append(DTYPE_SHORT.get(r["dtype"], r["dtype"]))
            prof = {}
            for p in PROFILES:
                vs = [(r.get("stats") or {}).get("profiles", {}).get(p) for r in rs_]
                vs = [v for v in vs if v]
                prof[p] = worst(vs) if vs else None
            returned = [{"text": t, "dtypes": ds if len(rets) > 1 else []} for t, ds in rets.items()]
            convs: dict[str, list] = defaultdict(list)  # convention followed -> dtypes
            for r in rs_:
                c = (r.get("stats") or {}).get("convention")
                if c:
                    convs[str(c)].append(DTYPE_SHORT.get(r["dtype"], r["dtype"]))
            convention = "; ".join(c if len(convs) == 1 else f"{c} ({','.join(ds)})" for c, ds in convs.items())
            fnd["cells"][(cls, row.key)] = {"v": cell_verdict(r["_eff"] for r in rs_), "returned": returned,
                                            "profiles": prof, "convention": convention,
                                            "message": "\n".join(sorted({r.get("message", "") for r in rs_}))[:600]}
    out = []
    for fn in sorted(by_fn, key=lambda f: (FUNCTIONS.index(f) if f in FUNCTIONS else 99, f)):
        d = by_fn[fn]
        d["grid"] = [{"cls": c, "cells": [d["cells"].get((c, i["key"])) for i in d["impls"]]} for c in d["classes"]]
        del d["cells"]
        out.append(d)
    return out


def _disagreements(rows: list[Row]) -> dict:
    """Bitwise agreement between implementations on shared cases, from stored
    outputs or output hashes; exact distances where both outputs were stored;
    CPU against GPU of the same implementation."""
    label = {w.key: w.label for w in rows}
    shas: dict[tuple, dict] = defaultdict(dict)  # (function, dtype, case_id) -> row -> sha
    arrays: dict[tuple, dict] = defaultdict(dict)
    regimes: dict[tuple, str] = {}
    for row in rows:
        for r in row.results:
            if r["property"] == "special_values":
                continue
            st = r.get("stats") or {}
            base = (row.function, r["dtype"])
            outs = st.get("outputs")
            if isinstance(outs, dict):
                for cid, sha in outs.items():
                    if isinstance(sha, str):
                        shas[base + (cid,)][row.key] = sha
            cid = r.get("case_id")
            if cid:
                sha = _sha(r.get("output")) or (st.get("output_sha") if isinstance(st.get("output_sha"), str)
                                                else None)
                if sha:
                    shas[base + (cid,)][row.key] = sha
                if r.get("output"):
                    arrays[base + (cid,)][row.key] = r["output"]
                regimes.setdefault(base + (cid,), r.get("regime", ""))
    groups_out = []
    examples = []
    by_fd: dict[tuple, list] = defaultdict(list)
    for k, m in shas.items():
        if len(m) > 1:
            by_fd[k[:2]].append((k, m))
    for (fn, dt), items in sorted(by_fd.items(), key=lambda kv: (FUNCTIONS.index(kv[0][0])
                                                                  if kv[0][0] in FUNCTIONS else 99, kv[0])):
        pair: dict[tuple, list] = defaultdict(lambda: [0, 0, None])  # shared, equal, max distance
        for k, m in items:
            keys = sorted(m)
            for i, a in enumerate(keys):
                for b in keys[i + 1:]:
                    p = pair[(a, b)]
                    p[0] += 1
                    p[1] += m[a] == m[b]
                    if m[a] != m[b] and a in arrays[k] and b in arrays[k]:
                        d = ulp_distance(_decode(arrays[k][a]), _decode(arrays[k][b]))
                        if d is not None:
                            p[2] = d if p[2] is None else max(p[2], d)
        # groups: union of pairs that agreed on every shared case
        parent = {}

        def find(x):
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        members = sorted({a for ab in pair for a in ab})
        for a in members:
            find(a)
        for (a, b), (n, eq, _) in pair.items():
            if n and eq == n:
                parent[find(a)] = find(b)
        comp: dict[int, list] = defaultdict(list)
        for a in members:
            comp[find(a)].append(label[a])
        pairs = sorted(pair.items(), key=lambda kv: (-(kv[1][0] - kv[1][1]) / kv[1][0], -kv[1][0]))
        groups_out.append({
            "function": fn, "dtype": dt, "n_cases": len(items),
            "groups": sorted((sorted(g) for g in comp.values()), key=lambda g: (-len(g), g)),
            "pairs": [{"a": label[a], "b": label[b], "shared": n, "differ": n - eq,
                       "dist": fmt_ulp(d) if d is not None and math.isfinite(d) else ("NaN vs number" if d else None)}
                      for (a, b), (n, eq, d) in pairs if n - eq > 0][:MAX_PAIRS],
            "n_pairs_differ": sum(1 for _, (n, eq, _) in pairs if n - eq > 0), "n_pairs": len(pairs),
        })
        groups_out[-1]["has_dist"] = any(p["dist"] for p in groups_out[-1]["pairs"])
        for k, m in items:
            split: dict[str, list] = defaultdict(list)
            for rk, sha in m.items():
                split[sha].append(label[rk])
            if len(split) > 1 and len(m) >= 3:
                examples.append({"function": fn, "dtype": dt, "case_id": k[2], "regime": regimes.get(k, ""),
                                 "groups": sorted(([sha, sorted(ls)] for sha, ls in split.items()),
                                                  key=lambda g: (-len(g[1]), g[0]))})
    examples.sort(key=lambda e: (-len(e["groups"]), e["function"], e["dtype"], e["case_id"]))
    # CPU vs GPU
    twins: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row.results:
            twins[row.twin_key].append(row)
    devices = []
    for tk, rs_ in sorted(twins.items()):
        cpu = [w for w in rs_ if w.device == "cpu"]
        gpu = [w for w in rs_ if w.device != "cpu"]
        for c in cpu:
            for g in gpu:
                per = []
                for dt in DTYPES:
                    a = [r for r in c.results if r["dtype"] == dt]
                    b = [r for r in g.results if r["dtype"] == dt]
                    if not a or not b:
                        continue
                    ua = [_num(r.get("max_ulp")) for r in a if r["property"] == "accuracy"]
                    ub = [_num(r.get("max_ulp")) for r in b if r["property"] == "accuracy"]
                    shared = equal = 0
                    for (_fn, d2, _cid), m in shas.items():
                        if d2 == dt and c.key in m and g.key in m:
                            shared += 1
                            equal += m[c.key] == m[g.key]
                    per.append({"dtype": dt, "cpu": cell_verdict(r["_eff"] for r in a),
                                "gpu": cell_verdict(r["_eff"] for r in b),
                                "cpu_ulp": fmt_ulp(max((u for u in ua if u is not None), default=None)),
                                "gpu_ulp": fmt_ulp(max((u for u in ub if u is not None), default=None)),
                                "shared": shared, "equal": equal})
                devices.append({"name": tk, "cpu": c.label, "gpu": g.label, "gpu_device": g.device, "dtypes": per})
    return {"by_function": groups_out, "examples": examples[:MAX_DISAGREEMENT_CASES],
            "n_examples": len(examples), "devices": devices}


def _plots(rows: list[Row]) -> list[dict]:
    out = []
    for row in rows:
        series: dict[str, list] = defaultdict(list)
        for r in row.results:
            if r["property"] != "accuracy":
                continue
            pts = (r.get("stats") or {}).get("points")
            if isinstance(pts, list):
                series[r["dtype"]].extend(pts)
        series = {k: v for k, v in series.items() if plot_layout.clean_points(v)}
        if not series:
            continue
        total = sum(len(v) for v in series.values())
        if total > MAX_PLOT_POINTS:  # keep the largest errors, then a stride of the rest
            for k, v in series.items():
                quota = max(8, MAX_PLOT_POINTS * len(v) // total)
                pts = plot_layout.clean_points(v)
                pts.sort(key=lambda p: -p[1])
                head = pts[: quota // 2]
                rest = pts[quota // 2:]
                stride = max(1, len(rest) // max(1, quota - len(head)))
                series[k] = head + rest[::stride]
        order = sorted(series, key=lambda d: DTYPES.index(d) if d in DTYPES else 9)
        series = {k: series[k] for k in order}
        n = sum(len(v) for v in series.values())
        out.append({"key": row.key, "label": row.label, "family": row.family, "function": row.function,
                    "dtypes": order, "n": n,
                    "scatter": plot_layout.scatter(series, f"{row.label}: ulp error vs |x_i - max|"),
                    "hist": plot_layout.histogram(series, f"{row.label}: ulp error histogram")})
    return out


# ---------------------------------------------------------------- output

def _jinja_env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    # data island: |tojson escapes <, >, & and ' so "</script>" in data cannot end the tag
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "allow_nan": False, "default": str}
    env.filters["ulp"] = fmt_ulp
    env.filters["vclass"] = lambda v: "v-" + re.sub(r"[^a-z0-9-]", "", str(v or "none").lower())
    env.filters["short"] = lambda d: DTYPE_SHORT.get(d, d)
    env.filters["px"] = plot_layout.px
    return env


def render_model(model: dict) -> str:
    return _jinja_env().get_template("report.html.j2").render(**model)


def render(dirs, out_path, max_failures: int = MAX_FAILURES, all_runs: bool = False) -> Path:
    """Render results folders ``dirs`` into one HTML file ``out_path`` (the
    newest complete run of each environment, or every run with ``all_runs``)."""
    out, _ = render_with_model(dirs, out_path, max_failures, all_runs)
    return out


def render_with_model(dirs, out_path, max_failures: int = MAX_FAILURES,
                      all_runs: bool = False) -> tuple[Path, dict]:
    sets = load(dirs, all_runs)
    model = build(sets, max_failures)
    html = render_model(model)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out, model

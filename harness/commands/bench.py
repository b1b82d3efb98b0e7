"""`softmax-harness bench`: speed figures, printed and written as JSON.

Never timed assertions: these are measurements to read (issue 14's figures,
side by side in one run):
- oracle elements/s per target dtype: the mpmath interval oracle, the certified
  fast path (float16/bfloat16/float32) and the certified double-double float64
  path (oracles/f64.py, what the harness uses for float64 targets), with ratios;
- the float64 candidates (double-double against python-flint arb balls) on
  softmax rows of n = 8, 256, 4096;
- examples judged per second for numpy.stable_softmax at the ci budget, every
  property and dtype, in this process (drawing, oracle and judging);
- the (64, 131072) float32 batch measured end to end: oracle plus every
  property that takes a case;
- one exhaustive bfloat16 sweep (softmax-harness sweep) of numpy.stable_softmax;
- the ci conformance suite on a subset at -n 0 against -n 2;
- the time each bug-zoo member takes to be detected (from a source checkout).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ..dtypes import DTYPES

ROOT = Path(__file__).resolve().parents[2]


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark the oracle, long rows, parallel runs and bug-zoo detection")
    p.add_argument("--out", default="reports/out/bench.json", help="JSON file to write")
    p.add_argument("--quick", action="store_true", help="smaller sizes, skip the -n 0/-n 2 comparison")
    p.add_argument("--impls", default="numpy.*,scipy.*", help="subset for the -n 0 / -n 2 comparison")
    p.set_defaults(func=main)


def oracle_rate(dtype: str, rows: int, n: int) -> dict:
    """softmax: mpmath alone on (rows, n); the certified fast path (float64:
    the double-double path it routes to) on (64, n * 16)."""
    import numpy as np

    from oracles import FORMATS, api, fast

    rng = np.random.default_rng(0)
    x = rng.uniform(-20, 20, (rows, n)).astype(FORMATS[dtype].dtype)
    t0 = time.perf_counter()
    api.evaluate("softmax", x, -1)
    mp_rate = x.size / (time.perf_counter() - t0)
    y = rng.uniform(-20, 20, (64, n * 16)).astype(FORMATS[dtype].dtype)
    fast_rate = y.size / min(_timed(lambda a: fast.evaluate("softmax", a, -1), y) for _ in range(3))
    key = "f64" if dtype == "float64" else "fast"
    return {"dtype": dtype, "mpmath_elements_per_s": round(mp_rate), f"{key}_elements_per_s": round(fast_rate),
            "ratio": round(fast_rate / mp_rate, 1)}


def examples_rate(impl_id: str = "numpy.stable_softmax") -> dict:
    """Examples judged per second at the ci budget, every property and dtype of
    one implementation, in this process, after one warm-up search."""
    from .. import conformance
    from ..properties import PROPERTIES
    from ..registry import get

    impl = get(impl_id)
    props = [p for p, prop in PROPERTIES.items() if prop.applies(impl.function)]
    conformance.explore(impl, "float32", props[0], budget="ci")
    t0, examples = time.perf_counter(), 0
    for dtype in DTYPES:
        for p in props:
            examples += (conformance.explore(impl, dtype, p, budget="ci").stats or {}).get("examples", 0)
    dt = time.perf_counter() - t0
    return {"impl": impl_id, "examples": examples, "seconds": round(dt, 1), "examples_per_s": round(examples / dt)}


def sweep_time(impl_id: str = "numpy.stable_softmax", dtype: str = "bfloat16") -> dict:
    """One exhaustive sweep (every bit pattern), first in this process and warm."""
    from ..registry import get
    from ..sweep import sweep_impl

    impl = get(impl_id)
    first = _timed(lambda i: sweep_impl(i, dtype), impl)
    warm = min(_timed(lambda i: sweep_impl(i, dtype), impl) for _ in range(3))
    return {"impl": impl_id, "dtype": dtype, "first_s": round(first, 2), "warm_s": round(warm, 3),
            "verdict": sweep_impl(impl, dtype).verdict}


def f64_candidates(quick: bool) -> list[dict]:
    """Elements/s of the two float64 candidates, best of 3 (7), per row length."""
    import importlib.util

    import numpy as np

    from oracles import f64

    has_flint = importlib.util.find_spec("flint") is not None
    rng = np.random.default_rng(2)
    out = []
    for n in (8, 256, 4096):
        x = rng.uniform(-20, 20, (max(1, 2**15 // n), n))  # the block f64.evaluate works in
        xs = x[: max(1, (4096 if quick else 16384) // n)]
        row = {"n": n}
        for name, fn, arr in (("dd", f64.softmax_rows, x), ("arb", f64.flint_softmax_rows, xs)):
            if name == "arb" and not has_flint:
                continue
            best = min(_timed(fn, arr) for _ in range(3 if quick else 7))
            row[f"{name}_elements_per_s"] = round(arr.size / best)
        out.append(row)
    return out


def _timed(fn, arg) -> float:
    t0 = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t0


def long_rows(rows: int = 64, n: int = 131072) -> dict:
    """(rows, n) float32 through numpy.stable_softmax end to end: the oracle,
    then every property that takes a case (all but special_values), measured."""
    import numpy as np

    from ..evaluate import expected
    from ..properties import PROPERTIES
    from ..records import Case
    from ..registry import get

    impl = get("numpy.stable_softmax")
    case = Case(np.random.default_rng(1).uniform(-30, 30, (rows, n)).astype(np.float32), -1, "long-row")
    t0 = time.perf_counter()
    expected(case, impl.function)
    parts = {"oracle": round(time.perf_counter() - t0, 2)}
    verdicts = {}
    for name, prop in PROPERTIES.items():
        if prop.applies(impl.function) and name not in ("special_values", "upstream"):  # fixed inputs
            t = time.perf_counter()
            verdicts[name] = prop.fn(impl, case).verdict
            parts[name] = round(time.perf_counter() - t, 2)
    return {"shape": [rows, n], "seconds": round(time.perf_counter() - t0, 2), "parts": parts, "verdicts": verdicts}


def suite(workers: str, impls: str) -> float:
    from .run import suite_args, suite_dir

    cmd = [sys.executable, "-m", "pytest", *suite_args(suite_dir()), "-q",
           "--harness-budget", "ci", "--harness-impls", impls,
           "--harness-results", str(ROOT / "reports" / "out" / "bench-results"),
           "--harness-env-id", f"bench-n{workers}", "-n", workers]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return round(time.perf_counter() - t0, 1)


def zoo_times() -> list[dict]:
    zoo_dir = ROOT / "tests" / "self"
    if not (zoo_dir / "zoo.py").is_file():
        return []
    sys.path.insert(0, str(zoo_dir))
    import zoo

    from .. import verdicts
    from ..conformance import explore

    out = []
    for m in zoo.MEMBERS:
        t0 = time.perf_counter()
        caught = None
        for dtype in m.dtypes:
            for prop in m.expect:
                if not verdicts.passes(explore(m.impl, dtype, prop, budget="ci").verdict):
                    caught = f"{prop} ({dtype})"
                    break
            if caught:
                break
        out.append({"member": m.impl.id, "caught_by": caught, "seconds": round(time.perf_counter() - t0, 2)})
    return out


def main(args) -> int:
    figures: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    rows, n = (2, 1000) if args.quick else (8, 1000)
    figures["oracle"] = [oracle_rate(d, rows, n) for d in DTYPES]
    for r in figures["oracle"]:
        path = "certified float64 (dd)" if "f64_elements_per_s" in r else "certified fast path"
        rate = r.get("f64_elements_per_s") or r["fast_elements_per_s"]
        print(f"oracle softmax {r['dtype']:9} mpmath {r['mpmath_elements_per_s']:>9,}/s   "
              f"{path:23} {rate:>12,}/s   ({r['ratio']}x mpmath)")
    figures["f64_candidates"] = f64_candidates(args.quick)
    for c in figures["f64_candidates"]:
        arb = f"{c['arb_elements_per_s']:>11,}/s" if "arb_elements_per_s" in c else "(no python-flint)"
        print(f"float64 softmax n={c['n']:<5} double-double {c['dd_elements_per_s']:>11,}/s, arb balls {arb}")
    figures["examples"] = ex = examples_rate()
    print(f"ci examples judged, {ex['impl']} (every property and dtype, one process): "
          f"{ex['examples']} in {ex['seconds']} s = {ex['examples_per_s']}/s")
    figures["long_rows"] = lr = long_rows(8 if args.quick else 64)
    print(f"long rows {tuple(lr['shape'])} float32 end to end, measured: {lr['seconds']} s "
          f"({', '.join(f'{k} {v}' for k, v in lr['parts'].items())})")
    figures["sweep"] = sw = sweep_time()
    print(f"exhaustive {sw['dtype']} sweep of {sw['impl']}: first {sw['first_s']} s, warm {sw['warm_s']} s "
          f"({sw['verdict']})")
    if not args.quick:
        t0, t2 = suite("0", args.impls), suite("2", args.impls)
        figures["suite"] = {"impls": args.impls, "n0_s": t0, "n2_s": t2, "speedup": round(t0 / t2, 2)}
        print(f"ci suite on {args.impls}: -n 0 {t0} s, -n 2 {t2} s, speed-up {t0 / t2:.2f}x")
    figures["zoo"] = zoo_times()
    for z in figures["zoo"]:
        print(f"zoo {z['member']:32} {z['seconds']:7.2f} s  caught by {z['caught_by']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1))
    print(f"wrote {out}")
    return 0

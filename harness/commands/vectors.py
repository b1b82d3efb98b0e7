"""`softmax-harness vectors --out DIR`: a versioned test-vector corpus for
people writing kernels in C++/CUDA/Triton who cannot import the harness.

Cases come from the same Hypothesis regimes as the conformance suite,
derandomized (the same harness version and seed give the same corpus).  For
each function and dtype: inputs as hex floats (and raw bits), the correctly
rounded outputs, the exact value as a double-double (hi + lo), and per-element
error budgets in ulps ("good" and "bounded", harness/policy.py).  Written as
JSON (one file per function x dtype) and NPZ (the same arrays), with a
manifest.json describing the format.
"""

from __future__ import annotations

import json
from argparse import ArgumentTypeError
from pathlib import Path

import numpy as np

from ..functions import PLAIN
from . import argtypes

FORMAT = "softmax-harness-vectors"
FORMAT_VERSION = 1
DEFAULT_FUNCTIONS = PLAIN  # fn(x, axis) with nothing else; the rest need extras or return a Jacobian


def register(sub) -> None:
    p = sub.add_parser("vectors", help="export test vectors (hex floats, expected outputs, budgets) as JSON and NPZ")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--functions", type=_function_list, help=f"comma-separated (default {','.join(DEFAULT_FUNCTIONS)})")
    p.add_argument("--dtypes", type=argtypes.dtype_list, help="comma-separated (default all four)")
    p.add_argument("--per-regime", type=argtypes.positive_int, default=4, help="cases per regime (default 4)")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    p.add_argument("--max-elements", type=argtypes.positive_int, default=512,
                   help="largest case, in elements (default 512)")
    p.set_defaults(func=main)


def _function_list(value: str) -> list[str]:
    """--functions: the row functions a kernel author calls with fn(x, axis)."""
    from ..records import FUNCTIONS

    items = argtypes.csv_items(value)
    for f in items:
        if f not in DEFAULT_FUNCTIONS:
            why = "needs extra inputs and is not exported" if f in FUNCTIONS else "is unknown"
            raise ArgumentTypeError(f"function {f!r} {why}; choose from {', '.join(DEFAULT_FUNCTIONS)}")
    return items


def _bits(a: np.ndarray) -> list[str]:
    width = a.dtype.itemsize
    raw = np.ascontiguousarray(a).view({2: np.uint16, 4: np.uint32, 8: np.uint64}[width]).reshape(-1)
    return [f"{int(v):0{2 * width}x}" for v in raw]


def _hex(a: np.ndarray) -> list[str]:
    return [float(v).hex() for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def draw_cases(function: str, dtype: str, per_regime: int, seed: int, max_elements: int) -> list:
    """Derandomized draws from every regime's strategy (no shrinking, no database)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    from ..strategies import cases, regimes_for
    from ..strategies.constant_pool import fixed_constant_pool

    fixed_constant_pool()  # draws depend on the strategy and seed, not on our source
    out = []
    for regime in regimes_for(function, long_row=False):  # vectors stay small
        got = []

        @hseed(seed)
        @settings(max_examples=per_regime, database=None, deadline=None, phases=(Phase.generate,),
                  suppress_health_check=list(HealthCheck))
        @given(case=cases(function, dtype, regimes=(regime,), max_elements=max_elements))
        def collect(case):
            if case.id not in {c.id for c in got}:
                got.append(case)

        collect()
        out += got[:per_regime]
    return out


def vector(case, function: str) -> dict:
    from oracles import format_of

    from ..evaluate import budget_for, expected
    from ..ulp import measure

    ex = expected(case, function)
    fmt = format_of(ex.rounded.dtype)
    meas = measure(ex.rounded, ex, fmt)
    bud = budget_for(case, function, ex, meas)
    clean = lambda a: [None if not np.isfinite(v) else float(v) for v in np.asarray(a, np.float64).reshape(-1)]  # noqa: E731
    return {
        "id": case.id, "regime": case.regime, "shape": list(case.logits.shape), "axis": case.axis,
        "input_hex": _hex(case.logits), "input_bits": _bits(case.logits),
        "output_shape": list(ex.rounded.shape),
        "expected_hex": _hex(ex.rounded), "expected_bits": _bits(ex.rounded),
        "exact_hi_hex": _hex(ex.hi), "exact_lo_hex": _hex(ex.lo),
        "budget_good_ulps": clean(bud.good), "budget_bounded_ulps": clean(bud.bounded),
    }


def main(args) -> int:
    from .. import __version__, policy
    from ..dtypes import DTYPES

    functions = args.functions or list(DEFAULT_FUNCTIONS)  # option values were checked by the parser
    dtypes = args.dtypes or list(DTYPES)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for function in functions:
        for dtype in dtypes:
            vecs = [vector(c, function) for c in draw_cases(function, dtype, args.per_regime, args.seed,
                                                            args.max_elements)]
            stem = f"{function}-{dtype}"
            doc = {"format": FORMAT, "version": FORMAT_VERSION, "function": function, "dtype": dtype,
                   "cases": vecs}
            (out / f"{stem}.json").write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
            arrays = {}
            for i, v in enumerate(vecs):
                arrays[f"{i}_input"] = np.array([float.fromhex(h) for h in v["input_hex"]]).reshape(v["shape"])
                arrays[f"{i}_expected"] = np.array([float.fromhex(h) for h in v["expected_hex"]]
                                                   ).reshape(v["output_shape"])
                arrays[f"{i}_budget_bounded"] = np.array(v["budget_bounded_ulps"], dtype=np.float64)
                arrays[f"{i}_axis"] = np.array(v["axis"])
            np.savez_compressed(out / f"{stem}.npz", **arrays)
            files.append({"function": function, "dtype": dtype, "json": f"{stem}.json", "npz": f"{stem}.npz",
                          "cases": len(vecs), "regimes": sorted({v["regime"] for v in vecs})})
            print(f"{stem}: {len(vecs)} cases")
    manifest = {
        "format": FORMAT, "version": FORMAT_VERSION, "harness_version": __version__, "seed": args.seed,
        "per_regime": args.per_regime, "budget": policy.describe_budget(),
        "conventions": {
            "calling": "fn(x, axis) over the named axis; logsumexp reduces it; sigmoid is elementwise",
            "special_values": "ieee profile: NaN or +inf in a slice -> NaN slice; all -inf -> NaN; "
                              "-inf among finite -> exact 0",
            "error": "ulps of the output dtype at the exact value hi + lo; a subnormal or zero exact value "
                     "uses the smallest subnormal; pass if |got - exact| / ulp <= budget_bounded_ulps, and "
                     "a NaN/inf must match expected exactly",
            "npz": "arrays <i>_input, <i>_expected (float64 holding the dtype's values), <i>_budget_bounded, "
                   "<i>_axis for case i",
        },
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(f"wrote {sum(f['cases'] for f in files)} cases in {len(files)} files to {out}")
    return 0

"""A small, hand-built set of results folders for the report tests.

Built from real ``Case`` / ``Result`` records (so the files are exactly what
the plugin writes), covering:

- several implementations, functions, dtypes and verdicts, failures with a
  stored case, output, expected output, reproducer and Hypothesis blob;
- a known finding (baseline), an ``unsupported`` property;
- special-value results with per-profile verdicts;
- cases shared by several implementations (bitwise agreement groups) and one
  implementation on CPU and GPU;
- an implementation that is unavailable (listed in impls.json only);
- hostile strings: an implementation id and messages holding
  ``<script>alert(1)</script>`` and ``</script>``;
- a partial environment (env.json without ``finished``) and a crashed one
  (env.json only, no results).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from harness.arrays import encode_array
from harness.records import Case, Result

EVIL = "evil<script>alert(1)</script>"
EVIL_MSG = "raised RuntimeError: <script>alert(1)</script> and </script><b>bold</b>"
UNAVAILABLE = "fx.gpu_only[cuda]"
UNAVAILABLE_REASON = "CUDA not available <i>here</i>"


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:12]


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64)
    e = np.exp(z - z.max())
    return (e / e.sum()).astype(x.dtype)


def _describe(impl_id, family, function, device="cpu", available=True, reason="", dtypes=None, notes=""):
    return {"id": impl_id, "family": family, "function": function, "device": device,
            "dtypes": dtypes or ["float16", "bfloat16", "float32", "float64"], "available": available,
            "reason": reason, "notes": notes, "upcasts": {}, "judge": "output", "ranks": None,
            "last_axis_only": False, "profile": "ieee"}


def _env(env_id: str, finished: bool, device: str = "cpu", gpu: str | None = None) -> dict:
    d = {"env_id": env_id, "python": "3.11.7", "platform": "Linux-test", "hostname": "fixture-host",
         "versions": {"numpy": np.__version__, "torch": "2.13.0+cpu"}, "device": device, "gpu": gpu,
         "tox_env": env_id, "tf_onednn": "on", "keras_backend": "tensorflow", "jax_x64": "off",
         "started": 1795344074.0}
    if finished:
        d["finished"] = 1795344298.0
    return d


def _points(n: int, scale: float, budget: float) -> list:
    rng = np.random.default_rng(n)
    d = np.sort(rng.uniform(0, 60, n))
    err = np.abs(rng.normal(0, 1, n)) * (1 + d * scale)
    return [[float(a), float(b), float(budget + 2 * a)] for a, b in zip(d, err)]


def _special(impl, family, function, dtype, cls, returned, profiles, verdict, env, device="cpu"):
    values = {"nan": [np.nan, 0.0, 1.0], "+inf": [np.inf, 0.0, 1.0], "empty": []}[cls]
    case = Case(np.array(values, dtype=dtype), -1, f"special:{cls}")
    return Result(impl, family, function, "special_values", dtype, case.regime, verdict,
                  message=f"{cls} -> {returned} (profile ieee: {verdict})", case_id=case.id, case=case.to_json(),
                  device=device, env=env, stats={"input_class": cls, "returned": returned, "profiles": profiles})


def _write(d: Path, env: dict | None, impls: list | None, results: list[Result], name: str = "gw0-1.jsonl"):
    d.mkdir(parents=True, exist_ok=True)
    if env is not None:
        (d / "env.json").write_text(json.dumps(env, indent=1))
    if impls is not None:
        (d / "impls.json").write_text(json.dumps(impls, indent=1))
    if results:
        with open(d / name, "w") as fh:
            for r in results:
                fh.write(r.dumps() + "\n")


def build(root: Path) -> dict:
    """Write the fixture under ``root``; returns the paths and the names."""
    root = Path(root)
    main, gpu, crashed = root / "fx-main", root / "fx-gpu", root / "fx-crashed"
    env_main = {"env_id": "fx-main", "budget": "ci", "worker": "gw0"}
    env_gpu = {"env_id": "fx-gpu", "budget": "ci", "worker": "gw0"}

    impls = [
        _describe("fx.softmax[cpu]", "numpy", "softmax", notes="max-shifted <numpy> softmax"),
        _describe("fx.softmax[cuda]", "numpy", "softmax", device="cuda"),
        _describe("fx.log_softmax", "scipy", "log_softmax"),
        _describe(EVIL, "user", "softmax", dtypes=["float32"]),
        _describe(UNAVAILABLE, "torch", "softmax", device="cuda", available=False, reason=UNAVAILABLE_REASON),
    ]

    # shared cases: cpu and cuda agree bitwise on case a, differ on case b
    a = Case(np.array([0.0, 1.0, 2.0, 3.0], np.float32), -1, "ordinary")
    b = Case(np.array([-40.0, 0.0, 0.5, 1.0], np.float32), -1, "huge-spread")
    out_a = _softmax(a.logits)
    out_b = _softmax(b.logits)
    out_b_gpu = out_b.copy()
    out_b_gpu[0] = np.nextafter(out_b_gpu[0], np.float32(1))

    # a float16 failure with case, output and expected
    bad = Case(np.array([11.0, 0.0, -3.0, 2.0, 7.5], np.float16), -1, "tiny-spread")
    exp_bad = _softmax(bad.logits)
    got_bad = exp_bad.copy()
    got_bad[2] = np.float16(0.0)
    blob = "'6.170.15', b'AEEBQQFBAEEAQQAAAChAhbAAAAAAAABBAw=='"

    results = [
        Result("fx.softmax[cpu]", "numpy", "softmax", "accuracy", "float32", "ordinary", "good", max_ulp=3.2,
               budget_ulp=40.0, message="worst at (1,): 3.2 ulp", worst_index=[1], case_id=a.id, case=a.to_json(),
               env=env_main, duration=0.5,
               stats={"examples": 100, "points": _points(48, 0.4, 20.0), "search_max_ulp": 3.2,
                      "outputs": {a.id: _sha(out_a), b.id: _sha(out_b)}, "grades": {"exact": 3, "good": 1}}),
        Result("fx.softmax[cpu]", "numpy", "softmax", "accuracy", "float16", "tiny-spread", "out-of-bound",
               max_ulp=2048.0, budget_ulp=18.0, message="worst at (2,): got 0.0, correctly rounded 1.6e-06",
               worst_index=[2], case_id=bad.id, case=bad.to_json(), output=encode_array(got_bad),
               expected=encode_array(exp_bad), env=env_main, duration=1.5,
               reproducer="python -c \"import harness; print(harness.replay('...', 'fx.softmax[cpu]', 'accuracy'))\"",
               hypothesis={"blob": blob, "seed": None},
               stats={"examples": 30, "points": _points(32, 5.0, 18.0) + [[14.0, 2048.0, 18.0]],
                      "search_max_ulp": 2048.0, "outputs": {bad.id: _sha(got_bad)}}),
        Result("fx.softmax[cpu]", "numpy", "softmax", "contract", "float64", "ordinary", "exact", env=env_main),
        Result("fx.softmax[cpu]", "numpy", "softmax", "shift_invariance", "float64", "-", "unsupported",
               message="no example drawn", env=env_main),
        _special("fx.softmax[cpu]", "numpy", "softmax", "float32", "nan", "[nan, nan, nan]",
                 {"ieee": "exact", "limit": "exact", "masked": "exact"}, "exact", env_main),
        _special("fx.softmax[cpu]", "numpy", "softmax", "float32", "+inf", "[nan, nan, nan]",
                 {"ieee": "exact", "limit": "wrong-special", "masked": "exact"}, "exact", env_main),
        _special("fx.softmax[cpu]", "numpy", "softmax", "float16", "+inf", "[nan, nan, nan]",
                 {"ieee": "exact", "limit": "wrong-special", "masked": "exact"}, "exact", env_main),
        _special("fx.softmax[cpu]", "numpy", "softmax", "float32", "empty", "[]",
                 {"ieee": "exact", "limit": "exact", "masked": "exact"}, "exact", env_main),
        Result("fx.log_softmax", "scipy", "log_softmax", "accuracy", "float32", "ordinary", "bounded", max_ulp=61.0,
               budget_ulp=80.0, env=env_main, stats={"examples": 100, "points": _points(40, 1.0, 60.0)}),
        Result("fx.log_softmax", "scipy", "log_softmax", "accuracy", "float64", "nan-inf", "wrong-special",
               message="got -inf where NaN expected", known="scipy returns -inf for +inf input (issue 123)",
               env=env_main, case_id=a.id),
        Result(EVIL, "user", "softmax", "accuracy", "float32", "ordinary", "error", message=EVIL_MSG,
               case_id=b.id, case=b.to_json(), reproducer=f"python -c \"print('{EVIL}')\"", env=env_main,
               hypothesis={"blob": "'6.170.15', b'</script>'", "seed": 7}, stats={"outputs": {}}),
        _special(EVIL, "user", "softmax", "float32", "nan", "<script>alert(1)</script>",
                 {"ieee": "wrong-special", "limit": "wrong-special", "masked": "exact"}, "wrong-special", env_main),
    ]
    _write(main, _env("fx-main", finished=True), impls, results)

    gpu_results = [
        Result("fx.softmax[cuda]", "numpy", "softmax", "accuracy", "float32", "huge-spread", "out-of-bound",
               max_ulp=120.0, budget_ulp=40.0, message="worst at (0,): 120 ulp", worst_index=[0], case_id=b.id,
               case=b.to_json(), output=encode_array(out_b_gpu), expected=encode_array(out_b), device="cuda",
               env=env_gpu, reproducer="python -c 'pass'",
               stats={"examples": 20, "points": _points(20, 2.0, 40.0),
                      "outputs": {a.id: _sha(out_a), b.id: _sha(out_b_gpu)}}),
    ]
    # the cpu run also stored its output for case b, so the distance is exact
    results_b_cpu = Result("fx.softmax[cpu]", "numpy", "softmax", "sum_to_one", "float32", "huge-spread", "good",
                           max_ulp=1.0, case_id=b.id, case=b.to_json(), output=encode_array(out_b), env=env_main)
    with open(main / "gw0-1.jsonl", "a") as fh:
        fh.write(results_b_cpu.dumps() + "\n")
    _write(gpu, _env("fx-gpu", finished=False, device="cuda", gpu="NVIDIA Test GPU"), impls, gpu_results)
    _write(crashed, _env("fx-crashed", finished=False), impls, [])
    return {"root": root, "main": main, "gpu": gpu, "crashed": crashed, "dirs": [main, gpu, crashed],
            "impl_ids": ["fx.softmax[cpu]", "fx.softmax[cuda]", "fx.log_softmax", EVIL]}


def many(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` synthetic results over 40 implementations, for size and speed."""
    rng = np.random.default_rng(seed)
    d = Path(root) / "fx-many"
    env = {"env_id": "fx-many"}
    verdicts = ["exact", "faithful", "good", "bounded", "out-of-bound", "wrong-special", "error"]
    weights = np.array([30, 20, 30, 10, 5, 3, 2], float)
    weights /= weights.sum()
    props = ["accuracy", "sum_to_one", "range", "permutation", "special_values"]
    dtypes = ["float16", "bfloat16", "float32", "float64"]
    case = Case(np.linspace(-5, 5, 16).astype(np.float32), -1, "ordinary")
    cj = case.to_json()
    out = encode_array(_softmax(case.logits))
    impls = [_describe(f"many.impl{i}", "numpy", ["softmax", "log_softmax"][i % 2]) for i in range(40)]
    d.mkdir(parents=True, exist_ok=True)
    (d / "env.json").write_text(json.dumps(_env("fx-many", finished=True)))
    (d / "impls.json").write_text(json.dumps(impls))
    with open(d / "gw0-1.jsonl", "w") as fh:
        for k in range(n):
            i = int(rng.integers(40))
            v = str(rng.choice(verdicts, p=weights))
            prop = props[k % len(props)]
            fail = v in ("out-of-bound", "wrong-special", "error")
            st = {"examples": 10, "points": _points(16, 0.5, 30.0), "outputs": {case.id: f"{rng.integers(4):012x}"}} \
                if prop == "accuracy" else {}
            if prop == "special_values":
                st = {"input_class": ["nan", "+inf", "empty"][k % 3], "returned": "[nan]",
                      "profiles": {"ieee": v, "limit": "exact", "masked": "exact"}}
            r = Result(impls[i]["id"], "numpy", impls[i]["function"], prop, dtypes[k % 4], "ordinary", v,
                       max_ulp=float(rng.exponential(10)), budget_ulp=40.0, message=f"result {k}",
                       case_id=case.id, case=cj if fail else None, output=out if fail else None,
                       expected=out if fail else None, reproducer="python -c 'pass'" if fail else "",
                       env=env, stats=st)
            fh.write(r.dumps() + "\n")
    return d

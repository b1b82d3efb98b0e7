"""Self-tests of the framework adapters (issue 3).

Every available CPU implementation runs on a small fixed set of ordinary
cases (1-D, 2-D, a non-last axis where supported) in each dtype it declares,
and is judged by harness.evaluate against the oracle.  Plus: the `list`
command's JSON schema, import hygiene, and `unavailable` reporting.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.baseline import Entry, current_fingerprint
from harness.evaluate import accuracy, contract, expected_shape, invoke
from harness.records import FAMILIES, FUNCTIONS, Case, Impl
from harness.registry import all_impls, glob_match
from harness.verdicts import GRADES
from oracles.formats import FORMATS

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "numba")
ALL_INSTALLED = all(importlib.util.find_spec(m) is not None for m in FRAMEWORKS)
# 1-D, then a middle axis of a 3-D array; 2-D rows stand in where that is not
# claimed (last-axis-only and 2-D-only implementations).  Two cases per dtype.
SHAPES = (((5,), -1), ((2, 3, 4), 1), ((3, 4), -1))

# Genuine framework behaviour on ordinary inputs, asserted as such rather than
# hidden: (id glob, dtype, conditions, property, verdict).  Conditions are the
# baseline's ``when`` (package version specifiers), so that an upgrade which
# changes the behaviour moves the expectation on purpose instead of failing.
# Globs match with "*" only; brackets in ids are literal.
KNOWN = [
    # JAX without x64 computes float64 input in float32 and returns float32.
    ("jax.*[*x64=off*", "float64", {}, "contract", "wrong-dtype"),
    ("keras.*[backend=jax,x64=off]", "float64", {}, "contract", "wrong-dtype"),
    # Keras's result_type maps float64 to float32 on every backend but
    # tensorflow ("aligned with JAX").  On torch, ops.matmul then computes the
    # Dense layer in float32 and casts back: float64 out, float32 accuracy.
    ("keras.seed_Dense_softmax[backend=torch]", "float64", {}, "accuracy", "out-of-bound"),
    # On the numpy backend the same rule changes dtypes outright.
    ("keras.seed_Dense_softmax[backend=numpy]", "float64", {}, "contract", "wrong-dtype"),
    ("keras.seed_Dense_softmax[backend=numpy]", "bfloat16", {}, "contract", "wrong-dtype"),
    ("keras.layers.Softmax.mask[backend=numpy]", "float64", {}, "contract", "wrong-dtype"),
    ("keras.losses.CategoricalCrossentropy[backend=numpy]", "float64", {}, "accuracy", "out-of-bound"),
    # XLA's CPU dot has no float16 x float16 -> float32 algorithm at these shapes: attention raises.
    ("jax.nn.dot_product_attention[*x64=*", "float16", {}, "contract", "error"),
    # Its softmax runs in float32 even with x64 on (the logits are cast down and back).
    ("jax.nn.dot_product_attention[*x64=on*", "float64", {}, "accuracy", "out-of-bound"),
    # numpy's einsum has no bfloat16 loop: the seed's einsum Jacobian raises.
    ("seed.numpy_einsum_Softmax_grad", "bfloat16", {}, "contract", "error"),
    # scipy's ufunc loops: expit has no half loop and returns float64 for
    # float16/bfloat16.
    ("scipy.special.expit", "float16", {}, "contract", "wrong-dtype"),
    ("scipy.special.expit", "bfloat16", {}, "contract", "wrong-dtype"),
    # logsumexp returned float64 for bfloat16 before scipy 1.17, which raises
    # "TypeError: dtype argument must be a NumPy dtype" instead (Keras's numpy
    # backend calls it).
    ("scipy.special.logsumexp", "bfloat16", {"scipy": "<1.17"}, "contract", "wrong-dtype"),
    ("scipy.special.logsumexp", "bfloat16", {"scipy": ">=1.17"}, "contract", "error"),
    ("keras.ops.logsumexp[backend=numpy]", "bfloat16", {"scipy": "<1.17"}, "contract", "wrong-dtype"),
    ("keras.ops.logsumexp[backend=numpy]", "bfloat16", {"scipy": ">=1.17"}, "contract", "error"),
    # The accidental-hit weight -FLT_MAX cast to a half type is -inf; the cross-entropy
    # kernel's 0*(+inf) then makes every loss NaN (baseline.toml; tests/self/test_sampling.py).
    ("tf.nn.sampled_softmax_loss[all-classes,*", "float16", {}, "accuracy", "wrong-special"),
    ("tf.nn.sampled_softmax_loss[all-classes,*", "bfloat16", {}, "accuracy", "wrong-special"),
]


def _x(shape, dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-4.0, 4.0, shape).astype(FORMATS[dtype].dtype)


def cases_for(impl: Impl, dtype: str) -> list[Case]:
    """Ordinary cases with the extras ``impl.function`` needs; only those it claims."""
    out = []
    shapes = SHAPES if not impl.function.startswith("sparse_") else (((3, 5), -1),)
    for i, (shape, axis) in enumerate(shapes):
        x = _x(shape, dtype, 100 + i)
        rng = np.random.default_rng(200 + i)
        variants = [Case(x, axis)]
        c = variants[0]
        lead = tuple(s for j, s in enumerate(shape) if j != c.norm_axis)
        if impl.function == "masked_softmax":
            keep = rng.random(shape) < 0.6
            np.moveaxis(keep, c.norm_axis, -1)[..., 0] = True  # every slice keeps one entry
            c.mask = keep
        elif impl.function == "softmax_vjp":
            c.upstream = rng.uniform(-2, 2, shape).astype(x.dtype)
        elif impl.function == "cross_entropy":
            c.labels = rng.integers(0, shape[c.norm_axis], lead).astype(np.int64)
            w = rng.uniform(0.1, 1.0, shape)
            soft = Case(x, axis, labels=(w / w.sum(axis=c.norm_axis, keepdims=True)).astype(x.dtype))
            variants.append(soft)
        elif impl.function.startswith("sparse_"):
            present = rng.random(shape) < 0.6
            present[:, 0] = True
            present[1] = False  # an empty row
            c.indices = np.argwhere(present).astype(np.int64)
        if len({v.logits.shape for v in out}) < 2:
            out += [v for v in variants if impl.unsupported(v) is None]
    return out


def _cpu_impls() -> list[Impl]:
    return [i for i in all_impls() if i.device == "cpu" and i.availability()[0]]


def _known(impl: Impl, dtype: str):
    fp = current_fingerprint()
    for pat, dt, when, prop, verdict in KNOWN:
        if dt == dtype and glob_match(impl.id, pat) and Entry(pat, when=when).holds(fp):
            return prop, verdict
    return None


def test_known_conditions_select_by_version():
    """The version bounds of KNOWN can fail: each scipy bound holds on one side only."""
    old, new = {"versions": {"scipy": "1.16.3"}}, {"versions": {"scipy": "1.17.1"}}
    lse = [(w, v) for p, d, w, _, v in KNOWN if p == "scipy.special.logsumexp" and d == "bfloat16"]
    assert [v for w, v in lse if Entry("x", when=w).holds(old)] == ["wrong-dtype"]
    assert [v for w, v in lse if Entry("x", when=w).holds(new)] == ["error"]


@pytest.mark.parametrize("impl", _cpu_impls(), ids=lambda i: i.id)
def test_adapter_on_ordinary_cases(impl: Impl):
    checked = 0
    for dtype in impl.dtypes:
        cases = cases_for(impl, dtype)
        assert cases, f"{impl.id} claims no ordinary {dtype} case"
        known = _known(impl, dtype)
        seen_known = False
        for case in cases:
            where = f"{impl.id} {case.short(4)}"
            oc = invoke(impl, case)
            con = contract(impl, case, oc)
            if known and known[0] == "contract":
                assert con.verdict == known[1], f"{where}: expected the known {known[1]}, got {con.verdict}"
                continue
            assert oc.error is None, f"{where}: raised {oc.error}"
            assert con.verdict == "exact", f"{where}: contract {con.verdict}: {con.message}"
            assert oc.output.shape == expected_shape(case, impl.function)
            acc = accuracy(impl, case, oc.output)
            allowed = GRADES + ((known[1],) if known else ())
            assert acc.verdict in allowed, f"{where}: accuracy {acc.verdict}: {acc.message}"
            seen_known |= bool(known) and acc.verdict == known[1]
            checked += 1
        assert not known or known[0] != "accuracy" or seen_known, f"{impl.id} {dtype}: known {known} not seen"
    assert checked or all(_known(impl, d) for d in impl.dtypes)


def _cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, env=env or ENV,
                          capture_output=True, text=True, timeout=120)


def test_list_json_schema():
    r = _cli("list", "--json")
    assert r.returncode == 0, r.stderr
    items = json.loads(r.stdout)
    types = {"id": str, "family": str, "function": str, "device": str, "dtypes": list, "available": bool,
             "reason": str}
    for it in items:
        for key, typ in types.items():
            assert isinstance(it[key], typ), (it["id"], key)
        assert it["family"] in FAMILIES and it["function"] in FUNCTIONS
        assert set(it["dtypes"]) <= set(FORMATS)
        assert it["available"] == (it["reason"] == ""), it
    ids = [it["id"] for it in items]
    assert len(ids) == len(set(ids))
    cpu = [it for it in items if it["device"] == "cpu"]
    if ALL_INSTALLED:
        missing = [(it["id"], it["reason"]) for it in cpu if not it["available"]]
        assert not missing, missing
        assert len(cpu) >= 40 and len({it["function"] for it in cpu}) >= 8
        assert {it["family"] for it in cpu} >= {"seed", "numpy", "scipy", *FRAMEWORKS}
    for it in items:  # never silently dropped: CUDA and CuPy are listed, with the reason
        if it["family"] == "cupy" and importlib.util.find_spec("cupy") is None:
            assert not it["available"] and "cupy" in it["reason"]


def test_list_modes_in_ids():
    env = {**ENV, "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "1"}
    r = _cli("list", "--json", "--families", "tensorflow,keras,jax", env=env)
    ids = [it["id"] for it in json.loads(r.stdout)]
    assert "tf.nn.softmax[onednn=off]" in ids and "jax.nn.softmax[x64=on]" in ids
    assert "keras.activations.softmax[backend=jax,x64=on]" in ids


def test_list_table_and_usage_error(capsys):
    from harness.cli import main

    assert main(["list", "--impls", "numba.*", "--functions", "softmax"]) == 0
    out = capsys.readouterr().out
    assert "numba.seed_Softmax[fastmath=on]" in out and "available" in out.splitlines()[0]
    assert main(["list", "--impls", "no-such-impl*"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-impl*" in err


def test_import_harness_imports_no_framework():
    code = ("import importlib, pkgutil, sys, harness, harness.registry\n"
            "impls = harness.registry.all_impls()\n"
            "for pkg in ('harness', 'oracles', 'reports'):  # every module of ours\n"
            "    for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + '.'):\n"
            "        m.name.endswith('__main__') or importlib.import_module(m.name)\n"
            "bad = [m for m in ('torch', 'tensorflow', 'jax', 'keras', 'numba', 'cupy') if m in sys.modules]\n"
            "print(len(impls), bad)\nassert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_hidden_package_is_unavailable():
    code = ("import sys, json\n"
            "for m in ('torch', 'numba', 'tensorflow'): sys.modules[m] = None  # hide: find_spec -> None\n"
            "from harness.registry import all_impls, glob_match\n"
            "print(json.dumps({i.id: i.availability() for i in all_impls()}))\n")
    env = {**ENV, "KERAS_BACKEND": "tensorflow"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    keras_id = next(i for i in got if i.startswith("keras.activations.softmax[backend=tensorflow"))
    for impl_id, pkg in (("torch.softmax[cpu]", "torch"), ("torch.softmax[cuda]", "torch"),
                         ("numba.seed_Softmax[fastmath=on]", "numba"), (keras_id, "tensorflow")):
        ok, reason = got[impl_id]
        assert not ok and pkg in reason, (impl_id, reason)
    assert got["numpy.stable_softmax"] == [True, ""]
    assert sum(1 for i in got if i.startswith("tf.")) >= 9  # listed, not dropped


@pytest.mark.parametrize(("env", "cpu_nn", "want"), [
    ({}, False, ("off", "tensorflow", "off")), ({}, True, ("on", "tensorflow", "off")),
    ({"TF_ENABLE_ONEDNN_OPTS": "0", "JAX_ENABLE_X64": "yes", "KERAS_BACKEND": "jax"}, True, ("off", "jax", "on")),
])
def test_the_run_record_and_the_ids_read_each_mode_alike(monkeypatch, tmp_path, env, cpu_nn, want):
    from harness import environment, modes
    from harness.impls import jax_impls, tf_impls

    for var in ("TF_ENABLE_ONEDNN_OPTS", "JAX_ENABLE_X64", "KERAS_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no keras.json there
    monkeypatch.setattr(modes, "_default_on", lambda: cpu_nn)
    rec = environment.modes()
    assert (rec["tf_onednn"], rec["keras_backend"], rec["jax_x64"]) == want
    assert all(i.id.endswith(f"[onednn={want[0]}]") for i in tf_impls.impls() if i.device == "cpu")
    assert all(f"[x64={want[2]}" in i.id for i in jax_impls.impls())


def test_the_run_record_has_no_mode_of_a_framework_not_installed(monkeypatch):
    import importlib.util

    from harness import environment

    real = importlib.util.find_spec
    hidden = ("tensorflow", "jax")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in hidden else real(name, *a))
    rec = environment.modes()
    assert "tf_onednn" not in rec and "jax_x64" not in rec and rec["keras_backend"]

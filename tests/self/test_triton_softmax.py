"""The Triton tutorial's fused softmax (harness/impls/triton_softmax.py):
registered everywhere, unavailable with its reason where triton or CUDA is
missing, and its kernel right under Triton's CPU interpreter where triton is
installed (the GPU run itself happens on a device machine)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from harness.registry import all_impls

IMPL = "triton.tutorial.fused_softmax[cuda]"


def test_registered_and_unavailable_says_why():
    impl = next(i for i in all_impls() if i.id == IMPL)
    ok, why = impl.availability()
    if not ok:
        assert "triton" in why or "CUDA" in why
    import numpy as np

    from harness.records import Case

    assert "block" in impl.supports(Case(np.zeros(2**16 + 1, np.float32)))
    assert impl.supports(Case(np.zeros(2**16, np.float32))) is None


INTERPRETED = """
import numpy as np
import harness.impls.triton_softmax as m
from harness.evaluate import accuracy
from harness.impls.torch_impls import _in
from harness.records import Case
from harness.registry import all_impls
from oracles.formats import FORMATS

m._in = lambda a, dev: _in(a, "cpu")  # the interpreter runs the kernel on CPU tensors
impl = next(i for i in all_impls() if i.id == "triton.tutorial.fused_softmax[cuda]")
rng = np.random.default_rng(0)
for dt in ("float32", "float64", "bfloat16"):
    for shape, axis in (((3, 7), -1), ((5, 300), -1), ((2, 3, 9), 1), ((4, 0), -1), ((0, 4), -1)):
        c = Case(np.asarray(rng.normal(0, 8, shape).astype(FORMATS[dt].dtype)), axis=axis)
        f = accuracy(impl, c, m._call(c))
        assert f.verdict in ("exact", "faithful", "good"), (dt, shape, f.message)
y = m._call(Case(np.array([[0.0, np.inf], [1e30, -1e30]], np.float32)))
assert np.isnan(y[0]).all() and (y[1] == [1, 0]).all()  # the tutorial's ieee behaviour
print("ok")
"""


def test_kernel_under_the_triton_interpreter():
    import pytest

    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton not installed (it ships with CUDA torch; the kernel runs on a device machine)")
    env = dict(os.environ, TRITON_INTERPRET="1")
    r = subprocess.run([sys.executable, "-c", INTERPRETED], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-2000:]

"""`softmax-harness check`: exit codes 0/1/2, crash and timeout isolation,
JSON output, and a reproducer that really reproduces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIX = "tests/self/fixtures/user_kernels.py"
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def check(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "harness.cli", "check", *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_correct_function_is_conformant(tmp_path):
    out = tmp_path / "r.jsonl"
    r = check(f"{FIX}:stable_softmax", "--dtypes", "float32,float16", "--max-examples", "11", "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verdict: CONFORMANT" in r.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {row["dtype"] for row in rows} == {"float32", "float16"}
    assert {"accuracy", "stability", "shift_invariance", "special_values"} <= {row["property"] for row in rows}


def test_module_target_and_broken_function_with_working_reproducer():
    env_path = str(ROOT / "tests" / "self" / "fixtures")
    r = subprocess.run([sys.executable, "-m", "harness.cli", "check", "user_kernels:naive_softmax", "--dtypes",
                        "float64", "--max-examples", "11"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**ENV, "PYTHONPATH": env_path})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "NON-CONFORMANT" in r.stdout and "worst input:" in r.stdout
    line = next(x for x in r.stdout.splitlines() if x.startswith("reproduce: "))[len("reproduce: "):]
    rep = subprocess.run(line.replace("python", sys.executable, 1), shell=True, cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**ENV, "PYTHONPATH": env_path})
    assert rep.returncode == 0, rep.stderr
    assert "wrong-special" in rep.stdout or "out-of-bound" in rep.stdout, rep.stdout


@pytest.mark.parametrize("fn", ["aborts", "segfaults"])
def test_crash_is_a_verdict_and_the_harness_survives(fn):
    r = check(f"{FIX}:{fn}", "--dtypes", "float32", "--max-examples", "3")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "crash" in r.stdout and "Traceback" not in r.stderr
    assert r.stdout.count("crash") >= 5  # every task reported, by a fresh child each time


def test_hang_is_a_timeout():
    r = check(f"{FIX}:hangs", "--dtypes", "float32", "--timeout", "2", timeout=200)
    assert r.returncode == 1 and "timeout" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize(("target", "words"), [
    ("nope.py:f", "does not exist"), (f"{FIX}:not_callable", "not callable"), (f"{FIX}:missing", "no attribute"),
    ("no_such_mod_xyz:f", "cannot import"), ("badtarget", "must be"),
])
def test_bad_target_is_a_usage_error(target, words):
    r = check(target)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr


def test_bad_options_are_usage_errors():
    for args in (["--dtypes", "float8"], ["--function", "softmax_vjp"], ["--profile", "fast"]):
        r = check(f"{FIX}:stable_softmax", *args)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, (args, r.stderr)

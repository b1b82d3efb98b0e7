"""The conformance run survives its implementations: under pytest-xdist a
segfaulting one is recorded as ``crash`` and a hanging one as ``timeout``
(after ``--test-timeout``), every other result stands, and a baseline entry
for an id with brackets in it marks that failure ``known``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RISKY = "tests/self/fixtures/risky_impls.py:impls"
SUITE = "harness/suite/test_properties.py::"  # one test per property in the shipped suite


def test_crash_and_hang_are_recorded_and_the_run_goes_on(tmp_path):
    baseline = tmp_path / "known.toml"
    baseline.write_text('[[known]]\nimpl = "risky.naive[shift=none]"\nproperty = "accuracy"\n'
                        'reason = "no max subtraction"\n')
    env = {**os.environ, "SOFTMAX_HARNESS_IMPLS": RISKY, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "pytest", SUITE + "test_accuracy", "-p", "no:cacheprovider", "-q",
           "-n", "2", "--harness-budget", "dev", "--harness-impls", "risky.*", "--harness-results",
           str(tmp_path / "res"), "--harness-env-id", "t", "--harness-test-timeout", "8",
           "--harness-xfails-file", str(baseline)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-2000:]
    got = {}
    for f in (tmp_path / "res" / "t").rglob("*.jsonl"):
        for line in f.read_text().splitlines():
            row = json.loads(line)
            got[row["impl"]] = row
    assert set(got) == {"risky.segfaults[mode=segv]", "risky.hangs[mode=sleep]", "risky.naive[shift=none]",
                        "risky.stable[shift=max]"}, sorted(got)
    crash, hang = got["risky.segfaults[mode=segv]"], got["risky.hangs[mode=sleep]"]
    assert crash["verdict"] == "crash" and crash["duration"] < 8, crash
    assert hang["verdict"] == "timeout" and hang["duration"] >= 7, hang
    for row in (crash, hang):  # reproducers name the test and carry the registration
        assert row["impl"] in row["reproducer"] and "SOFTMAX_HARNESS_IMPLS=" in row["reproducer"]
        assert row["property"] == "accuracy" and row["dtype"] == "float64"
    assert got["risky.naive[shift=none]"]["known"] == "no max subtraction"
    assert got["risky.stable[shift=max]"]["verdict"] in ("exact", "faithful", "good", "bounded")
    assert "1 xfailed" in r.stdout and "2 failed" in r.stdout and "1 passed" in r.stdout


def _pytest(*args, env=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)


def test_only_conformance_sessions_touch_the_results_folder(tmp_path):
    res = tmp_path / "res"
    r = _pytest(SUITE + "test_contract", "-n", "2", "--harness-impls", "numpy.stable_softmax", "--harness-dtypes",
                "float64", "--harness-results", str(res), "--harness-env-id", "e")
    assert r.returncode == 0, r.stdout[-2000:]
    (run,) = (res / "e" / "runs").iterdir()  # this session's own run folder
    env = json.loads((run / "env.json").read_text())
    assert env["finished"] >= env["started"] and env["session"] and env["run_id"] == run.name
    files = sorted(str(p) for p in (res / "e").rglob("*.jsonl"))
    assert files and all(json.loads(line)["impl"] == "numpy.stable_softmax"
                         for f in files for line in Path(f).read_text().splitlines())
    # Another pytest session that runs no conformance test (the self-tests) leaves it alone.
    r = _pytest("tests/self/test_policy.py", "--harness-results", str(res), "--harness-env-id", "e")
    assert r.returncode == 0, r.stdout[-2000:]
    assert sorted(str(p) for p in (res / "e").rglob("*.jsonl")) == files
    assert json.loads((run / "env.json").read_text()) == env


def test_self_tests_with_ids_like_conformance_tests_write_nothing(tmp_path):
    """Under xdist the controller tells conformance tests by node id: a
    self-test parametrized as ``[numpy.stable_softmax-float16]`` is not one."""
    res = tmp_path / "res"
    r = _pytest("tests/self/test_sweep.py", "-n", "2", "-k", "within_budget and stable_softmax",
                "--harness-results", str(res), "--harness-env-id", "e")
    assert r.returncode == 0 and "2 passed" in r.stdout, r.stdout[-2000:]
    assert not res.exists() or not any(res.rglob("*")), sorted(map(str, res.rglob("*")))


def test_self_tests_parametrized_over_impls_write_nothing(tmp_path):
    """test_adapters parametrizes over Impl objects without the conformance
    fixture: that is not a conformance run and leaves no env.json/impls.json."""
    res = tmp_path / "res"
    r = _pytest("tests/self/test_adapters.py", "-n", "2", "-k", "numpy.stable_softmax", "--harness-results", str(res),
                "--harness-env-id", "e")
    assert r.returncode == 0, r.stdout[-2000:]
    assert "passed" in r.stdout
    assert not res.exists() or not any(res.rglob("*")), sorted(map(str, res.rglob("*")))

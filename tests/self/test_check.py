"""`softmax-harness check`: exit codes 0/1/2, one verdict line per property x
dtype, crash and timeout isolation (with the input that did it), JSON Lines
written as results arrive, and reproducers that really reproduce."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from harness.commands.check import _tasks
from harness.records import Impl
from harness.upstream_corpus import cases_for

ROOT = Path(__file__).resolve().parents[2]
FIXDIR = ROOT / "tests" / "self" / "fixtures"
FIX = "tests/self/fixtures/user_kernels.py"
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
ENV.pop("PYTHONPATH", None)
ERR = "softmax-harness check: error: "


def check(*args, timeout=300, cwd=ROOT, env=ENV):
    return subprocess.run([sys.executable, "-m", "harness.cli", "check", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def logits(row: dict) -> np.ndarray:
    from harness.records import Case

    return Case.from_json(row["case"]).logits


def run_reproducer(line: str, cwd: Path, env=ENV) -> subprocess.CompletedProcess:
    assert line.startswith("python -c "), line
    return subprocess.run(sys.executable + line[len("python"):], shell=True, cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env)


def verdict_lines(stdout: str) -> list[list[str]]:
    return [ln.split() for ln in stdout.splitlines() if ln.startswith(("ok ", "FAIL "))]


def test_correct_function_is_conformant(tmp_path):
    out = tmp_path / "r.jsonl"
    r = check(f"{FIX}:stable_softmax", "--dtypes", "float32,float16", "--max-examples", "8", "--seed", "1",
              "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("verdict: CONFORMANT")
    props = {"accuracy", "contract", "sum_to_one", "stability", "shift_invariance", "permutation",
             "monotonicity", "special_values", "upstream"}
    shown = {(w[1], w[2]) for w in verdict_lines(r.stdout)}
    assert shown == {(d, p) for d in ("float32", "float16") for p in props}  # one line per property x dtype
    got = rows(out)
    assert {row["dtype"] for row in got} == {"float32", "float16"} and {row["property"] for row in got} == props
    assert all(row["schema"] == 1 and row["impl"].startswith("check:/") for row in got)


def test_broken_function_reproducer_works_from_anywhere(tmp_path):
    out = tmp_path / "r.jsonl"
    r = check(f"{FIX}:naive_softmax", "--dtypes", "float64", "--max-examples", "8", "--seed", "3",
              "--json", str(out))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "verdict: NON-CONFORMANT" in r.stdout and "worst input: float64" in r.stdout
    line = next(x for x in r.stdout.splitlines() if x.startswith("reproduce: "))[len("reproduce: "):]
    bad = [row for row in rows(out) if row["verdict"] not in ("exact", "faithful", "good", "bounded", "unsupported")]
    worst = next(row for row in bad if row["reproducer"] == line)
    assert not worst["regime"].startswith("special:")  # a searched, finite input beats a convention
    assert np.isfinite(logits(worst).astype(np.float64)).all()
    special = next(row for row in bad if row["property"] == "special_values")
    for row in (worst, special):  # from another directory: the file target was made absolute
        rep = run_reproducer(row["reproducer"], tmp_path)
        assert rep.returncode == 0, rep.stderr
        assert f"{row['property']}: {row['verdict']}" in rep.stdout, (rep.stdout, row["message"])


def test_module_target_from_the_current_directory_with_the_console_script():
    script = Path(sys.executable).with_name("softmax-harness")
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    r = subprocess.run([str(script), "check", "user_kernels:naive_softmax", "--dtypes", "float32",
                        "--max-examples", "4"], cwd=FIXDIR, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("reproduce: "))[len("reproduce: "):]
    assert "check:user_kernels:naive_softmax:softmax" in line
    rep = run_reproducer(line, FIXDIR)  # `python -c` puts the current directory on sys.path too
    assert rep.returncode == 0 and ("out-of-bound" in rep.stdout or "wrong-special" in rep.stdout), rep.stderr


@pytest.mark.parametrize("fn", ["aborts", "segfaults"])
def test_crash_is_a_verdict_and_the_harness_survives(fn, tmp_path):
    out = tmp_path / "r.jsonl"
    r = check(f"{FIX}:{fn}", "--dtypes", "float32", "--max-examples", "3", "--json", str(out))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    got = rows(out)
    # every task, each by a fresh child (a crashed fixed-input task is one result)
    assert len(got) == len(_tasks("softmax", ["float32"])) and {row["verdict"] for row in got} == {"crash"}
    sig = "SIGABRT" if fn == "aborts" else "SIGSEGV"
    assert all(sig in row["message"] and "user_kernels.py:" in row["message"] and fn in row["message"]
               for row in got), got[0]["message"]
    assert all(row["case"] and row["reproducer"] for row in got)  # the input it died on
    if fn == "segfaults":  # and replaying it takes a process down the same way
        rep = run_reproducer(got[0]["reproducer"], tmp_path)
        assert rep.returncode in (-signal.SIGSEGV, 128 + signal.SIGSEGV), (rep.returncode, rep.stderr)


def test_crash_on_some_inputs_records_that_input(tmp_path):
    out = tmp_path / "r.jsonl"
    r = check(f"{FIX}:segfaults_on_nan", "--dtypes", "float16", "--max-examples", "6", "--json", str(out))
    assert r.returncode == 1, r.stdout + r.stderr
    got = rows(out)
    crashed = [row for row in got if row["verdict"] == "crash"]
    # one row per task, the upstream corpus's one per float16 softmax case (none holds a NaN: no crash there)
    corpus = len(cases_for(Impl("x", "user", "softmax", lambda c: c.logits), "float16"))
    assert crashed and len(got) == len(_tasks("softmax", ["float16"])) - 1 + corpus
    for row in crashed:
        assert np.isnan(logits(row).astype(np.float64)).any(), row["case"]
    assert "(flat index: " in r.stdout and "nan at" in r.stdout


def test_hang_is_a_timeout_and_repeated_hangs_stop_the_run(tmp_path):
    # The timeout clock starts at the target's call, not at the task: however loaded the
    # machine (a slow child start), every timeout row names the hanging call's input.
    out = tmp_path / "r.jsonl"
    r = check(f"{FIX}:hangs", "--dtypes", "float32,float64", "--timeout", "2", "--json", str(out), timeout=900)
    assert r.returncode == 3, r.stdout + r.stderr  # not judged: INCOMPLETE, not NON-CONFORMANT
    assert "verdict: INCOMPLETE" in r.stdout
    got = rows(out)
    assert [row["verdict"] for row in got] == ["timeout"] * 3
    assert all(row["reproducer"] and row["case"] for row in got), got
    assert all("did not return within 2 s" in row["message"] for row in got)
    assert "not run (every property)" in r.stdout


def test_softmax_vjp_convention(tmp_path):
    r = check(f"{FIX}:stable_softmax_vjp", "--function", "softmax_vjp", "--dtypes", "float64",
              "--max-examples", "4", "--seed", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fn(x, g, axis=-1)" in r.stdout


def test_interrupt_keeps_what_was_written(tmp_path):
    out = tmp_path / "r.jsonl"
    # A ^C must reach it even when this runner inherited SIGINT ignored (a background job): the
    # trampoline restores the default before exec, without a fork-unsafe preexec_fn.
    trampoline = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                  "os.execv(sys.executable, [sys.executable, '-m', 'harness.cli', *sys.argv[1:]])")
    p = subprocess.Popen([sys.executable, "-c", trampoline, "check", f"{FIX}:stable_softmax", "--json", str(out)],
                         cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        if out.exists() and len(out.read_text().splitlines()) >= 3:
            break
        time.sleep(0.1)
    assert p.poll() is None, "finished before it could be interrupted"
    os.killpg(p.pid, signal.SIGINT)  # as ^C in a terminal: the whole process group
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stdout + stderr
    assert "results written so far are kept" in stderr and "Traceback" not in stderr
    got = rows(out)  # every line complete and parseable
    assert len(got) >= 3


def test_replay_without_implementation_is_the_oracle():
    import harness
    from harness.records import Case

    case = Case(np.array([[1.0, 2.0, 3.0], [0.0, -np.inf, 5.0]], np.float32), -1, "ordinary")
    got = harness.replay(case.to_json(), None, None, "softmax")
    x = case.logits.astype(np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    assert got.dtype == np.float32 and np.allclose(got, e / e.sum(axis=-1, keepdims=True), rtol=1e-6)
    lse = harness.replay(json.dumps(case.to_json()), None, None, "logsumexp")
    assert lse.shape == (2,)


@pytest.mark.parametrize(("target", "words"), [
    ("nope.py:f", "does not exist"), (f"{FIX}:not_callable", "not callable"), (f"{FIX}:missing", "no attribute"),
    ("no_such_mod_xyz:f", "cannot import"), ("badtarget", "must be"), (f"{FIX}:", "must be"),
    ("tests/self/fixtures/raises_on_import.py:softmax", "RuntimeError: this module is broken on purpose"),
])
def test_bad_target_is_a_usage_error(target, words):
    r = check(target)
    assert r.returncode == 2 and r.stdout == "", r.stdout + r.stderr
    assert r.stderr.startswith(ERR) and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr


def test_bad_options_are_usage_errors():
    for args in (["--dtypes", "float8"], ["--function", "cross_entropy"], ["--profile", "fast"],
                 ["--timeout", "0"], ["--max-examples", "0"]):
        r = check(f"{FIX}:stable_softmax", *args)
        assert r.returncode == 2 and r.stderr.startswith(ERR) and r.stderr.count("\n") == 1, (args, r.stderr)


def test_a_harness_failure_in_the_child_is_reported_not_blamed_on_a_crash(capsys):
    from harness.isolation import run_tasks
    from harness.targets import target_impl

    target = f"{ROOT / FIX}:stable_softmax"
    got = []
    left = run_tasks(target_impl(target, "softmax"), target, "softmax", [("float32", "accuracy")],
                     {"budget": "no-such-budget", "max_examples": 2, "seed": 1}, 60, got.extend)
    assert left == [] and [r.verdict for r in got] == ["error"]
    assert got[0].message.startswith("internal harness error: UsageError")
    assert "Traceback" in capsys.readouterr().err


def test_a_long_case_reproducer_reads_its_case_from_a_file(tmp_path):
    from harness.commands.check_output import _store_long_case
    from harness.conformance import reproducer
    from harness.records import Case, Result
    from harness.targets import target_impl

    impl = target_impl(f"{ROOT / FIX}:naive_softmax", "softmax")
    case = Case(np.linspace(60, 100, 40000).astype(np.float32), -1, "long-row")  # exp overflows
    r = Result(impl.id, impl.family, impl.function, "accuracy", "float32", case.regime, "out-of-bound",
               reproducer=reproducer(impl, case, "accuracy"), case=case.to_json(), case_id=case.id)
    assert len(r.reproducer) > 128 * 1024  # too long for one command-line argument on Linux
    _store_long_case(r, str(tmp_path / "r.jsonl"))
    assert len(r.reproducer) < 1000 and (tmp_path / "r.jsonl.cases" / f"{case.id}.json").is_file()
    rep = run_reproducer(r.reproducer, tmp_path)
    assert rep.returncode == 0 and "accuracy: " in rep.stdout, rep.stderr
    assert "accuracy: exact" not in rep.stdout and "accuracy: good" not in rep.stdout, rep.stdout


def test_default_seed_is_fixed_and_printed_and_random_is_opt_in(tmp_path):
    """The same check of the same code gives the same verdicts; --seed random draws and prints a
    seed that --seed N repeats; a bad --seed is a one-line usage error."""
    import re

    env = {**ENV, "SOFTMAX_HARNESS_DB": str(tmp_path / "db")}  # random runs keep failures here

    def verdicts(*args) -> tuple[str, list]:
        out = tmp_path / "r.jsonl"
        r = check(f"{FIX}:naive_softmax", "--dtypes", "float32", "--max-examples", "6", "--json", str(out),
                  *args, env=env)
        assert r.returncode == 1, r.stdout + r.stderr  # naive_softmax fails: max_ulp and cases are not trivial
        return r.stdout, [(x["property"], x["verdict"], x.get("max_ulp"), x.get("case_id")) for x in rows(out)]

    (first, a), (_, b) = verdicts(), verdicts()
    assert "budget check, seed 0 (fixed; --seed random to explore)" in first
    assert a == b and a
    assert not (tmp_path / "db").exists()  # a fixed seed neither reads nor writes the database
    drawn, c = verdicts("--seed", "random")
    m = re.search(r"seed (\d+) \(random; repeat with --seed (\d+)\)", drawn)
    assert m and m[1] == m[2], drawn
    _, repeat = verdicts("--seed", m[1])  # the database was empty before, so this is the same search
    assert repeat == c
    ci = check(f"{FIX}:stable_softmax", "--dtypes", "float32", "--max-examples", "2", "--budget", "ci")
    assert ci.returncode == 0 and "seed: derandomized (ci budget)" in ci.stdout, ci.stdout + ci.stderr
    for bad in ("12x", "-1", "random:5"):
        r = check(f"{FIX}:stable_softmax", "--seed", bad)
        assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith(ERR) and repr(bad) in r.stderr, r.stderr

"""`softmax-harness run` says where it is (issue 15): progress lines with the
variant k/N and tests done/total, a plain log when stdout is not a terminal,
a live line on one, each new failure printed as it happens; plain pytest keeps
its dots; the end-of-variant table cuts no header or id; `check --report`
writes a complete environment record."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import progress
from harness.records import Result
from harness.summary import table

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "harness" / "suite" / "test_properties.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"}
for _k in ("SOFTMAX_HARNESS_IMPLS", "SOFTMAX_HARNESS_BUDGET", "SOFTMAX_HARNESS_PROFILE"):
    ENV.pop(_k, None)
# One conforming implementation and one that is not (its failures are new: no baseline is given).
IMPLS = "numpy.stable_softmax,seed.numpy_naive_softmax"
RUN = ["run", "--impls", IMPLS, "--no-variants", "-n", "0", "--budget", "dev", "--dtypes", "float32,float64"]
PROGRESS = re.compile(r"^\[run\] variant 1/1 main: (\d+)/(\d+) tests \(\d+%\), [\w-]+, (\d+) new failures?, "
                      r"\d+ known, \S+ elapsed, ETA \S+$")


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, env={**ENV, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def run_log(tmp_path_factory) -> tuple[int, list[str]]:
    tmp = tmp_path_factory.mktemp("progress")
    r = cli([*RUN, "--out", str(tmp / "out")], cwd=tmp)  # stdout is a pipe: the plain log
    return r.returncode, r.stdout.splitlines()


def test_a_piped_run_logs_progress_with_variant_and_counts(run_log):
    code, lines = run_log
    assert code == 1, "\n".join(lines[-30:])  # the naive implementation fails: new findings
    counts = [(int(m[1]), int(m[2])) for m in map(PROGRESS.match, lines) if m]
    assert len(counts) >= 5, "\n".join(lines[:40])
    total = counts[0][1]
    assert total > 0 and all(t == total for _, t in counts)
    dones = [d for d, _ in counts]
    assert dones == sorted(dones) and dones[0] < total and dones[-1] == total
    assert any(line.startswith("[run] variant 1/1 main done: ") for line in lines)
    # pytest's dots and F's are replaced by the log: no line of progress letters
    assert not [line for line in lines if re.fullmatch(r"[.FsxEX]{3,}.*", line)], lines[:40]


def test_a_new_failure_is_printed_when_it_happens_with_its_verdict(run_log):
    _, lines = run_log
    first = next(i for i, line in enumerate(lines) if line.startswith("[run] NEW FAILURE (1) in variant 1/1 main: "))
    assert re.search(r"test_\w+\[seed\.numpy_naive_softmax-float(32|64)\]: seed\.numpy_naive_softmax softmax "
                     r"float(32|64) \w+: [a-z-]+ \(regime", lines[first]), lines[first]
    assert "[gw" not in lines[first]
    # said while the variant still ran: a later progress line is not yet done, and it comes before
    # pytest's failure section at the end of the variant
    later = [m for m in map(PROGRESS.match, lines[first:]) if m]
    assert later and int(later[0][1]) < int(later[0][2]) and int(later[0][3]) >= 1
    assert first < next(i for i, line in enumerate(lines) if "FAILURES" in line)


def test_plain_pytest_keeps_its_own_output(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pytest", str(SUITE), "-p", "no:cacheprovider", "-q", "-n", "0",
                        "--harness-impls", "numpy.stable_softmax", "--harness-dtypes", "float32",
                        "--harness-budget", "dev", "--harness-results", str(tmp_path / "res"),
                        "--harness-env-id", "main"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:]
    assert "[run]" not in r.stdout and re.search(r"^[s.]*\.{3,}", r.stdout, re.M), r.stdout[:2000]


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) for a pseudo-terminal")
def test_on_a_terminal_the_progress_is_one_redrawn_line(tmp_path):
    cmd = " ".join([sys.executable, "-m", "harness.cli", *RUN, "--out", str(tmp_path / "out")])
    r = subprocess.run(["script", "-q", "-e", "-c", cmd, "/dev/null"], cwd=tmp_path,
                       env={**ENV, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=600)
    out = r.stdout.decode("utf-8", "replace")  # bytes: text mode would turn each "\r" into a newline
    redraws = re.findall(r"\r\x1b\[2Kvariant 1/1 main: (\d+)/(\d+) tests", out)
    assert len(redraws) >= 5 and int(redraws[-1][0]) == int(redraws[-1][1]), out[-3000:]
    assert "NEW FAILURE (1)" in out and not re.search(r"\n\[run\] variant 1/1 main: \d+/", out)


def _report(nodeid: str, when: str, outcome: str, text: str = "") -> SimpleNamespace:
    return SimpleNamespace(nodeid=nodeid, when=when, outcome=outcome, failed=outcome == "failed",
                           longreprtext=text)


def test_the_plain_log_is_never_silent_for_an_interval(monkeypatch):
    """A long collection or one long test still gives a line every INTERVAL."""
    monkeypatch.setattr(progress, "INTERVAL", 0.3)
    monkeypatch.setattr(progress, "LIVE_REFRESH", 0.05)
    out = io.StringIO()
    p = progress.Progress("2/6 tf-onednn", stream=out, live=False)
    time.sleep(0.5)
    assert "[run] variant 2/6 tf-onednn: collecting tests" in out.getvalue()
    ids = [f"s.py::test_accuracy[tf.nn.softmax-{d}]" for d in ("float32", "float64")]
    p.begin(ids, {"tf.nn.softmax": "tf"})
    p.pytest_runtest_logstart(ids[0], None)
    p.pytest_runtest_logreport(_report(ids[0], "call", "failed", "[gw0] linux -- Python\ntf.nn.softmax softmax "
                                       "float32 accuracy: out-of-bound (regime x)\n  214 ulp (budget good 5)"))
    assert ("[run] NEW FAILURE (1) in variant 2/6 tf-onednn: test_accuracy[tf.nn.softmax-float32]: tf.nn.softmax "
            "softmax float32 accuracy: out-of-bound (regime x) | 214 ulp (budget good 5)") in out.getvalue()
    p.pytest_runtest_logreport(_report(ids[0], "teardown", "passed"))
    mark = len(out.getvalue())
    time.sleep(0.5)  # the second test "runs" long: the clock still logs
    assert "1/2 tests (50%), tf, 1 new failure, 0 known" in out.getvalue()[mark:]
    p.close()
    assert re.search(r"\[run\] variant 2/6 tf-onednn done: 1/2 tests in \ds, 1 new failure, 0 known\n$", out.getvalue())


def test_end_of_variant_table_cuts_no_header_or_id():
    long_id = "user.kernels." + "very_long_implementation_name_" * 3 + "[mode=a]"
    twin = long_id.replace("[mode=a]", "[mode=b]")  # identical in its first 60 characters
    rs = [Result(long_id, "user", "softmax", "accuracy", "float32", "-", "unsupported"),
          Result(twin, "user", "softmax", "accuracy", "float32", "-", "wrong-special", max_ulp=3e9),
          Result("n", "numpy", "softmax", "accuracy", "float32", "-", "exact", max_ulp=0)]
    lines = table(rs).splitlines()
    assert lines[0].split() == ["implementation", "worst", "max", "ulp", "exact", "unsupported", "wrong-special"]
    assert lines[2].split()[0] == "n" and lines[3].split()[0] == long_id and lines[4].split()[0] == twin
    assert lines[4].split()[1:] == ["wrong-special", "3e+09", "0", "0", "1"]
    assert len({len(line) for line in lines[:2]}) == 1


def test_check_report_writes_a_complete_environment_record(tmp_path):
    r = cli(["check", f"{ROOT}/tests/self/fixtures/user_kernels.py:stable_softmax", "--dtypes", "float32",
             "--max-examples", "2", "--report", "r.html"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = tmp_path / "r-results" / "check"
    env = json.loads((folder / "env.json").read_text())
    impls = json.loads((folder / "impls.json").read_text())
    assert env["finished"] and env["python"] == sys.version.split()[0] and env["platform"] not in ("", "?")
    assert [i["id"] for i in impls] and (folder / "results.jsonl").stat().st_size > 0
    html = (tmp_path / "r.html").read_text()
    assert "Partial results" not in html and "is missing" not in html and str(folder) in html


def test_run_report_lists_the_baseline_entries_that_no_longer_fail(tmp_path):
    """`run --xfails-file` hands the baseline to the report: an entry whose
    finding is gone is counted as fixed on the first screen."""
    (tmp_path / "bl.toml").write_text(
        '[[known]]\nimpl = "numpy.stable_softmax"\nproperty = "accuracy"\ndtype = "float32"\n'
        'regime = "*"\nverdict = "*"\nreason = "a finding that is not there"\n')
    cli(["run", "--impls", "numpy.stable_softmax", "--no-variants", "-n", "0", "--budget", "dev",
         "--dtypes", "float32", "--xfails-file", "bl.toml", "--out", "out"], cwd=tmp_path)
    page = (tmp_path / "out" / "index.html").read_text("utf-8")
    assert re.search(r'id="count-fixed"><b>1</b> fixed', page)

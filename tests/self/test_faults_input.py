"""Bad input and hostile conditions get a one-line error (or the documented
verdict), never a traceback or a silent wrong result: object-array outputs,
output paths, signals and a closed stdout during `check`, empty lists,
unknown functions and negative timeouts in the plugin, unknown verdicts in
results files, malformed baselines, and two `check --json` runs on one file."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIX = "tests/self/fixtures/user_kernels.py"
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
ENV.pop("PYTHONPATH", None)
ERR = "softmax-harness check: error: "
# Restores SIGINT's default before exec (this runner may be a background job that ignores it).
TRAMPOLINE = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
              "os.execv(sys.executable, [sys.executable, '-m', 'harness.cli', *sys.argv[1:]])")


def cli(*args, timeout=300, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def one_line_usage_error(r: subprocess.CompletedProcess, prefix: str = ERR) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert r.stderr.startswith(prefix) and r.stderr.count("\n") == 1, r.stderr[-2000:]
    assert "Traceback" not in r.stderr + r.stdout
    return r.stderr


def plugin(tmp_path: Path, *opts: str) -> subprocess.CompletedProcess:
    """pytest with the harness plugin (an entry point) on a trivial test file."""
    (tmp_path / "test_trivial.py").write_text("def test_nothing():\n    pass\n")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0", *opts,
                           "test_trivial.py"], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)


def plugin_usage_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == pytest.ExitCode.USAGE_ERROR, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), r.stderr[-3000:]
    return lines[0]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# 1 ------------------------------------------------------------------------


def test_object_array_output_is_wrong_dtype_not_a_harness_error():
    from harness.properties.basic import accuracy
    from harness.records import Case, Impl

    def as_objects(c: Case) -> np.ndarray:
        x = c.logits.astype(np.float64)
        e = np.exp(x - x.max(axis=c.axis, keepdims=True))
        return np.array((e / e.sum(axis=c.axis, keepdims=True)).astype(c.logits.dtype), dtype=object)

    impl = Impl("objects", "user", "softmax", as_objects)
    case = Case(np.array([[1.0, 2.0, 3.0], [0.5, 0.25, -1.0]], np.float32), -1, "ordinary")
    f = accuracy(impl, case)
    assert f.verdict == "wrong-dtype", f
    assert "object" in f.message


# 2 ------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["report-folder", "report-no-parent", "json-folder", "json-no-parent"])
def test_output_paths_are_checked_before_any_work(which, tmp_path):
    opt, path = {"report-folder": ("--report", tmp_path), "report-no-parent": ("--report", tmp_path / "no/r.html"),
                 "json-folder": ("--json", tmp_path), "json-no-parent": ("--json", tmp_path / "no/r.jsonl")}[which]
    r = cli("check", f"{FIX}:stable_softmax", "--dtypes", "float32", "--max-examples", "2", opt, str(path))
    err = one_line_usage_error(r)
    assert opt in err, err
    assert r.stdout == "", r.stdout  # not even the "checking ..." line: nothing ran
    assert list(tmp_path.iterdir()) == []  # no .tmp (or other) file left behind


# 3 ------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_check_ends_its_child_too(sig, tmp_path):
    mark = tmp_path / "child.pid"
    (tmp_path / "k.py").write_text(
        "import os, time\n"
        "def softmax(x, axis=-1):\n"
        f"    open({str(mark)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(3600)\n")
    p = subprocess.Popen([sys.executable, "-c", TRAMPOLINE, "check", f"{tmp_path / 'k.py'}:softmax",
                          "--timeout", "600", "--json", str(tmp_path / "r.jsonl")],
                         cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    child = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and p.poll() is None and not (mark.exists() and mark.read_text()):
            time.sleep(0.1)
        assert p.poll() is None and mark.exists(), p.communicate()
        child = int(mark.read_text())
        os.kill(p.pid, sig)  # the parent alone, as `kill` or a job scheduler would
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 128 + sig, (p.returncode, stdout, stderr)
        assert "Traceback" not in stderr, stderr
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(child):
            time.sleep(0.1)
        assert not _alive(child), f"the child {child} outlived check"
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)


# 4 ------------------------------------------------------------------------


def test_a_closed_stdout_ends_the_run_quietly_and_keeps_the_results(tmp_path):
    out = tmp_path / "r.jsonl"
    p = subprocess.Popen([sys.executable, "-m", "harness.cli", "check", f"{FIX}:stable_softmax", "--max-examples",
                          "3", "--json", str(out)], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()  # as `| head -1`
    p.stdout.close()
    stderr = p.stderr.read()
    p.stderr.close()
    p.wait(timeout=300)
    assert first.startswith("checking "), first
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert p.returncode == 128 + signal.SIGPIPE, (p.returncode, stderr)
    got = rows(out)  # complete, parseable lines: what was computed before the reader left
    assert got and all(r["schema"] == 1 for r in got)
    assert len(got) < 60  # the run ended rather than carrying on unseen


# 5 ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [",", " , ", ""])
def test_an_empty_dtype_list_is_a_usage_error_in_check(value):
    err = one_line_usage_error(cli("check", f"{FIX}:stable_softmax", "--dtypes", value))
    assert "--dtypes" in err and "empty" in err, err


def test_an_empty_dtype_list_is_a_usage_error_in_run(tmp_path):
    # -n xyz is a later usage error: without the check, run stops there, not in a full job.
    r = cli("run", "--dtypes", ",", "-n", "xyz", "--no-variants", "--out", str(tmp_path / "out"))
    err = one_line_usage_error(r, "softmax-harness run: error: ")
    assert "--dtypes" in err and "empty" in err and "-n " not in err, err


def test_an_empty_dtype_list_is_a_usage_error_in_the_plugin(tmp_path):
    line = plugin_usage_error(plugin(tmp_path, "--harness-dtypes", ","))
    assert "--harness-dtypes" in line and "empty" in line, line


TARGET = f"{FIX}:stable_softmax"


@pytest.mark.parametrize(("argv", "names"), [
    (["check", TARGET, "--dtypes", "float16,float8"], ["--dtypes", "'float8'", "bfloat16"]),
    (["run", "--dtypes", "float32,f64"], ["--dtypes", "'f64'", "float64"]),
    (["vectors", "--out", "v", "--dtypes", "bf16"], ["--dtypes", "'bf16'"]),
    (["vectors", "--out", "v", "--functions", "softmax,softmax_vjp"], ["--functions", "'softmax_vjp'", "extra"]),
    (["list", "--functions", "softmax,softmin"], ["--functions", "'softmin'", "log_softmax"]),
    (["list", "--families", ","], ["--families", "empty"]),
    (["check", TARGET, "--function", "softmin"], ["--function", "'softmin'", "log_softmax"]),
    (["check", TARGET, "--profile", "fast"], ["--budget", "'fast'", "dev, ci, thorough"]),  # the old name
    (["run", "--budget", "fast"], ["--budget", "'fast'", "thorough"]),
    (["check", TARGET, "--conventions", "zeros"], ["--conventions", "'zeros'", "masked"]),
    (["check", TARGET, "--max-examples", "1.5"], ["--max-examples", "'1.5'"]),
    (["check", TARGET, "--timeout", "-2"], ["--timeout", "-2"]),
    (["run", "-n", "two"], ["-n", "'two'", "auto"]),
    (["run", "--test-timeout", "nan"], ["--test-timeout", "nan"]),
    (["run", "--shard", "4/3"], ["--shard", "'4/3'", "1 <= K <= N"]),
    (["run", "--shard", "2"], ["--shard", "'2'", "K/N"]),
    (["vectors", "--out", "v", "--per-regime", "0"], ["--per-regime", "0"]),
    (["report", "r", "--max-failures", "-1"], ["--max-failures", "-1"]),
    (["drift", "r", "--xfails-file", "no-such.toml"], ["--xfails-file", "no-such.toml", "does not exist"]),
])
def test_a_bad_option_value_is_one_line_naming_it_before_any_work(argv, names, capsys, tmp_path, monkeypatch):
    from harness.cli import main

    monkeypatch.chdir(tmp_path)  # relative paths (vectors --out v) would land here, were anything written
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"softmax-harness {argv[0]}: error: argument ") and err.count("\n") == 1, err
    assert all(n in err for n in names), err
    assert list(tmp_path.iterdir()) == []


# 6, 7 ---------------------------------------------------------------------


def test_an_unknown_function_is_one_line_naming_the_valid_ones(tmp_path):
    line = plugin_usage_error(plugin(tmp_path, "--harness-functions", "softmax,softmin"))
    assert "'softmin'" in line and "log_softmax" in line and "logsumexp" in line, line


@pytest.mark.parametrize("value", ["-5", "nan"])
def test_a_negative_test_timeout_is_rejected(value, tmp_path):
    line = plugin_usage_error(plugin(tmp_path, "--harness-test-timeout", value))
    assert "--harness-test-timeout" in line and value in line, line


# 8 ------------------------------------------------------------------------


def test_an_unknown_verdict_in_a_results_file_names_file_line_and_verdict(tmp_path):
    from harness.records import Result
    from reports.load import LoadError, load_dir

    good = Result("x", "user", "softmax", "accuracy", "float32", "ordinary", "exact").to_json()
    lines = [json.dumps(good), json.dumps({**good, "verdict": "greatt"})]
    (tmp_path / "w.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(LoadError) as e:
        load_dir(tmp_path)
    assert "w.jsonl:2" in str(e.value) and "'greatt'" in str(e.value), str(e.value)


# 9 ------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "words"), [
    (b"\xff\xfe[[known]]\nimpl = 'numpy.*'\n", "not UTF-8"),
    (None, "is a folder"),
    (b"[[known]]\nimpl = 'numpy.*'\nverdict = 'crsh'\n", "'crsh'"),
    (b"[[known]]\nimpl = ['numpy.*']\n", "'impl' must be a string"),
    (b"[[known]]\nimpl = 'numpy.*'\nreason = 5\n", "'reason' must be a string"),
    (b"[[known]]\nimpl = 'numpy.*'\nwhen = { scipy = 1 }\n", "scipy"),
    (b"[known]\nimpl = 'numpy.*'\n", "[[known]]"),
    (b"known = 'numpy.*'\n", "[[known]]"),
])
def test_a_bad_baseline_is_a_one_line_usage_error(content, words, tmp_path):
    from harness.baseline import load
    from harness.errors import UsageError

    p = tmp_path / "b.toml"
    if content is None:
        p.mkdir()
    else:
        p.write_bytes(content)
    with pytest.raises(UsageError) as e:
        load(p)
    msg = str(e.value)
    assert words in msg and str(p) in msg and "\n" not in msg, msg


def test_a_baseline_glob_matching_no_implementation_is_a_warning(tmp_path):
    from harness.baseline import BaselineWarning, load

    p = tmp_path / "b.toml"
    p.write_text("[[known]]\nimpl = 'numpy.sofmax*'\nreason = 'typo'\n"
                 "[[known]]\nimpl = 'tf.nn.softmax[onednn=off]'\n"  # another mode of a registered id
                 "[[known]]\nimpl = 'cupy.*'\n")  # registered, unavailable here
    with pytest.warns(BaselineWarning) as got:
        b = load(p)
    assert len(b.entries) == 3  # still loaded: a warning, not a failure
    assert [str(w.message) for w in got] == [
        f"xfails file {p}: entry 1 (impl 'numpy.sofmax*') matches no registered implementation "
        f"(see `softmax-harness list`)"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checked-in baseline loads without a warning
        checked_in = ROOT / "baseline.toml"
        assert len(load(checked_in).entries) == checked_in.read_text().count("[[known]]") > 0


# 10 -----------------------------------------------------------------------


def test_a_json_file_another_check_is_writing_is_refused(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"earlier": "line"}\n')
    with open(out, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running `check --json` holds it
        r = cli("check", f"{FIX}:stable_softmax", "--dtypes", "float32", "--max-examples", "2", "--json", str(out))
    err = one_line_usage_error(r)
    assert str(out) in err and "another process" in err, err
    assert out.read_text() == '{"earlier": "line"}\n'  # not truncated under the other writer


# 11 -----------------------------------------------------------------------


def test_the_timeout_clock_starts_at_the_first_call_not_at_a_slow_start(tmp_path):
    # Importing the target takes longer than --timeout (in the parent and again in the child):
    # that is startup, not a hung call.
    (tmp_path / "slow.py").write_text(
        "import time\nimport numpy as np\ntime.sleep(4)\n"
        "def softmax(x, axis=-1):\n"
        "    w = x.astype(np.float64)\n"
        "    e = np.exp(w - np.max(w, axis=axis, keepdims=True, initial=-np.inf))\n"
        "    return (e / np.sum(e, axis=axis, keepdims=True)).astype(x.dtype)\n")
    out = tmp_path / "r.jsonl"
    r = cli("check", f"{tmp_path / 'slow.py'}:softmax", "--dtypes", "float64", "--max-examples", "2",
            "--timeout", "2", "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "timeout" not in {row["verdict"] for row in rows(out)}


# A new user's trial: more bad input --------------------------------------


def test_output_paths_that_are_folders_are_usage_errors(tmp_path):
    (tmp_path / "res" / "main").mkdir(parents=True)
    folder = tmp_path / "adir"
    folder.mkdir()
    r = cli("baseline", str(tmp_path / "res"), "--update", "--file", str(folder))
    assert "--file" in one_line_usage_error(r, "softmax-harness baseline: error: ")
    assert cli("check", f"{FIX}:stable_softmax", "--dtypes", "float32", "--max-examples", "1",
               "--json", str(tmp_path / "c.jsonl")).returncode == 0
    r = cli("baseline", str(tmp_path / "c.jsonl"))  # a file, not a results folder
    one_line_usage_error(r, "softmax-harness baseline: error: ")


def test_a_misnamed_baseline_table_is_a_usage_error_before_run_starts(tmp_path):
    bad = tmp_path / "b.toml"
    for table in ("[[xfail]]", "[[knwon]]"):
        bad.write_text(f'{table}\nimpl = "numpy.*"\n')
        r = cli("run", "--xfails-file", str(bad), "--out", str(tmp_path / "out"))
        err = one_line_usage_error(r, "softmax-harness run: error: ")
        assert table.strip("[]") in err and "[[known]]" in err, err
        assert not (tmp_path / "out").exists()  # nothing started
    bad.write_text("[[known]\n")
    assert "not valid TOML" in one_line_usage_error(cli("run", "--xfails-file", str(bad)),
                                                     "softmax-harness run: error: ")


@pytest.mark.parametrize(("args", "needle"), [(["--harness-impls", "nosuch*"], "no implementation matches 'nosuch*'"),
                                              (["--harness-results", "afile"],
                                               "--harness-results afile exists and is not a folder")])
def test_plugin_selection_and_results_errors_are_one_line(tmp_path, args, needle):
    (tmp_path / "afile").write_text("")
    r = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "harness.suite", "-q", "-p", "no:cacheprovider",
                        *args], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 4 and needle in r.stderr, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stdout + r.stderr and "INTERNALERROR" not in r.stdout + r.stderr


def test_pytest_from_a_folder_holding_an_oracles_folder_runs(tmp_path):
    # `python -m pytest` puts the folder on sys.path; an oracles/ there shadowed ours (INTERNALERROR).
    (tmp_path / "oracles").mkdir()
    (tmp_path / "reports" / "out").mkdir(parents=True)
    r = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "harness.suite", "-q", "-p", "no:cacheprovider",
                        "--harness-impls", "numpy.stable_softmax", "--harness-dtypes", "float32",
                        "--harness-functions", "softmax", "--harness-results", "res", "-n", "0"], cwd=tmp_path, env=ENV,
                       capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and "INTERNALERROR" not in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


def test_cli_warnings_are_one_line(tmp_path):
    b = tmp_path / "b.toml"
    b.write_text('[[known]]\nimpl = "nosuch.impl"\nreason = "typo"\n')
    (tmp_path / "res" / "main").mkdir(parents=True)
    env = {k: v for k, v in ENV.items() if k != "PYTHONWARNINGS"}
    r = subprocess.run([sys.executable, "-m", "harness.cli", "baseline", str(tmp_path / "res"), "--file", str(b)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in r.stderr.splitlines() if "nosuch.impl" in ln]
    assert len(lines) == 1 and lines[0].startswith("softmax-harness: warning: "), r.stderr
    assert "warnings.warn" not in r.stderr and "BaselineWarning" not in r.stderr, r.stderr

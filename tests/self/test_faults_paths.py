"""Commands work from any folder and any install (issue 12).

Every path a user gives (run's --out and --xfails-file, file targets in
SOFTMAX_HARNESS_IMPLS, check's --json/--report, report/merge inputs and -o,
the plugin's --harness-results and --harness-xfails-file) is read against the folder the
command was started in, and the product suite ships inside the package
(``harness.suite``), so none of it depends on the repository checkout."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXDIR = ROOT / "tests" / "self" / "fixtures"
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
for _k in ("PYTHONPATH", "SOFTMAX_HARNESS_IMPLS", "SOFTMAX_HARNESS_BUDGET", "SOFTMAX_HARNESS_PROFILE"):
    ENV.pop(_k, None)
CRASH = "risky.segfaults[mode=segv]"
NAIVE = "risky.naive[shift=none]"
SUITE = "harness.suite.test_properties::"  # one test per property in the shipped suite


def cli(*args: str, cwd: Path, env: dict | None = None, python: str = sys.executable,
        timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "harness.cli", *args], cwd=cwd, env=env or ENV, capture_output=True,
                          text=True, timeout=timeout)


def rows(folder: Path) -> list[dict]:
    """Every Result under a results folder, whatever its run-folder layout."""
    return [json.loads(line) for f in sorted(folder.rglob("*.jsonl")) for line in f.read_text().splitlines()]


def _user_folder(base: Path) -> Path:
    """A user's folder away from the checkout: a baseline and an unpackaged
    implementation file (crashing, naive and correct softmaxes) in a subfolder."""
    user = base / "user"
    (user / "mine").mkdir(parents=True)
    for name in ("risky_impls.py", "user_kernels.py"):
        shutil.copy(FIXDIR / name, user / "mine" / name)
    (user / "known.toml").write_text(f'[[known]]\nimpl = "{NAIVE}"\nproperty = "*"\n'
                                     'reason = "no max subtraction"\n')
    return user


@pytest.fixture(scope="module")
def relative_run(tmp_path_factory):
    """`run` started in a user's folder with relative --out, --xfails-file and
    SOFTMAX_HARNESS_IMPLS (it used to run pytest from the checkout and fail
    with a FileNotFoundError traceback)."""
    user = _user_folder(tmp_path_factory.mktemp("paths"))
    env = {**ENV, "SOFTMAX_HARNESS_IMPLS": "mine/risky_impls.py:impls"}
    r = cli("run", "--impls", "risky.naive*,risky.stable*", "--functions", "softmax", "--dtypes", "float64",
            "--no-variants", "-n", "1", "--profile", "dev", "--out", "out",
            "--xfails-file", "known.toml", cwd=user, env=env)
    return user, r


def test_run_reads_relative_paths_against_the_users_folder(relative_run):
    user, r = relative_run
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert (user / "out" / "index.html").stat().st_size > 0
    got = rows(user / "out" / "results" / "main")
    assert {row["impl"] for row in got} == {NAIVE, "risky.stable[shift=max]"}  # the relative impl file loaded
    naive_failures = [row for row in got if row["impl"] == NAIVE and row["verdict"] not in ("exact", "faithful",
                                                                                           "good", "bounded")]
    assert naive_failures and all(row["known"] == "no max subtraction" for row in naive_failures)  # baseline read
    assert not (ROOT / "out").exists() and not (ROOT / "mine").exists()


def test_crash_reproducer_runs_from_another_folder(tmp_path):
    """A crash's reproducer names the test by absolute path (the suite lives
    in the installed package) and the registration by absolute file."""
    user = _user_folder(tmp_path)
    env = {**ENV, "SOFTMAX_HARNESS_IMPLS": "mine/risky_impls.py:impls"}
    r = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", SUITE + "test_accuracy", "-q", "-n", "1",
                        "-p", "no:cacheprovider", "--harness-impls", "risky.segfaults*", "--harness-budget", "dev",
                        "--harness-results", "res", "--harness-env-id", "e"], cwd=user, env=env, capture_output=True,
                       text=True, timeout=240)
    assert r.returncode == 1 and "1 failed" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]
    (crash,) = rows(user / "res" / "e")
    assert crash["impl"] == CRASH and crash["verdict"] == "crash", crash
    repro = crash["reproducer"]
    words = shlex.split(repro)
    pytest_at = words.index("pytest")
    target = words[pytest_at + 1]
    assert os.path.isabs(target.partition("::")[0]) and target.partition("::")[0].endswith("test_properties.py")
    assert "harness" in Path(target.partition("::")[0]).parts  # the suite ships in the package
    impls_env = next(w for w in words if w.startswith("SOFTMAX_HARNESS_IMPLS="))
    assert os.path.isabs(impls_env.split("=", 1)[1])  # the registration works from anywhere too
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{ENV.get('PATH', '')}"}
    again = subprocess.run(repro, shell=True, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 1 and "1 failed" in again.stdout, again.stdout[-3000:] + again.stderr[-2000:]


def test_report_and_merge_read_relative_paths(relative_run):
    user, r = relative_run
    assert r.returncode == 0, r.stdout[-3000:]
    m = cli("merge", "out/results", "-o", "merged", cwd=user)
    assert m.returncode == 0, m.stdout + m.stderr
    assert {row["impl"] for row in rows(user / "merged")} == {NAIVE, "risky.stable[shift=max]"}
    sources = [s for f in (user / "merged").rglob("env.json") for s in json.loads(f.read_text())["merged_from"]]
    assert sources and all(Path(s).is_absolute() and Path(s).is_dir() for s in sources), sources  # provenance
    rep = cli("report", "merged", "-o", "r.html", cwd=user)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert NAIVE in (user / "r.html").read_text()


def test_run_out_that_is_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    r = cli("run", "--out", "taken", "--impls", "numpy.stable_softmax", "--no-variants", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr == "softmax-harness run: error: --out taken exists and is not a folder\n"
    assert r.stdout == "" and (tmp_path / "taken").read_text() == "not a folder"


def test_check_writes_relative_outputs_in_the_users_folder(tmp_path):
    shutil.copy(FIXDIR / "user_kernels.py", tmp_path / "k.py")
    r = cli("check", "k.py:stable_softmax", "--dtypes", "float64", "--max-examples", "3", "--json", "o.jsonl",
            "--report", "o.html", cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (tmp_path / "o.jsonl").read_text().count("\n") >= 8 and (tmp_path / "o.html").stat().st_size > 0


def test_plugin_runs_the_packaged_suite_with_relative_paths(tmp_path):
    """The README's pytest command: `pytest --pyargs harness.suite` from any
    folder, --harness-results and --harness-xfails-file relative to it."""
    shutil.copy(ROOT / "baseline.toml", tmp_path / "known.toml")
    r = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", SUITE + "test_contract", "-p",
                        "no:cacheprovider", "-q", "-n", "0", "--harness-impls", "numpy.stable_softmax",
                        "--harness-dtypes", "float64", "--harness-results", "res", "--harness-env-id", "e",
                        "--harness-xfails-file", "known.toml"],
                       cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "1 passed" in r.stdout
    assert {row["impl"] for row in rows(tmp_path / "res" / "e")} == {"numpy.stable_softmax"}


def test_plugin_results_stay_where_the_session_started(tmp_path):
    """An implementation that changes the working directory mid-session (some
    libraries do) does not move where results go: --harness-results is read once,
    against the folder pytest started in."""
    (tmp_path / "away").mkdir()
    (tmp_path / "wanders.py").write_text(
        "import os\nimport numpy as np\nfrom harness.records import Impl\n\n"
        "def _fn(c):\n"
        f"    os.chdir({str(tmp_path / 'away')!r})\n"
        "    e = np.exp(c.logits - c.logits.max(axis=c.axis, keepdims=True))\n"
        "    return e / e.sum(axis=c.axis, keepdims=True)\n\n"
        "def impls():\n"
        "    return [Impl('user.wanders', fn=_fn, family='user', function='softmax', dtypes=('float64',))]\n")
    env = {**ENV, "SOFTMAX_HARNESS_IMPLS": "wanders.py:impls"}
    r = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", SUITE + "test_contract", "-p",
                        "no:cacheprovider", "-q", "-n", "0", "--harness-impls", "user.wanders", "--harness-results",
                        "res", "--harness-env-id", "e"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert not (tmp_path / "away" / "res").exists()
    assert {row["impl"] for row in rows(tmp_path / "res" / "e")} == {"user.wanders"}


def test_run_finds_the_suite_in_the_package():
    from importlib.resources import files

    from harness.commands.run import suite_dir

    packaged = Path(str(files("harness.suite")))
    assert suite_dir() == packaged
    assert {p.name for p in packaged.glob("test_*.py")} == {"test_properties.py"}  # generated from the registry
    assert not (ROOT / "tests" / "conformance").exists()  # one copy of the suite, the shipped one


def test_env_prefix_gives_absolute_file_targets(tmp_path, monkeypatch):
    from harness.registry import EXTRA_ENV, absolute_targets, env_prefix

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(EXTRA_ENV, "mine/k.py:impls, pkg.mod:impls")
    want = f"{tmp_path / 'mine' / 'k.py'}:impls,pkg.mod:impls"
    assert absolute_targets(os.environ[EXTRA_ENV]) == want
    assert env_prefix() == f"{EXTRA_ENV}={shlex.quote(want)} "


def test_plain_pytest_in_the_repo_collects_only_the_self_tests():
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert cfg["testpaths"] == ["tests/self"]
    # and nothing under tests/ but the self-tests would be found by a bare `pytest tests`
    assert sorted(p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name != "__pycache__") == ["self"]


def _non_editable_venv(base: Path) -> Path:
    """A venv holding a wheel of this tree (not an editable install), built
    offline; its other packages (numpy, pytest, xdist...) come from the
    running environment through a .pth file placed after its own site-packages."""
    src = base / "src"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():  # a file deleted but not yet committed is listed too
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    wheels = base / "wheels"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(src)],
                   check=True, capture_output=True, timeout=300)
    venv = base / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    import sysconfig

    Path(site, "zz_running_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([*pip, "--python", str(py), "install", "--no-deps", "--no-index", *map(str, wheels.glob("*.whl"))],
                   check=True, capture_output=True, timeout=300)
    return venv


@pytest.mark.slow
def test_non_editable_install_works_from_an_empty_folder(tmp_path):
    """`pip install .` (a wheel, not the checkout) started in an empty folder:
    run, check, report and merge all work and write there (about 40 s)."""
    venv = _non_editable_venv(tmp_path)
    py = str(venv / "bin" / "python")
    empty = tmp_path / "empty"
    empty.mkdir()
    where = subprocess.run([py, "-c", "import harness.suite, harness.plugin; print(harness.suite.__file__); "
                                      "print(harness.plugin.__file__)"],
                           cwd=empty, env=ENV, capture_output=True, text=True, check=True).stdout.split()
    assert all(w.startswith(str(venv)) for w in where), where  # the installed copy, not the checkout
    run = subprocess.run([str(venv / "bin" / "softmax-harness"), "run", "--impls", "numpy.stable_softmax",
                          "--functions", "softmax", "--dtypes", "float64", "--no-variants", "-n", "1", "--profile",
                          "dev"], cwd=empty, env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (empty / "reports" / "out" / "index.html").stat().st_size > 0
    assert {row["impl"] for row in rows(empty / "reports" / "out" / "results")} == {"numpy.stable_softmax"}
    shutil.copy(FIXDIR / "user_kernels.py", empty / "k.py")
    check = cli("check", "k.py:stable_softmax", "--dtypes", "float64", "--max-examples", "3", "--json", "c.jsonl",
                cwd=empty, python=py)
    assert check.returncode == 0 and (empty / "c.jsonl").is_file(), check.stdout[-2000:] + check.stderr[-2000:]
    merge = cli("merge", "reports/out/results", "-o", "merged", cwd=empty, python=py)
    assert merge.returncode == 0, merge.stdout + merge.stderr
    report = cli("report", "merged", "-o", "m.html", cwd=empty, python=py)
    assert report.returncode == 0 and "numpy.stable_softmax" in (empty / "m.html").read_text(), report.stderr


def test_folders_named_like_our_packages_in_the_users_folder_shadow_nothing(tmp_path):
    """An ``oracles/`` or ``reports/out`` folder where the user works (an earlier
    run makes the latter) became a namespace package that shadowed ours under
    an editable install: check crashed the correct target in its child and
    could not find the report's templates; run's pytest could not import."""
    user = tmp_path / "user"
    (user / "oracles").mkdir(parents=True)
    (user / "reports" / "out").mkdir(parents=True)
    shutil.copy(FIXDIR / "user_kernels.py", user / "k.py")
    script = str(Path(sys.executable).parent / "softmax-harness")  # as a user runs it: no cwd on sys.path
    r = subprocess.run([script, "check", "k.py:stable_softmax", "--dtypes", "float32", "--max-examples", "2",
                        "--report", "r.html"], cwd=user, env=ENV, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in r.stdout + r.stderr and "crash" not in r.stdout, r.stdout + r.stderr
    assert (user / "r.html").is_file() and "verdict: CONFORMANT" in r.stdout, r.stdout
    r = subprocess.run([script, "run", "--impls", "numpy.stable_softmax", "--functions", "softmax", "--dtypes",
                        "float32", "--profile", "dev", "--no-variants", "-n", "1", "--out", "out"],
                       cwd=user, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (user / "out" / "index.html").is_file() and rows(user / "out" / "results")

"""Nothing lost, ever (issue 12): crash storms and results on disk.

- However often implementations crash or hang, every healthy implementation's
  tests run and are on disk; an implementation is quarantined after a few
  crashes (its other tests are recorded as ``crash``, not run); the run record
  says ``finished`` only when every collected conformance test reported, and
  otherwise why not; ``run`` exits 3 on an incomplete run and says why.
- Results are append-only: each session writes its own run folder
  (``<results>/<env-id>/runs/<run-id>/``); a second or concurrent session, or
  ``--collect-only``, never deletes what another wrote; readers take the newest
  complete run per env, or every run with ``--all-runs``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness.cli import main
from harness.results_store import QUARANTINE_AFTER
from reports.load import load

ROOT = Path(__file__).resolve().parents[2]
STORM = "tests/self/fixtures/storm_impls.py:impls"
HEALTHY = "tests/self/fixtures/storm_impls.py:healthy"
SUITE = ROOT / "harness" / "suite" / "test_properties.py"  # one test per registered property
MODULES = ["accuracy", "contract", "sum_to_one", "stability", "shift_invariance", "permutation"]
OK = [f"storm.ok{i}[stable]" for i in range(1, 4)]


def _env(**extra: str) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def _pytest_cmd(res: Path, *args: str, modules=MODULES) -> list[str]:
    return [sys.executable, "-m", "pytest", *(f"{SUITE}::test_{m}" for m in modules), "-p", "no:cacheprovider", "-q",
            "--harness-budget", "dev", "--harness-results", str(res), "--harness-env-id", "t", *args]


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.read_text().splitlines()]


def _runs(res: Path, env: str = "t") -> list[Path]:
    return sorted(p for p in (res / env / "runs").iterdir() if p.is_dir()) if (res / env / "runs").is_dir() else []


def test_crash_storm_every_healthy_result_stands_and_crashers_are_quarantined(tmp_path):
    res = tmp_path / "res"
    from harness.commands.run import DIST

    # run's distribution mode: loadgroup's scheduler never finished this session
    cmd = _pytest_cmd(res, "-n", "2", "--dist", DIST, "--harness-test-timeout", "5", "--harness-impls", "storm.*")
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=_env(SOFTMAX_HARNESS_IMPLS=STORM),
                       timeout=300)
    out = r.stdout[-4000:] + r.stderr[-2000:]
    assert r.returncode == 1, out
    rows = [json.loads(line) for f in sorted(res.rglob("*.jsonl")) for line in f.read_text().splitlines()]
    done = {(x["impl"], x["property"], x["dtype"]) for x in rows}
    props = {x["property"] for x in rows if x["impl"] == OK[0]}
    assert len(props) == len(MODULES), (props, out)
    for impl in OK:  # every healthy test ran and is on disk
        assert {(impl, p, d) for p in props for d in ("float32", "float64")} <= done, (impl, out)
    for impl, dtypes in (("storm.segv[third-call]", 2), ("storm.hangs[sleep]", 1)):
        mine = [x for x in rows if x["impl"] == impl]
        assert len(mine) == len(MODULES) * dtypes, (impl, [(x["property"], x["verdict"]) for x in mine])
        ran = [x for x in mine if "quarantined" not in x["message"]]
        skipped = [x for x in mine if "quarantined" in x["message"]]
        # Two workers can each be inside one of its tests when the K-th crash lands.
        assert QUARANTINE_AFTER <= len(ran) <= QUARANTINE_AFTER + 1, [x["message"] for x in ran]
        assert all(x["verdict"] in ("crash", "timeout") for x in ran), ran
        assert skipped and all(x["verdict"] == "crash" and "not run" in x["message"]
                               and f"after {QUARANTINE_AFTER} crashes" in x["message"] for x in skipped), skipped
    assert "maximum crashed workers" not in r.stdout, out
    (run,) = _runs(res)
    rec = json.loads((run / "env.json").read_text())
    assert rec["collected"] == rec["reported"] == len(MODULES) * 9, rec
    assert rec.get("finished") and not rec.get("incomplete"), rec
    assert set(rec["quarantined"]) == {"storm.segv[third-call]", "storm.hangs[sleep]"}, rec
    assert "QUARANTINED: storm.segv[third-call]" in r.stdout, out


def test_an_incomplete_run_is_recorded_reported_and_run_exits_3(tmp_path):
    """xdist stopping early (here the user's --max-worker-restart 0, which the
    plugin leaves alone) leaves tests unreported: the run record, `report` and
    `run` all say so, and `run` exits 3."""
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--no-variants", "-n", "1", "--profile", "dev",
                        "--impls", "storm.segv*,storm.ok1*", "--dtypes", "float64", "--functions", "softmax",
                        "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=_env(SOFTMAX_HARNESS_IMPLS=STORM, PYTEST_ADDOPTS="--max-worker-restart 0"))
    text = r.stdout[-4000:] + r.stderr[-2000:]
    assert r.returncode == 3, text
    (run,) = _runs(out / "results", "main")
    rec = json.loads((run / "env.json").read_text())
    assert "finished" not in rec and rec["reported"] < rec["collected"], rec
    assert f"{rec['reported']} of {rec['collected']}" in rec["incomplete"], rec
    assert f"[run] incomplete: main: {rec['incomplete']}" in r.stdout, text
    html = (out / "index.html").read_text()
    assert "Partial results" in html and rec["incomplete"] in html
    # `report` on the results folder flags it too (the newest run, since none is complete).
    assert main(["report", str(out / "results"), "-o", str(tmp_path / "r.html")]) == 0
    assert "Partial results" in (tmp_path / "r.html").read_text()


def test_incomplete_without_xdist_and_collect_only_writes_nothing(tmp_path):
    res = tmp_path / "res"
    cmd = _pytest_cmd(res, "-n", "0", "-x", "--harness-impls", "risky.naive*,risky.stable*",
                      modules=["accuracy", "contract"])
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=200,
                       env=_env(SOFTMAX_HARNESS_IMPLS="tests/self/fixtures/risky_impls.py:impls"))
    assert r.returncode == 1, r.stdout[-3000:]
    (run,) = _runs(res)
    rec = json.loads((run / "env.json").read_text())
    assert "finished" not in rec and rec["reported"] < rec["collected"] == 4, rec
    assert "stopping after 1 failures" in rec["incomplete"], rec
    assert "INCOMPLETE" in r.stdout
    before = sorted((str(p), p.stat().st_size) for p in res.rglob("*"))
    r = subprocess.run(_pytest_cmd(res, "--collect-only"), cwd=ROOT, capture_output=True, text=True, timeout=200,
                       env=_env())
    assert r.returncode == 0, r.stdout[-2000:]
    assert sorted((str(p), p.stat().st_size) for p in res.rglob("*")) == before


def test_a_second_session_keeps_the_first_sessions_results(tmp_path):
    res = tmp_path / "res"
    cmd = _pytest_cmd(res, "-n", "0", "--harness-impls", "numpy.stable_softmax", "--harness-dtypes", "float64",
                      modules=["contract", "sum_to_one"])
    for _ in range(2):
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=200, env=_env())
        assert r.returncode == 0, r.stdout[-2000:]
    first, second = _runs(res)
    assert len(_rows(first)) == len(_rows(second)) == 2
    newest = load(res)
    assert [len(s.results) for s in newest] == [2] and newest[0].dir == second
    every = load(res, all_runs=True)
    assert sorted(s.dir for s in every) == [first, second] and len({s.label for s in every}) == 2
    assert main(["report", str(res), "--all-runs", "-o", str(tmp_path / "all.html")]) == 0


def test_two_concurrent_sessions_keep_all_their_results(tmp_path):
    res = tmp_path / "res"
    cmd = _pytest_cmd(res, "-n", "0", "--harness-impls", "storm.*", "--harness-dtypes", "float32,float64",
                      modules=MODULES[:3])
    env = _env(SOFTMAX_HARNESS_IMPLS=HEALTHY)
    a = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120  # start the second once the first has results on disk: they overlap
    while not any(res.rglob("*.jsonl")) and time.time() < deadline and a.poll() is None:
        time.sleep(0.05)
    b = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outs = [p.communicate(timeout=240)[0] for p in (a, b)]
    assert a.returncode == b.returncode == 0, outs
    runs = _runs(res)
    assert len(runs) == 2, runs
    for run in runs:  # 3 modules x 3 implementations x 2 dtypes each
        rows = _rows(run)
        assert len(rows) == 18 and {x["impl"] for x in rows} == set(OK), (run, len(rows))
        assert json.loads((run / "env.json").read_text())["reported"] == 18


def _fake_run(env_dir: Path, run_id: str, started: float, n: int, end: dict) -> Path:
    from harness.records import Result

    d = env_dir / "runs" / run_id
    d.mkdir(parents=True)
    (d / "env.json").write_text(json.dumps({"env_id": env_dir.name, "run_id": run_id, "started": started,
                                            "hostname": "h", **end}))
    (d / "impls.json").write_text("[]")
    rows = [Result(f"x.impl{i}", "x", "softmax", "accuracy", "float64", "-", "exact", env={"env_id": env_dir.name})
            for i in range(n)]
    (d / "main-1.jsonl").write_text("".join(r.dumps() + "\n" for r in rows))
    return d


def test_readers_take_the_newest_complete_run_or_all_runs(tmp_path, capsys):
    from harness.commands.baseline import read_results

    env = tmp_path / "res" / "e"
    old = _fake_run(env, "20260101T000000Z-aaaa", 100.0, 2, {"finished": 150.0})
    _fake_run(env, "20260102T000000Z-bbbb", 200.0, 1, {"incomplete": "1 of 5 conformance tests reported"})
    _fake_run(env, "20260103T000000Z-cccc", 300.0, 1, {})  # still running, or its controller was killed
    (rs,) = load(tmp_path / "res")
    assert rs.dir == old and len(rs.results) == 2 and rs.finished
    notes = " ".join(rs.problems)
    assert "20260102T000000Z-bbbb" in notes and "1 of 5 conformance tests reported" in notes
    assert "20260103T000000Z-cccc" in notes
    assert len(load(env, all_runs=True)) == 3
    assert len(read_results([str(env)])) == 2 and len(read_results([str(env)], all_runs=True)) == 4
    assert main(["report", str(env), "-o", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "20260102T000000Z-bbbb" in html and "not shown" in html
    assert main(["merge", str(env), "--all-runs", "-o", str(tmp_path / "m")]) == 0
    assert len([p for p in (tmp_path / "m").iterdir() if p.is_dir()]) == 3
    assert main(["baseline", str(env), "--all-runs", "--file", str(tmp_path / "b.toml")]) == 0
    capsys.readouterr()


def test_result_lines_are_read_by_the_one_reader(tmp_path):
    """read_results (baseline, drift) and the plugin's summary read each line with Result.loads:
    a line that is not a result is a one-line usage error naming file:line there, and skipped by
    the summary (a writer killed mid-line), which shows the rest.  Each result carries its run
    folder's environment as a typed pair, not as a key added to the result."""
    import pytest

    from harness.commands.baseline import read_results
    from harness.errors import UsageError
    from harness.records import Result
    from harness.summary import read_run

    env = tmp_path / "res" / "e"
    run = _fake_run(env, "20260101T000000Z-aaaa", 100.0, 2,
                    {"finished": 150.0, "versions": {"scipy": "1.17.1"}, "cpu": ["avx2"]})
    observed = read_results([str(env)])
    assert [type(o.result) for o in observed] == [Result, Result]
    assert all(o.fingerprint == {"versions": {"scipy": "1.17.1"}, "cpu": ["avx2"]} for o in observed)
    good = (run / "main-1.jsonl").read_text()
    bad_verdict = Result("x.y", "x", "softmax", "accuracy", "float64", "-", "exact").dumps().replace("exact", "greatt")
    for tail, says in (('{"impl": "x.cut', "not valid JSON"), (bad_verdict, "'greatt'")):
        (run / "main-1.jsonl").write_text(good + tail + "\n")
        assert [r.impl for r in read_run(run)] == ["x.impl0", "x.impl1"]
        with pytest.raises(UsageError) as e:
            read_results([str(env)])
        assert str(e.value).startswith(f"{run / 'main-1.jsonl'}:3: ") and says in str(e.value), str(e.value)

"""tools/compare_results.py, the refactor's golden comparison, tells a changed
verdict from a changed duration."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "compare_results.py"


def _write(folder: Path, **change) -> Path:
    folder.mkdir(parents=True)
    row = {"impl": "a", "property": "accuracy", "dtype": "float32", "verdict": "exact", "max_ulp": 0.5,
           "env": {"env_id": "main", "worker": "gw0"}, "duration": 1.0, "time": 1.0, "stats": {}}
    (folder / "gw0.jsonl").write_text(json.dumps({**row, **change}) + "\n")
    return folder


def _compare(a: Path, b: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), str(a), str(b), *extra], capture_output=True, text=True)


def test_timing_and_worker_are_ignored(tmp_path):
    a = _write(tmp_path / "a")
    b = _write(tmp_path / "b", duration=9.0, call_seconds=4.0, time=2.0, env={"env_id": "main", "worker": "gw1"})
    r = _compare(a, b)
    assert r.returncode == 0 and "identical: 1 results" in r.stdout, r.stdout + r.stderr


def test_the_tool_ignores_exactly_the_results_timing_fields():
    from harness.records import Result

    spec = importlib.util.spec_from_file_location("compare_results", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.TIMING == Result.TIMING


def test_a_changed_verdict_or_ulp_is_a_difference(tmp_path):
    a = _write(tmp_path / "a")
    r = _compare(a, _write(tmp_path / "b", verdict="faithful", max_ulp=0.7))
    assert r.returncode == 1 and "verdict" in r.stdout and "max_ulp" in r.stdout, r.stdout
    assert _compare(a, _write(tmp_path / "c", max_ulp=0.7), "--ignore", "max_ulp").returncode == 0


def test_an_empty_golden_folder_is_an_error(tmp_path):
    (tmp_path / "a").mkdir()
    r = _compare(tmp_path / "a", _write(tmp_path / "b"))
    assert r.returncode == 2 and "no results" in r.stderr


def test_a_renamed_env_key_compares_only_when_named(tmp_path):
    a = _write(tmp_path / "a", env={"env_id": "main", "profile": "ci"})
    b = _write(tmp_path / "b", env={"env_id": "main", "budget": "ci"})
    assert _compare(a, b).returncode == 1  # a rename is a difference unless it is declared
    assert _compare(a, b, "--env-rename", "profile=budget").returncode == 0
    c = _write(tmp_path / "c", env={"env_id": "main", "budget": "dev"})
    assert _compare(a, c, "--env-rename", "profile=budget").returncode == 1  # the value still counts
    assert _compare(a, b, "--env-rename", "profile").returncode == 2

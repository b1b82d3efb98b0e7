"""``--shard K/N`` (issue 14 §6): N shards, merged, are the unsharded run,
verdict for verdict; a missing shard makes the merge incomplete, not equal;
every key lands in exactly one shard whatever N, order or hash seed; an empty
shard says so and passes; a bad value is one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.sharding import assign, parse
from reports.load import load

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "harness" / "suite" / "test_properties.py"
sys.path.insert(0, str(ROOT / "tools"))
import compare_results  # noqa: E402  (a script, not a package)

from harness.properties import PROPERTIES  # noqa: E402

# Two implementations, one conforming and one not, so verdicts differ across tests (one per softmax property).
IMPLS = "numpy.stable_softmax,seed.numpy_naive_softmax"
TESTS = 2 * sum(p.applies("softmax") for p in PROPERTIES.values())  # float32 only
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"}
for _k in ("SOFTMAX_HARNESS_IMPLS", "SOFTMAX_HARNESS_BUDGET", "SOFTMAX_HARNESS_PROFILE"):
    ENV.pop(_k, None)


def plugin(res: Path, *args: str) -> subprocess.CompletedProcess:
    """The plugin without xdist, from the checkout (cwd first on sys.path)."""
    cmd = [sys.executable, "-m", "pytest", str(SUITE), "-p", "no:cacheprovider", "-q", "-n", "0",
           "--harness-impls", IMPLS, "--harness-dtypes", "float32", "--harness-budget", "dev",
           "--harness-results", str(res), "--harness-env-id", "main", *args]
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)


def run_cli(out: Path, *args: str) -> subprocess.CompletedProcess:
    """`softmax-harness run` (pytest-xdist, one worker)."""
    cmd = [sys.executable, "-m", "harness.cli", "run", "--no-variants", "-n", "1", "--impls", IMPLS,
           "--dtypes", "float32", "--budget", "dev", "--out", str(out), *args]
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)


def merge(out: Path, *dirs: Path) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "harness.cli", "merge", *map(str, dirs), "-o", str(out)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def verdicts(folder: Path) -> dict[tuple, str]:
    """(impl, property, dtype, input class, case) -> verdict, of the run load() takes."""
    (rs,) = load(folder)
    out = {}
    for r in rs.results:
        key = (r.impl, r.property, r.dtype, str((r.stats or {}).get("input_class", "")), r.case_id)
        assert key not in out, key
        out[key] = r.verdict
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The unsharded run (plugin); N=2 into one results folder, one shard after
    the other on one machine, the first by `run --shard` (under xdist), the
    second by the plugin; N=3 by the plugin, each shard into a folder of its
    own (N CI jobs)."""
    base = tmp_path_factory.mktemp("shard")
    r = plugin(base / "full")
    assert r.returncode == 1 and " deselected" not in r.stdout, r.stdout[-3000:]  # the naive one fails
    r = run_cli(base / "two", "--shard", "1/2")
    assert r.returncode in (0, 1) and "[run] report: " in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]
    r = plugin(base / "two" / "results", "--harness-shard", "2/2")
    assert r.returncode in (0, 1), r.stdout[-3000:]
    out = {}
    for k in (1, 2, 3):
        r = plugin(base / f"three-{k}", "--harness-shard", f"{k}/3")
        assert r.returncode in (0, 1) and " deselected" in r.stdout, r.stdout[-3000:]
        assert f"shard {k}/3 (" in r.stdout, r.stdout[-3000:]
        out[k] = r
    return base


def _record(merged: Path) -> dict:
    return json.loads((merged / "main" / "env.json").read_text())


def test_merged_shards_equal_the_unsharded_run(runs):
    full = verdicts(runs / "full")
    assert len({k[:3] for k in full}) == TESTS and len(set(full.values())) > 2, full  # enough to tell runs apart
    golden = compare_results.load(runs / "full")
    for n, inputs in ((2, [runs / "two" / "results"]), (3, [runs / f"three-{k}" for k in (1, 2, 3)])):
        merged = runs / f"merged-{n}"
        r = merge(merged, *inputs)
        assert f"shards {', '.join(f'{k}/{n}' for k in range(1, n + 1))} of {n} merged as one run" in r.stdout
        rec = _record(merged)
        assert rec.get("finished") and "incomplete" not in rec and "shard" not in rec, rec
        assert rec["collected"] == rec["reported"] == TESTS and rec["shard_count"] == n, rec
        assert verdicts(merged) == full  # verdict for verdict
        assert compare_results.differences(golden, compare_results.load(merged), set()) == []  # and every field
        assert load(merged)[0].finished


def test_each_shard_alone_is_not_the_whole_run_and_the_shards_are_disjoint(runs):
    full = {k[:3] for k in verdicts(runs / "full")}
    seen: list[set] = []
    for k in (1, 2, 3):
        (rs,) = load(runs / f"three-{k}")
        assert rs.env["shard"] == f"{k}/3" and rs.env["finished"] and not rs.finished, rs.env
        assert any("not the whole run" in p for p in rs.problems), rs.problems
        seen.append({(r.impl, r.property, r.dtype) for r in rs.results})
        assert rs.env["collected"] == rs.env["shard_tests"] == len(seen[-1]) and rs.env["selection_tests"] == TESTS
    assert set().union(*seen) == full and sum(map(len, seen)) == len(full)  # each key in exactly one shard
    assert max(map(len, seen)) - min(map(len, seen)) <= 1


def test_a_missing_shard_makes_the_merge_incomplete_and_different(runs):
    merged = runs / "merged-without-2"
    r = merge(merged, runs / "three-1", runs / "three-3")
    rec = _record(merged)
    assert rec["incomplete"] == "shard 2/3 missing" and "finished" not in rec, rec
    assert "INCOMPLETE: shard 2/3 missing" in r.stdout
    full = verdicts(runs / "full")
    part = verdicts(merged)
    assert part != full and set(part) < set(full)
    assert compare_results.differences(compare_results.load(runs / "full"), compare_results.load(merged), set())
    assert not load(merged)[0].finished


def test_a_shard_given_twice_is_merged_once(runs):
    copy = runs / "copy-of-three-2"
    if not copy.exists():
        shutil.copytree(runs / "three-2", copy)
    merged = runs / "merged-dup"
    merge(merged, runs / "three-1", runs / "three-2", copy, runs / "three-3")
    assert _record(merged).get("finished")
    assert verdicts(merged) == verdicts(runs / "full")


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 40])
def test_each_key_is_in_exactly_one_shard_in_balanced_shards(n):
    from harness.properties import PROPERTIES, applies
    from harness.registry import all_impls

    keys = [(i.id, p, d) for p in PROPERTIES for i in all_impls() if applies(p, i.function) for d in i.dtypes]
    small = keys[:37]
    for ks in (keys, small):
        where = assign(ks, n)
        assert set(where) == set(ks) and set(where.values()) <= set(range(1, n + 1))
        sizes = [sum(1 for s in where.values() if s == k) for k in range(1, n + 1)]
        assert max(sizes) - min(sizes) <= 1, sizes
        assert assign(reversed(ks), n) == where  # collection order does not matter


def test_the_split_spreads_dtypes_over_the_shards():
    # round-robin over sorted keys would give, with N=2 and 2 dtypes, every float32 test to one shard
    keys = [(f"impl{i}", p, d) for i in range(5) for p in ("accuracy", "contract", "sum_to_one")
            for d in ("float32", "float64")]
    where = assign(keys, 2)
    for dt in ("float32", "float64"):
        assert {s for (_, _, d), s in where.items() if d == dt} == {1, 2}


def test_the_split_does_not_depend_on_the_hash_seed():
    keys = [(f"impl{i}", p, d) for i in range(9) for p in ("accuracy", "contract") for d in ("float16", "float32")]
    code = ("import json, sys; from harness.sharding import assign; "
            "print(json.dumps(sorted(assign([tuple(k) for k in json.loads(sys.argv[1])], 5).items())))")
    outs = set()
    for seed in ("0", "1", "12345"):
        r = subprocess.run([sys.executable, "-c", code, json.dumps(keys)], cwd=ROOT, capture_output=True, text=True,
                           env={**ENV, "PYTHONHASHSEED": seed}, timeout=60)
        assert r.returncode == 0, r.stderr
        outs.add(r.stdout)
    assert len(outs) == 1
    assert json.loads(outs.pop()) == json.loads(json.dumps(sorted(assign(keys, 5).items())))


def test_an_empty_shard_passes_and_says_so_but_an_empty_selection_does_not(tmp_path):
    # -k accuracy: 2 tests and no empty-parametrisation placeholder, so pytest alone would exit 5
    r = plugin(tmp_path / "res", "-k", "accuracy", "--harness-shard", "99/99")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "EMPTY SHARD: shard 99/99 holds no work of this selection (2 tests in all)" in r.stdout, r.stdout[-3000:]
    (rs,) = load(tmp_path / "res")
    assert rs.env["shard"] == "99/99" and rs.env["finished"] and rs.env["collected"] == 0 and not rs.results
    assert "holds no work" in rs.env["shard_empty"] and not rs.finished
    # nothing selected at all: pytest's exit 5 and no record, as without --harness-shard
    r = plugin(tmp_path / "none", "-k", "no_such_property", "--harness-shard", "1/2")
    assert r.returncode == pytest.ExitCode.NO_TESTS_COLLECTED and "EMPTY" not in r.stdout, r.stdout[-3000:]
    assert not (tmp_path / "none").exists()


BAD = ["0/3", "4/3", "3", "1/0", "a/b", "1/2/3", "-1/2", " 1/2", ""]


@pytest.mark.parametrize("value", BAD)
def test_a_bad_shard_is_refused(value):
    from harness.errors import UsageError

    with pytest.raises(UsageError, match=re.escape(repr(value))):
        parse(value)


def test_a_bad_shard_is_one_line_in_the_plugin_and_in_run(tmp_path):
    value = "0/3"
    r = plugin(tmp_path / "res", "--harness-shard", value)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == pytest.ExitCode.USAGE_ERROR and len(lines) == 1, r.stdout[-2000:] + r.stderr[-2000:]
    assert lines[0].startswith("ERROR: --harness-shard: ") and repr(value) in lines[0], lines
    r = run_cli(tmp_path / "out", "--shard", value)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("softmax-harness run: error: argument --shard: ") and repr(value) in r.stderr
    assert not (tmp_path / "res").exists() and not (tmp_path / "out").exists()


def test_the_suite_runs_one_implementation_after_another(tmp_path):
    """Collected (and so handed to xdist's load scheduler) grouped by family,
    implementation and dtype, properties in order within: a worker runs every
    property of one implementation in a row (sharding.by_implementation)."""
    r = plugin(tmp_path / "res", "--collect-only", "--harness-impls", "torch.softmax*,numpy.*softmax",
               "--harness-dtypes", "float32,float16")
    ids = [line for line in r.stdout.splitlines() if "::test_" in line]
    groups = [line.split("[", 1)[1].rsplit("-", 1) for line in ids]
    assert len(ids) > 20, r.stdout + r.stderr
    seen, runs = set(), []
    for g in groups:
        if not runs or runs[-1] != tuple(g):
            assert tuple(g) not in seen, f"{g} comes back after another implementation/dtype"
            seen.add(tuple(g))
            runs.append(tuple(g))
    families = [g[0].split(".", 1)[0] for g in runs]
    assert families == sorted(families)

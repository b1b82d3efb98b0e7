"""A ci-budget (derandomized) exploration draws the same cases in every
process, whatever that process imported and whatever our own source says:
Hypothesis mixes literals of loaded local modules into its draws, so without
the fixed pool a pytest-xdist worker's test order, a new number anywhere in
harness/, or a non-editable install changed the examples (and once let two
zoo bugs escape)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
CODE = """
import json, sys
{before}
from harness.conformance import explore
from harness.registry import get
r = explore(get("numpy.stable_softmax"), "float32", "accuracy", budget="ci")
print(json.dumps([r.stats["examples"], sorted(r.stats["outputs"])]))
"""
# Loads modules the conformance path does not: the CLI parser, the vectors command.
AFTER_CLI = "from harness.cli import build_parser; build_parser()"
# A local module full of literals no harness module has (stands for any edit of our source).
NOVEL = "VALUES = [7.77e-7, 123456789, 3.14159e4, -8.125, 65519.5, 1023.75, 42424242, 9.5e-41]\n"
POOL_OFF = "import harness.strategies.constant_pool as p; p._installed = True"


def _draws(before: str, path: Path | None = None) -> list:
    env = {**ENV, "PYTHONPATH": os.pathsep.join(filter(None, [str(path or ""), ENV.get("PYTHONPATH")]))}
    r = subprocess.run([sys.executable, "-c", CODE.format(before=before)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.splitlines()[-1])


@pytest.fixture
def novel(tmp_path) -> Path:
    d = tmp_path / "novel_src"  # no "test" in the path: Hypothesis takes it for user code
    d.mkdir()
    (d / "novel_literals.py").write_text(NOVEL)
    return d


def test_ci_draws_do_not_depend_on_what_was_imported_or_on_our_literals(novel):
    plain = _draws("")
    assert plain[1], "no case ids recorded"
    assert plain == _draws(AFTER_CLI)
    assert plain == _draws("import novel_literals", novel)


def test_the_literal_effect_is_real_without_the_fixed_pool(novel):
    # Shows the test above can fail: with Hypothesis's local pool the draws move.
    from hypothesis.internal.conjecture import providers

    if not hasattr(providers, "_get_local_constants"):
        pytest.skip("this Hypothesis draws no local constants; constant_pool.py is not needed")
    assert _draws(POOL_OFF) != _draws(f"{POOL_OFF}\nimport novel_literals", novel)


# --------------------------------------------------------------------------
# Seeds: fixed by default, random on request, and the example database
# --------------------------------------------------------------------------


def _recording(impl, seen: list):
    """``impl`` with every call's (regime, case id) appended to ``seen``."""
    import dataclasses

    def fn(case, inner=impl.fn):
        seen.append((case.regime, case.id))
        return inner(case)

    return dataclasses.replace(impl, fn=fn)


def _first_in(seen: list, regime: str) -> str:
    return next(case_id for r, case_id in seen if r == regime)


def test_choose_seed_defaults_and_validation():
    from harness.errors import UsageError
    from harness.seeding import DEFAULT_SEED, choose_seed

    dev, ci = choose_seed(None, "dev"), choose_seed(None, "ci")
    assert (dev.value, dev.kind, dev.random) == (DEFAULT_SEED, "default", False)
    assert (ci.value, ci.kind, ci.option()) == (None, "derandomized", None)
    assert ci.describe() == "seed: derandomized (ci budget)"
    drawn = choose_seed("random", "thorough")
    assert drawn.random and drawn.describe() == f"seed {drawn.value} (random; repeat with --seed {drawn.value})"
    again = choose_seed(drawn.option(), "thorough", handoff=True)  # what run and xdist workers receive
    assert (again.value, again.random) == (drawn.value, True)
    assert choose_seed("7", "ci").value == 7
    from harness.budgets import hypothesis_settings

    assert hypothesis_settings("ci", database=True).database is not None  # --budget ci --seed random
    assert hypothesis_settings("dev").database is None and hypothesis_settings("ci").derandomize
    for bad in ("12x", "-1", "1.5", "", "٣", "random:5"):  # random:N is only the internal hand-off
        with pytest.raises(UsageError, match="non-negative integer or 'random'"):
            choose_seed(bad, "dev")


def test_explore_without_a_seed_is_fixed_except_in_the_derandomized_budget():
    from harness.conformance import explore
    from harness.registry import get
    from harness.seeding import DEFAULT_SEED

    runs = []
    for seed in (None, None, DEFAULT_SEED + 1):
        seen: list = []
        res = explore(_recording(get("numpy.stable_softmax"), seen), "float32", "accuracy", budget="dev",
                      max_examples=24, seed=seed)
        runs.append((res, seen))
    (a, seen_a), (b, seen_b), (_, seen_other) = runs
    assert a.hypothesis["seed"] == DEFAULT_SEED and len(seen_a) >= 24
    assert seen_a == seen_b and (a.case_id, a.max_ulp, a.verdict) == (b.case_id, b.max_ulp, b.verdict)
    assert seen_other != seen_a  # the seed does steer the draws, so the equality above could fail
    ci = explore(get("numpy.stable_softmax"), "float32", "accuracy", budget="ci", max_examples=2)
    assert ci.hypothesis is None or ci.hypothesis["seed"] is None  # derandomized: no seed applied


def test_a_random_run_replays_its_failure_from_the_database(tmp_path, monkeypatch):
    from zoo import MEMBERS

    from harness import verdicts
    from harness.conformance import explore
    from harness.impls.numpy_impls import _along, stable_softmax

    db = tmp_path / "db"
    monkeypatch.setenv("SOFTMAX_HARNESS_DB", str(db))
    wrong = next(m.impl for m in MEMBERS if m.impl.id == "zoo.clamp_logits")
    seen: list = []
    found = explore(_recording(wrong, seen), "float64", "accuracy", budget="dev", seed=11, database=True)
    assert not verdicts.passes(found.verdict), found.message
    assert any(p.is_file() for p in db.rglob("*")), "the failing run saved nothing"

    # Another random run (another seed) starts the failing regime with the saved, shrunk case ...
    seen.clear()
    again = explore(_recording(wrong, seen), "float64", "accuracy", budget="dev", seed=12, database=True)
    assert not verdicts.passes(again.verdict) and again.regime == found.regime
    assert _first_in(seen, found.regime) == found.case_id
    # ... which that seed alone would not have drawn first (so the assertion above can fail).
    seen.clear()
    explore(_recording(wrong, seen), "float64", "accuracy", budget="dev", seed=12)
    assert _first_in(seen, found.regime) != found.case_id

    # Each test has its own key: a fixed version with the same strategy replays nothing of the wrong one's.
    import dataclasses

    seen.clear()
    fixed = dataclasses.replace(wrong, id="fixed.clamp_logits", fn=_along(stable_softmax))
    ok = explore(_recording(fixed, seen), "float64", "accuracy", budget="dev", seed=12, database=True)
    assert verdicts.passes(ok.verdict), ok.message
    assert found.case_id not in {case_id for _, case_id in seen}


def test_a_fixed_seed_run_neither_reads_nor_writes_the_database(tmp_path, monkeypatch):
    from zoo import MEMBERS

    from harness.conformance import explore
    from harness.records import Result

    db = tmp_path / "db"
    monkeypatch.setenv("SOFTMAX_HARNESS_DB", str(db))
    wrong = next(m.impl for m in MEMBERS if m.impl.id == "zoo.clamp_logits")
    first = explore(wrong, "float64", "accuracy", budget="dev", seed=11)
    assert not db.exists()
    explore(wrong, "float64", "accuracy", budget="dev", seed=12, database=True)  # fills the database
    assert db.exists()
    untimed = dict.fromkeys(Result.TIMING, 0)
    assert explore(wrong, "float64", "accuracy", budget="dev", seed=11).to_json() | untimed == first.to_json() | untimed


def test_the_plugin_seed_option_is_validated():
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider",
                        "--collect-only", "-q", "--harness-seed", "12x", "tests/self/test_records.py"],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "--harness-seed takes a non-negative integer or 'random', not '12x'" in r.stderr


def test_run_draws_one_seed_and_passes_it_to_every_pytest_run(tmp_path, monkeypatch, capsys):
    import re

    from harness.cli import build_parser
    from harness.commands import run

    calls: list = []
    monkeypatch.setattr(run.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    monkeypatch.setattr("reports.render.render", lambda *a, **kw: None)
    (tmp_path / "results").mkdir()
    args = build_parser().parse_args(["run", "--seed", "random", "--profile", "dev", "--out", str(tmp_path)])
    assert run.main(args) == 3  # the stand-in pytest wrote no run record: incomplete, by design
    printed = re.findall(r"seed (\d+) \(random; repeat with --seed \1\)", capsys.readouterr().out)
    assert len(printed) == 1 and calls
    # one drawn seed for all
    assert all(cmd[cmd.index("--harness-seed") + 1] == f"random:{printed[0]}" for cmd in calls)
    calls.clear()
    assert run.main(build_parser().parse_args(["run", "--out", str(tmp_path)])) == 3
    assert calls and all("--harness-seed" not in cmd for cmd in calls)  # ci: derandomized, as before
    assert "[run] seed: derandomized (ci budget)" in capsys.readouterr().out


@pytest.mark.parametrize("cmd", [["run"], ["check", "tests/self/fixtures/user_kernels.py:stable_softmax"]])
def test_a_bad_seed_is_a_one_line_usage_error(cmd):
    r = subprocess.run([sys.executable, "-m", "harness.cli", *cmd, "--seed", "1e3"], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1, r.stdout + r.stderr
    assert "--seed takes a non-negative integer or 'random', not '1e3'" in r.stderr


# The ci budget's draws come from budgets.DERANDOMIZED_SEED (the seed Hypothesis
# derived from the inner test's source when the baseline was drawn), not from
# the source itself.  The checked-in baseline records what those draws found:
# these pins change only with a deliberate baseline rebuild (say so in the commit).
CI_PINS = [  # (impl, dtype, property) -> worst case id, examples (ci budget)
    ("numpy.stable_softmax", "float16", "accuracy", "c615408a853b571b", 39),
    ("numpy.stable_softmax", "float32", "accuracy", "b0ca77686c8df342", 39),
    ("seed.numpy_naive_softmax", "float32", "shift_invariance", "8f002abfc64031b1", 28),
]


@pytest.mark.parametrize("impl, dtype, prop, case_id, examples", CI_PINS)
def test_the_ci_draws_are_those_the_baseline_records(impl, dtype, prop, case_id, examples):
    from harness.conformance import explore
    from harness.registry import get

    r = explore(get(impl), dtype, prop, budget="ci")
    assert (r.case_id, r.stats["examples"]) == (case_id, examples), "the ci draws changed: rebuild the baseline"


def test_the_ci_draws_do_not_depend_on_the_search_code(monkeypatch):
    """An edit of conformance's inner test (here: a wrapper around it) moves no ci draw."""
    from harness import conformance
    from harness.registry import get

    impl = get("numpy.stable_softmax")
    before = conformance.explore(impl, "float32", "accuracy", budget="ci")
    original = conformance._property_test

    def edited(*args, **kw):
        inner = original(*args, **kw)
        inner.hypothesis.inner_test._hypothesis_internal_add_digest = b"an edit"  # a different source digest
        return inner

    monkeypatch.setattr(conformance, "_property_test", edited)
    after = conformance.explore(impl, "float32", "accuracy", budget="ci")
    assert (after.case_id, after.max_ulp) == (before.case_id, before.max_ulp)

"""A ci-profile (derandomized) exploration draws the same cases in every
process, whatever that process imported before: Hypothesis mixes literals of
loaded local modules into its draws, so without a fixed pool a pytest-xdist
worker's test order changed the examples (and once let two zoo bugs escape)."""

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
import json
{before}
from harness.conformance import explore
from harness.registry import get
r = explore(get("numpy.stable_softmax"), "float32", "accuracy", profile="ci")
print(json.dumps([r.stats["examples"], sorted(r.stats["outputs"])]))
"""
# Loads modules the conformance path does not: the CLI parser, the vectors command.
AFTER_CLI = "from harness.cli import build_parser; build_parser()"
POOL_OFF = "import harness.strategies.constant_pool as p; p._loaded = True"


def _draws(before: str) -> list:
    r = subprocess.run([sys.executable, "-c", CODE.format(before=before)], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.splitlines()[-1])


def test_ci_draws_do_not_depend_on_what_was_imported():
    plain, after_cli = _draws(""), _draws(AFTER_CLI)
    assert plain[1], "no case ids recorded"
    assert plain == after_cli


def test_the_import_order_effect_is_real_without_the_fixed_pool():
    # Shows the test above can fail: with the pool left to chance the draws differ.
    from hypothesis.internal.conjecture import providers

    if not hasattr(providers, "_get_local_constants"):
        pytest.skip("this Hypothesis draws no local constants; constant_pool.py is not needed")
    assert _draws(POOL_OFF) != _draws(f"{POOL_OFF}\n{AFTER_CLI}")

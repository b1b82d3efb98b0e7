"""JAX's persistent compilation cache (harness/compile_cache.py): a conformance
session fills the folder it is given, "off" and a user's own setting win, and
a session that collects no conformance test touches nothing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from harness import compile_cache

VARS = tuple(name.upper() for name in compile_cache._JAX)
ENV = {k: v for k, v in os.environ.items() if k not in VARS and k != "PYTHONPATH"}
ENV.update(PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")


@pytest.fixture
def clean_env(monkeypatch):
    """No JAX cache variable set, and all of them restored afterwards (set, then
    deleted, so that monkeypatch records each); JAX looks unimported, so
    enable() only writes the environment."""
    for var in VARS:
        monkeypatch.setenv(var, "x")
        monkeypatch.delenv(var)
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    return monkeypatch


def test_enable_sets_every_variable(clean_env, tmp_path):
    made = compile_cache.enable(tmp_path / "cc")
    assert made == {"JAX_COMPILATION_CACHE_DIR": str((tmp_path / "cc" / "jax").resolve()),
                    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    assert all(os.environ[k] == v for k, v in made.items())


def test_off_and_the_users_own_cache_win(clean_env, tmp_path):
    assert compile_cache.enable("off") == {} and not any(v in os.environ for v in VARS)
    clean_env.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache.enable(tmp_path / "cc") == {}
    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "mine")
    clean_env.delenv("JAX_COMPILATION_CACHE_DIR")
    clean_env.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "5")  # the user's threshold is kept
    assert "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in compile_cache.enable(tmp_path / "cc")
    assert os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "5"


def _session(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "harness.suite.test_properties::test_contract",
                           "-p", "no:cacheprovider", "-q", "-n", "0", "--harness-impls", "jax.nn.softmax[x64=off]",
                           "--harness-dtypes", "float32", "--harness-budget", "dev", "--harness-results", "res",
                           "--harness-env-id", "e", *extra], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_a_conformance_session_fills_the_cache_and_off_leaves_none(tmp_path):
    r = _session(tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    cache = tmp_path / "compile-cache" / "jax"  # the default: beside the results folder
    assert cache.is_dir() and any(cache.iterdir()), "no compiled executable was cached"
    off = tmp_path / "off"
    off.mkdir()
    r = _session(off, "--harness-compile-cache", "off")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert not (off / "compile-cache").exists()

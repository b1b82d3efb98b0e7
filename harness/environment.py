"""Environment metadata for a run record (``env.json``; the record itself and
the results layout: harness/results_store.py and harness/run_ledger.py)."""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from importlib import metadata
from pathlib import Path

from .modes import modes

PACKAGES = ("numpy", "scipy", "mpmath", "gmpy2", "python-flint", "ml_dtypes", "hypothesis", "torch",
            "tensorflow-cpu", "tensorflow", "keras", "jax", "jaxlib", "numba", "llvmlite",
            "cupy-cuda12x", "cupy-cuda13x")


def versions() -> dict:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return out


# CPU features that change numerics: the SIMD width numpy and XLA vectorise
# reductions with, and the half-precision and matrix units oneDNN dispatches to
# (tf.nn.softmax with oneDNN on differs in float16 on avx512_fp16/AMX machines).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_fp16", "asimd", "sve")


def cpu_flags() -> list[str]:
    """The CPU_FLAGS this machine has (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    have: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            have.update(value.split())
    return [f for f in CPU_FLAGS if f in have]


def fingerprint() -> dict:
    """What a verdict may depend on besides the code: package versions and CPU flags."""
    return {"versions": versions(), "cpu": cpu_flags()}


def gpu_name() -> str | None:
    """nvidia-smi's first GPU name, without importing a framework."""
    import shutil
    import subprocess

    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def env_record(env_id: str) -> dict:
    return {"env_id": env_id, "python": sys.version.split()[0], "platform": platform.platform(),
            "hostname": socket.gethostname(), "versions": versions(), "cpu": cpu_flags(),
            "device": "cuda" if gpu_name() else "cpu", "gpu": gpu_name(), "tox_env": os.environ.get("TOX_ENV_NAME"),
            **modes(), "started": time.time()}

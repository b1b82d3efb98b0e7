"""Environment metadata for a results folder: env.json and impls.json."""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from importlib import metadata

PACKAGES = ("numpy", "scipy", "mpmath", "gmpy2", "python-flint", "ml_dtypes", "hypothesis", "torch",
            "tensorflow-cpu", "tensorflow", "keras", "jax", "jaxlib", "numba", "cupy-cuda12x", "cupy-cuda13x")


def versions() -> dict:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return out


def modes() -> dict:
    return {
        "tf_onednn": "off" if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0" else "on",
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "jax_x64": "on" if os.environ.get("JAX_ENABLE_X64", "").lower() in ("1", "true") else "off",
    }


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
            "hostname": socket.gethostname(), "versions": versions(), "device": "cuda" if gpu_name() else "cpu",
            "gpu": gpu_name(), "tox_env": os.environ.get("TOX_ENV_NAME"), **modes(), "started": time.time()}


def write_env(h) -> None:
    """Controller start: fresh folder for this env, env.json, impls.json."""
    d = h.results_dir
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("*.jsonl"):
        old.unlink()
    (d / "env.json").write_text(json.dumps(env_record(h.env_id), indent=1))
    from .registry import all_impls

    (d / "impls.json").write_text(json.dumps([i.describe() for i in all_impls()], indent=1))


def finish_env(h) -> None:
    p = h.results_dir / "env.json"
    try:
        rec = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return
    rec["finished"] = time.time()
    p.write_text(json.dumps(rec, indent=1))

"""One reader per framework mode: the adapters put these in their ids and
the run record (environment.env_record) writes the same, so env.json and
the ids never disagree.  Read from the environment and config files only:
nothing here imports a framework.

- TensorFlow's oneDNN: TF_ENABLE_ONEDNN_OPTS "0"/"false" off, "1"/"true" on;
  unset, TensorFlow's default on Linux x86 is on only for CPUs with
  neural-network features (AVX512_VNNI, AVX512_BF16, AVX_VNNI, AMX), read
  from /proc/cpuinfo.
- JAX's x64: JAX_ENABLE_X64, parsed as JAX parses a bool.
- Keras's backend: KERAS_BACKEND, else keras.json under KERAS_HOME (or
  ~/.keras), else tensorflow.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from functools import cache
from pathlib import Path

NN_FLAGS = {"avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"}


@cache  # the CPU does not change within a process; TensorFlow adapters ask on every call
def _default_on() -> bool:
    if not sys.platform.startswith("linux") or platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return False
    return bool(NN_FLAGS & set(flags))


def onednn_mode() -> str:
    v = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
    if v in ("0", "false"):
        return "off"
    if v in ("1", "true"):
        return "on"
    return "on" if _default_on() else "off"


def x64_mode() -> str:
    """JAX parses the variable as a bool: 1/true/yes/on/t/y enable it."""
    v = os.environ.get("JAX_ENABLE_X64", "").strip().lower()
    return "on" if v in ("1", "true", "yes", "on", "t", "y") else "off"


def backend_mode() -> str:
    env = os.environ.get("KERAS_BACKEND")
    if env:
        return env
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        return json.loads((home / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


MODE_PACKAGES = {"tf_onednn": "tensorflow", "keras_backend": "keras", "jax_x64": "jax"}


def modes() -> dict:
    """The modes for the run record: only those of installed frameworks (a
    numpy-only env recorded TensorFlow, Keras and JAX modes it never ran)."""
    import importlib.util

    read = {"tf_onednn": onednn_mode, "keras_backend": backend_mode, "jax_x64": x64_mode}
    return {k: read[k]() for k, pkg in MODE_PACKAGES.items() if importlib.util.find_spec(pkg) is not None}

"""torch.compile (TorchInductor) softmax and log_softmax: the kernels
inductor generates (C++ with an online softmax on the CPU, Triton on CUDA),
not the eager ATen ones.

The input goes in as a C-order (rows, n) array, the case's axis last, to one
compiled function per op with dynamic shapes: a new row length or batch then
reuses the kernel (each compile costs 1-2 s; the first in a process about
20), where every new rank, axis and stride pattern would compile again.
Layouts and axes are eager torch's to test; this id tests inductor's
reduction.  Dynamo falls back to eager, silently, once a function is
recompiled past its limit: that would test the eager kernel under this id,
so ``fail_on_recompile_limit_hit`` makes it an error instead, and the limit
covers what one op still specialises on (4 dtypes, sizes 0 and 1).
"""

from __future__ import annotations

import shutil
from functools import cache

import numpy as np

from ..records import Case, Impl
from . import as_rows, from_rows
from .torch_impls import HALF_NOTE, _cuda_probe, _in, _out

RECOMPILE_LIMIT = 64


def _cxx_probe() -> str | None:
    """Inductor's CPU kernels are C++ compiled at first call."""
    if not any(shutil.which(c) for c in ("g++", "clang++", "c++")):
        return "torch.compile (inductor, CPU) needs a C++ compiler: none of g++, clang++, c++ on PATH"
    return None


# One code object per op: dynamo keeps its compiled variants per code object.
def _softmax(t):
    return t.softmax(-1)


def _log_softmax(t):
    return t.log_softmax(-1)


@cache
def _compiled(op: str, dev: str):
    import torch
    import torch._dynamo.config as dynamo_config

    dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, RECOMPILE_LIMIT)
    dynamo_config.fail_on_recompile_limit_hit = True  # never a silent fallback to eager
    fn = {"softmax": _softmax, "log_softmax": _log_softmax}[op]
    return torch.compile(fn, dynamic=True, fullgraph=True, backend="inductor")


def _call(op: str, dev: str):
    def call(c: Case) -> np.ndarray:
        return from_rows(_out(_compiled(op, dev)(_in(as_rows(c.logits, c), dev))), c)

    return call


def impls() -> list[Impl]:
    out = []
    for dev in ("cpu", "cuda"):
        for op, function in (("softmax", "softmax"), ("log_softmax", "log_softmax")):
            out.append(Impl(
                f"torch.compile.nn.functional.{op}[backend=inductor,{dev}]", "torch", function, _call(op, dev),
                device=dev, requires=("torch",), probe=_cxx_probe if dev == "cpu" else _cuda_probe,
                notes=f"torch.compile(Tensor.{op}(-1), dynamic=True, fullgraph=True) on the (rows, n) C-order "
                      f"array: inductor's generated kernel ({'C++, online softmax' if dev == 'cpu' else 'Triton'}); "
                      + HALF_NOTE))
    return out

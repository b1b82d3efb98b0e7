"""The fused softmax of Triton's tutorial ("Fused Softmax", triton-lang
tutorials 02), re-expressed: one program per row, the whole row in one block
of the next power of two, masked lanes loaded as -inf, then max, subtract,
exp, sum and divide in registers, and one store.  Kernel authors start from
this kernel, so it is tested as they would write it: arithmetic in the
input's dtype, as the tutorial does (no float32 upcast of its own).

CUDA only: registered everywhere and ``unavailable`` without triton and a
CUDA device.  The tutorial's persistent-program loop and occupancy tuning
change only which program handles a row, not the arithmetic, so one program
per row stands for them.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..records import Case, Impl
from . import as_rows, from_rows
from .torch_impls import _in, _out

MAX_BLOCK = 2**16  # one row in one block of registers; past this the kernel would spill or not compile


def _probe() -> str | None:
    import torch

    return None if torch.cuda.is_available() else "triton fused softmax: needs a CUDA device (torch sees none)"


@cache
def _kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def softmax_rows(out_ptr, in_ptr, row_stride, n, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        cols = tl.arange(0, BLOCK)
        inside = cols < n
        # lanes past the row read -inf: they add exp(-inf) = 0 to the sum and never win the max
        x = tl.load(in_ptr + row * row_stride + cols, mask=inside, other=-float("inf"))
        z = x - tl.max(x, axis=0)
        num = tl.exp(z)
        tl.store(out_ptr + row * row_stride + cols, num / tl.sum(num, axis=0), mask=inside)

    return softmax_rows


def _supports(c: Case) -> str | None:
    n = c.logits.shape[c.norm_axis] if c.logits.ndim else 1
    if n > MAX_BLOCK:
        return f"axis of {n} > {MAX_BLOCK}: the tutorial's kernel holds a whole row in one block"
    return None


def _call(c: Case) -> np.ndarray:
    import torch
    import triton

    t = _in(as_rows(c.logits, c), "cuda")
    rows, n = t.shape
    y = torch.empty_like(t)
    if t.numel():  # an empty grid is no launch; the empty output has no values to compute
        _kernel()[(rows,)](y, t, n, n, BLOCK=triton.next_power_of_2(n))
    return from_rows(_out(y), c)


def impls() -> list[Impl]:
    return [Impl("triton.tutorial.fused_softmax[cuda]", "triton", "softmax", _call, device="cuda",
                 requires=("torch", "triton"), probe=_probe, supports=_supports,
                 notes="Triton tutorial 02's fused softmax, re-expressed: one program per row, a power-of-two "
                       "block, -inf padding, computed in the input dtype")]

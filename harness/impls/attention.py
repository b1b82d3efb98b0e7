"""Softmax inside attention: scaled dot-product attention tested as masked softmax.

The exact construction (issue 16): Q = the logits, one query row per slice
(L x n), K = V = I_n and scale = 1.  Then Q Kᵀ is the logits exactly (each
element is q_k * 1 plus zeros) and the output softmax(Q Kᵀ + mask) V is the
softmax weights themselves, so any error is the attention kernel's.  Two
limits follow from the construction, each reported as ``unsupported``: a
non-finite logit would form inf * 0 = NaN in Q Kᵀ before the softmax, and an
axis longer than MAX_N would need an n x n identity.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..modes import x64_mode
from ..records import Case, Impl
from . import moved, unmove
from .jax_impls import _gpu_probe
from .torch_impls import _cuda_probe, _in, _out

MAX_N = 2048  # K = V = I_n: n² elements (16 MiB in float32 at 2048)


def _supports(c: Case) -> str | None:
    if c.mask is None:
        return "needs a mask"
    n = c.logits.shape[c.norm_axis] if c.logits.ndim else 1
    if n > MAX_N:
        return f"axis of {n} > {MAX_N}: K = V = I_n would take n² elements"
    if not np.isfinite(c.logits).all():
        return "non-finite logits: Q·Kᵀ with K = I would form inf·0 before the softmax"
    return None


def _sdpa(backend: str, dev: str):
    """torch's SDPA under one CPU/GPU backend (sdpa_kernel), mask True = attend."""
    def call(c: Case) -> np.ndarray:
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel

        x = moved(c)
        n = x.shape[-1] if x.ndim else 1
        q = _in(np.ascontiguousarray(x.reshape(1, 1, -1, n)), dev)
        eye = torch.eye(n, device=dev).to(q.dtype)[None, None]
        keep = torch.tensor(np.moveaxis(c.mask, c.norm_axis, -1).reshape(1, 1, -1, n), device=dev)
        with sdpa_kernel([getattr(SDPBackend, backend)]):
            y = F.scaled_dot_product_attention(q, eye, eye, attn_mask=keep, scale=1.0)
        return unmove(_out(y).reshape(x.shape), c)

    return call


@cache
def _jax_attention():
    import jax

    # under jax.jit, as model code runs it: one compile per shape
    return jax.jit(lambda q, k, m: jax.nn.dot_product_attention(q, k, k, mask=m, scale=1.0))


def _jax(dev: str):
    """jax.nn.dot_product_attention, (batch, length, heads, head dim) = (1, L, 1, n)."""
    def call(c: Case) -> np.ndarray:
        import jax
        import jax.numpy as jnp

        d = jax.devices(dev)[0]
        x = moved(c)
        n = x.shape[-1] if x.ndim else 1
        q = jax.device_put(np.ascontiguousarray(x.reshape(1, -1, 1, n)), d)
        eye = jax.device_put(jnp.eye(n, dtype=q.dtype)[None, :, None, :], d)
        keep = jax.device_put(np.moveaxis(c.mask, c.norm_axis, -1).reshape(1, 1, -1, n), d)
        y = _jax_attention()(q, eye, keep)
        return unmove(np.asarray(y).reshape(x.shape), c)

    return call


def impls() -> list[Impl]:
    out = []
    mode = x64_mode()
    for dev, suffix in (("cpu", ""), ("gpu", ",cuda")):
        out.append(Impl(
            f"jax.nn.dot_product_attention[x64={mode}{suffix}]", "jax", "masked_softmax", _jax(dev),
            device="cpu" if dev == "cpu" else "cuda", requires=("jax",),
            probe=None if dev == "cpu" else _gpu_probe, supports=_supports, profile="masked",
            notes="Q = logits, K = V = I, scale 1, boolean mask, under jax.jit" +
                  ("" if mode == "on" else "; float64 becomes float32 (x64 off)")))
    for dev in ("cpu", "cuda"):
        backends = (("math", "MATH"), ("flash", "FLASH_ATTENTION")) + (
            (("efficient", "EFFICIENT_ATTENTION"),) if dev == "cuda" else ())
        for name, backend in backends:
            out.append(Impl(
                f"torch.nn.functional.scaled_dot_product_attention[backend={name},{dev}]", "torch",
                "masked_softmax", _sdpa(backend, dev), device=dev, requires=("torch",),
                probe=_cuda_probe if dev == "cuda" else None, supports=_supports, profile="masked",
                notes=f"SDPA ({backend}) with Q = logits, K = V = I, scale 1, boolean mask: the attention weights; "
                      "a fully masked row gives zeros (torch's safe softmax)"))
    return out

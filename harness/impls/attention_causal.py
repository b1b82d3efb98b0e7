"""Causal attention (``is_causal=True``) tested as masked softmax.

A kernel's causal path is its own code (the flash kernels skip whole tiles
past the diagonal and mask inside the diagonal tile), so it is tested apart
from an explicit mask (harness/impls/attention.py).  ``is_causal`` takes no
mask, only the triangle: query i sees keys 0..i.  The exact construction:

- L = S = n, where top-left and bottom-right alignment agree;
- a slice with k kept positions goes into query row k - 1, its logits
  permuted so that the kept ones come first (in order) and the masked ones
  after them; the other query rows are zero;
- K = V = I_n and scale 1, so Q Kᵀ is the permuted logits exactly, the
  causal triangle masks exactly the masked positions, and the output row is
  the weights in permuted order; putting them back is a gather, exact.

Slices with different k share one batch element, so a batch holds as many
elements as the most common k has slices.  A slice with no kept position has
no causal form (query i always sees key 0): such a case is unsupported.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..modes import x64_mode
from ..records import Case, Impl
from . import from_rows
from .attention import MAX_N, _rows
from .attention import _supports as _supports_masked
from .jax_impls import _gpu_probe
from .torch_impls import _cuda_probe, _in, _out

MAX_ELEMENTS = 2**24  # the batch of n x n queries (64 MiB in float32)


def _layout(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """For (rows, n) ``keep``: each row's permutation (kept first), its query
    row (k - 1), its batch element, and the number of batch elements."""
    k = keep.sum(axis=1)
    order = np.argsort(~keep, axis=1, kind="stable")
    by_k = np.argsort(k, kind="stable")
    ks = k[by_k]
    slot = np.empty(len(k), dtype=np.intp)
    slot[by_k] = np.arange(len(k)) - np.searchsorted(ks, ks, side="left")  # rank among rows with that k
    return order, k - 1, slot, int(slot.max()) + 1 if len(k) else 1


def _supports(c: Case) -> str | None:
    reason = _supports_masked(c)
    if reason is not None:
        return reason
    _, keep = _rows(c)
    n = keep.shape[1]
    if n and not keep.any(axis=1).all():
        return "a fully masked slice has no causal form (query i always sees key 0)"
    slots = _layout(keep)[3] if n else 1
    if slots * n * n > MAX_ELEMENTS:
        return f"{slots} batch elements of {n} x {n} queries > {MAX_ELEMENTS} elements"
    return None


def _queries(c: Case) -> tuple[np.ndarray, tuple]:
    """Q of shape (batch, n, n) and what ``_weights`` needs to read the output back."""
    x, keep = _rows(c)
    n = x.shape[1]
    order, row, slot, slots = _layout(keep) if n else (None, None, None, 1)
    q = np.zeros((slots, n, n), dtype=x.dtype)
    if n:
        q[slot, row] = np.take_along_axis(x, order, axis=1)
    return q, (x.shape, order, row, slot)


def _weights(y: np.ndarray, c: Case, where: tuple) -> np.ndarray:
    shape, order, row, slot = where
    out = np.zeros(shape, dtype=y.dtype)
    if shape[1]:
        np.put_along_axis(out, order, y[slot, row], axis=1)
    return from_rows(out, c)


def _sdpa(backend: str, dev: str):
    def call(c: Case) -> np.ndarray:
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel

        q, where = _queries(c)
        qt = _in(q, dev)[:, None]
        eye = torch.eye(q.shape[-1], device=dev).to(qt.dtype).expand(qt.shape)
        with sdpa_kernel([getattr(SDPBackend, backend)]):
            y = F.scaled_dot_product_attention(qt, eye, eye, is_causal=True, scale=1.0)
        return _weights(_out(y[:, 0]), c, where)

    return call


@cache
def _jax_causal():
    import jax
    import jax.numpy as jnp

    # under jax.jit, as model code runs it; K = V = I broadcast over the batch
    return jax.jit(lambda q, eye: jax.nn.dot_product_attention(
        q, k := jnp.broadcast_to(eye[None, :, None, :], q.shape), k, is_causal=True, scale=1.0))


def _jax(dev: str):
    def call(c: Case) -> np.ndarray:
        import jax
        import jax.numpy as jnp

        d = jax.devices(dev)[0]
        q, where = _queries(c)
        qj = jax.device_put(q[:, :, None, :], d)
        y = _jax_causal()(qj, jax.device_put(jnp.eye(q.shape[-1], dtype=qj.dtype), d))
        return _weights(np.asarray(y)[:, :, 0, :], c, where)

    return call


NOTE = (f"is_causal=True, scale 1: each slice's logits permuted kept-first into query row k - 1 of an n x n Q, "
        f"K = V = I_n; a fully masked slice, non-finite logits and n > {MAX_N} are unsupported")


def impls() -> list[Impl]:
    out = []
    mode = x64_mode()
    for dev, suffix in (("cpu", ""), ("gpu", ",cuda")):
        out.append(Impl(
            f"jax.nn.dot_product_attention[mask=causal,x64={mode}{suffix}]", "jax", "masked_softmax", _jax(dev),
            device="cpu" if dev == "cpu" else "cuda", requires=("jax",),
            probe=None if dev == "cpu" else _gpu_probe, supports=_supports, profile="masked",
            notes=NOTE + ", under jax.jit" + ("" if mode == "on" else "; float64 becomes float32 (x64 off)")))
    for dev in ("cpu", "cuda"):
        backends = (("math", "MATH"), ("flash", "FLASH_ATTENTION")) + (
            (("efficient", "EFFICIENT_ATTENTION"),) if dev == "cuda" else ())
        for name, backend in backends:
            out.append(Impl(
                f"torch.nn.functional.scaled_dot_product_attention[backend={name},mask=causal,{dev}]", "torch",
                "masked_softmax", _sdpa(backend, dev), device=dev, requires=("torch",),
                probe=_cuda_probe if dev == "cuda" else None, supports=_supports, profile="masked",
                notes=f"SDPA ({backend}) with " + NOTE))
    return out

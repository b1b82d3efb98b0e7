"""Softmax inside attention: scaled dot-product attention tested as masked softmax.

The exact construction (issue 16): Q = the logits, one query row per slice
(L x n), K = V = I_n and scale = 1.  Then Q Kᵀ is the logits exactly (each
element is q_k * 1 plus zeros) and the output softmax(Q Kᵀ + mask) V is the
softmax weights themselves, so any error is the attention kernel's.  A
non-finite logit in Q would form inf * 0 = NaN in Q Kᵀ, so such a case goes
through one K per slice instead (``_per_slice``): the kernel then meets +inf,
-inf and NaN, masked-out ones included, exactly as they are.  Its output is
P V with V = I, so a NaN weight makes the whole output row NaN, as attention
returns it.  An axis longer than MAX_N (or, non-finite, more than
MAX_PER_SLICE elements of K) is ``unsupported``.

Masks go in as booleans (True = attend) or, in the ``mask=additive`` modes,
as the additive bias 0 / -inf that model code builds: the kernels take
different paths for the two (torch's safe softmax, jax's where= against a bias
add), and a fully masked row comes out differently (zeros against NaN in jax).
Causal masks are among the drawn boolean patterns; the kernels' own
``is_causal`` path is the ``mask=causal`` mode (attention_causal.py).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..modes import x64_mode
from ..records import Case, Impl
from . import as_rows, from_rows
from .jax_impls import _gpu_probe
from .torch_impls import _cuda_probe, _in, _out

MAX_N = 2048  # K = V = I_n: n² elements (16 MiB in float32 at 2048)
MAX_PER_SLICE = 2**22  # one K per slice for non-finite logits: slices x n² elements


def _limits(c: Case) -> str | None:
    """What every form of the construction needs: a mask and an axis of at most MAX_N."""
    if c.mask is None:
        return "needs a mask"
    n = c.logits.shape[c.norm_axis] if c.logits.ndim else 1
    if n > MAX_N:
        return f"axis of {n} > {MAX_N}: K = V = I_n would take n² elements"
    return None


def _supports(c: Case) -> str | None:
    """Finite logits only (the shared K = I construction)."""
    why = _limits(c)
    if why is None and not np.isfinite(c.logits).all():
        return "non-finite logits: Q·Kᵀ with K = I would form inf·0 before the softmax"
    return why


def _supports_any(c: Case) -> str | None:
    """Non-finite logits too, through one K per slice (``_per_slice``)."""
    why = _limits(c)
    if why is not None or np.isfinite(c.logits).all():
        return why
    rows, n = _rows(c)[0].shape
    if rows * n * n > MAX_PER_SLICE:
        return f"non-finite logits need one n x n K per slice: {rows} x {n} x {n} > {MAX_PER_SLICE} elements"
    return None


def _per_slice(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-finite logits, exactly: Q holds 1 where a logit is non-finite and
    each slice's K is diag(1 or that logit), so score j = q_j · K_jj plus
    finite q_m times 0 for m ≠ j, never inf·0.  A masked-out NaN or inf then
    reaches the kernel's masking as it is (upstream pytorch#101967)."""
    fin = np.isfinite(x)
    one = np.ones((), x.dtype)
    k = np.zeros(x.shape + x.shape[-1:], x.dtype)
    i = np.arange(x.shape[-1])
    k[:, i, i] = np.where(fin, one, x)
    return np.where(fin, x, one).astype(x.dtype), k


def _rows(c: Case) -> tuple[np.ndarray, np.ndarray]:
    """The logits and the mask as (rows, n), the case's axis last."""
    return as_rows(c.logits, c), as_rows(c.mask, c)


def _sdpa(backend: str, dev: str, additive: bool = False):
    """torch's SDPA under one CPU/GPU backend (sdpa_kernel), mask True = attend
    (or, ``additive``, a float mask of 0 and -inf in the logits' dtype)."""
    def call(c: Case) -> np.ndarray:
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel

        x, mask = _rows(c)
        if np.isfinite(x).all():  # (1, 1, L, n) against one K = V = I
            q = _in(x, dev)[None, None]
            eye = torch.eye(x.shape[1], device=dev).to(q.dtype)[None, None]
            k, keep = eye, torch.tensor(mask, device=dev)[None, None]
        else:  # (slices, 1, 1, n) against a K per slice, V = I
            qx, kx = _per_slice(x)
            q, k = _in(qx, dev)[:, None, None], _in(kx, dev)[:, None]
            eye = torch.eye(x.shape[1], device=dev).to(q.dtype).expand(k.shape)
            keep = torch.tensor(mask, device=dev)[:, None, None]
        if additive:
            keep = torch.zeros((), dtype=q.dtype, device=dev).masked_fill(~keep, float("-inf"))
        with sdpa_kernel([getattr(SDPBackend, backend)]):
            y = F.scaled_dot_product_attention(q, k, eye, attn_mask=keep, scale=1.0)
        return from_rows(_out(y.reshape(x.shape)), c)

    return call


@cache
def _jax_attention(additive: bool):
    import jax
    import jax.numpy as jnp

    # under jax.jit, as model code runs it: one compile per shape
    if additive:
        return jax.jit(lambda q, k, m: jax.nn.dot_product_attention(
            q, k, k, bias=jnp.where(m, jnp.zeros((), q.dtype), jnp.array(-jnp.inf, q.dtype)), scale=1.0))
    return jax.jit(lambda q, k, m: jax.nn.dot_product_attention(q, k, k, mask=m, scale=1.0))


@cache
def _jax_per_slice(additive: bool):
    import jax
    import jax.numpy as jnp

    # as _jax_attention, with V = I apart from K (one K per slice)
    def f(q, k, m):
        v = jnp.broadcast_to(jnp.eye(k.shape[1], dtype=q.dtype)[None, :, None, :], k.shape)
        if additive:
            return jax.nn.dot_product_attention(
                q, k, v, bias=jnp.where(m, jnp.zeros((), q.dtype), jnp.array(-jnp.inf, q.dtype)), scale=1.0)
        return jax.nn.dot_product_attention(q, k, v, mask=m, scale=1.0)

    return jax.jit(f)


def _jax(dev: str, additive: bool = False):
    """jax.nn.dot_product_attention, (batch, length, heads, head dim) = (1, L, 1, n)."""
    def call(c: Case) -> np.ndarray:
        import jax
        import jax.numpy as jnp

        d = jax.devices(dev)[0]
        x, mask = _rows(c)
        if not np.isfinite(x).all():  # (slices, 1, 1, n) against a K per slice
            qx, kx = _per_slice(x)
            q, k = jax.device_put(qx[:, None, None, :], d), jax.device_put(kx[:, :, None, :], d)
            y = _jax_per_slice(additive)(q, k, jax.device_put(mask[:, None, None, :], d))
            return from_rows(np.asarray(y).reshape(x.shape), c)
        q = jax.device_put(x[None, :, None, :], d)
        eye = jax.device_put(jnp.eye(x.shape[1], dtype=q.dtype)[None, :, None, :], d)
        keep = jax.device_put(mask[None, None], d)
        y = _jax_attention(additive)(q, eye, keep)
        return from_rows(np.asarray(y)[0, :, 0, :], c)

    return call


def impls() -> list[Impl]:
    out = []
    mode = x64_mode()
    for dev, suffix in (("cpu", ""), ("gpu", ",cuda")):
        for additive in (False, True):
            out.append(Impl(
                f"jax.nn.dot_product_attention[{'mask=additive,' if additive else ''}x64={mode}{suffix}]", "jax",
                "masked_softmax", _jax(dev, additive), device="cpu" if dev == "cpu" else "cuda", requires=("jax",),
                probe=None if dev == "cpu" else _gpu_probe, supports=_supports_any,
                # a -inf bias on every position of a row is softmax over all -inf: NaN, the ieee convention
                profile="ieee" if additive else "masked",
                notes="Q = logits, K = V = I, scale 1, " +
                      ("bias = 0 / -inf (additive mask)" if additive else "boolean mask") + ", under jax.jit" +
                      ("" if mode == "on" else "; float64 becomes float32 (x64 off)")))
    for dev in ("cpu", "cuda"):
        backends = (("math", "MATH"), ("flash", "FLASH_ATTENTION")) + (
            (("efficient", "EFFICIENT_ATTENTION"),) if dev == "cuda" else ())
        for (name, backend), additive in [(b, a) for b in backends for a in (False, True)]:
            out.append(Impl(
                f"torch.nn.functional.scaled_dot_product_attention[backend={name},"
                f"{'mask=additive,' if additive else ''}{dev}]", "torch",
                "masked_softmax", _sdpa(backend, dev, additive), device=dev, requires=("torch",),
                probe=_cuda_probe if dev == "cuda" else None, supports=_supports_any, profile="masked",
                notes=f"SDPA ({backend}) with Q = logits, K = V = I, scale 1, " +
                      ("a float mask 0 / -inf" if additive else "boolean mask") +
                      ": the attention weights; a fully masked row gives zeros (torch's safe softmax)"))
    return out

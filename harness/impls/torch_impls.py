"""PyTorch implementations, on the CPU and (when present) on CUDA.

Every adapter imports torch inside its call.  bfloat16 crosses the numpy
boundary through float32 (exact both ways); outputs come back to the host,
which also synchronises the device.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from oracles.formats import FORMATS

from ..records import Case, Impl, is_soft
from . import HALF, moved

HALF_NOTE = "float16/bfloat16 computed with a float32 accumulator, returned in the input dtype"


@cache
def _cuda_probe() -> str | None:
    import torch

    return None if torch.cuda.is_available() else "torch: CUDA not available"


def _in(a: np.ndarray, dev: str):
    import torch

    if a.dtype.name == "bfloat16":
        return torch.tensor(a.astype(np.float32), device=dev).to(torch.bfloat16)
    # The drawn layout reaches torch's strided kernels where torch can hold it;
    # torch has no negative strides (numpy may give one even to an axis of
    # length 1 of a "contiguous" array), so a reversed layout arrives as a copy.
    if all(s >= 0 for s in a.strides) and a.flags.writeable:
        return torch.from_numpy(a).to(dev)
    return torch.tensor(a.copy(), device=dev)


def _out(t) -> np.ndarray:
    import torch

    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.float().numpy().astype(FORMATS["bfloat16"].dtype)
    return t.numpy()


# Seed 000, "Understand Softmax in Minutes": the from-scratch softmax, unshifted
# exp, a dim=1 sum and .view(-1,1) to stop broadcasting (2-D, rows = samples).
def seed_scratch_softmax(x):
    import torch

    return torch.exp(x)/torch.sum(torch.exp(x), dim=1).view(-1,1)


def _wrap(fn, dev: str):
    """fn(torch, F, case, dev) -> tensor; numpy out."""
    def call(c: Case) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        return _out(fn(torch, F, c, dev))

    return call


def _along(op, dev: str):
    """op(torch, F, tensor, dim) along the case's axis."""
    return _wrap(lambda torch, F, c, d: op(torch, F, _in(c.logits, d), c.norm_axis), dev)


def _cross_entropy(torch, F, c: Case, dev):
    x = moved(c)  # (..., C); torch wants the classes in dim 1: (N, C, d1, ...)
    x = np.moveaxis(x, -1, 1) if x.ndim >= 2 else x
    if is_soft(c.labels):
        t = np.moveaxis(c.labels, c.norm_axis, -1)
        t = _in(np.moveaxis(t, -1, 1) if t.ndim >= 2 else t, dev)
    else:
        t = torch.tensor(c.labels.astype(np.int64), device=dev)
    return F.cross_entropy(_in(x, dev), t, reduction="none")


def _sparse(name: str):
    def fn(torch, F, c: Case, dev):
        shape, idx = c.logits.shape, c.indices
        coo = torch.tensor(idx.T.astype(np.int64), device=dev)
        st = torch.sparse_coo_tensor(coo, _in(c.logits[tuple(idx.T)], dev), shape).coalesce()
        res = getattr(torch.sparse, name)(st, -1).coalesce()
        # Back to the case's entry order (a coalesced tensor is sorted row-major).
        got = np.ravel_multi_index(tuple(res.indices().cpu().numpy()), shape)
        pos = np.searchsorted(got, np.ravel_multi_index(tuple(idx.T), shape))
        return res.values()[torch.as_tensor(pos, device=res.device)]

    return fn


def _jacobian(torch, F, c: Case, dev):
    k = c.logits.shape[-1]
    x = _in(c.logits.reshape(-1, k), dev)
    jac = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, dim=-1), x, vectorize=True)
    rows = torch.arange(x.shape[0], device=dev)
    return jac[rows, :, rows, :].reshape(c.logits.shape + (k,))  # (N,k,N,k) -> its diagonal blocks


def _vjp(torch, F, c: Case, dev):
    x = _in(c.logits, dev).requires_grad_(True)
    torch.softmax(x, dim=c.norm_axis).backward(_in(c.upstream, dev))
    return x.grad


def _masked(torch, F, c: Case, dev):
    keep = torch.tensor(c.mask, device=dev)
    return torch.softmax(_in(c.logits, dev).masked_fill(~keep, float("-inf")), dim=c.norm_axis)


def _needs(attr: str, soft: bool | None = None):
    def check(c: Case) -> str | None:
        a = getattr(c, attr)
        if a is None:
            return f"needs {attr}"
        if soft is not None and is_soft(a) != soft:
            return f"takes {'probability targets' if soft else 'class-index labels'} only"
        return None

    return check


def _device_impls(dev: str) -> list[Impl]:
    def mk(name, function, fn, notes=HALF_NOTE, **kw):
        tag = f"[{dev}]" if "[" not in name else name[name.index("["):-1] + f",{dev}]"
        return Impl(name.split("[")[0] + tag, "torch", function, fn, device=dev, requires=("torch",),
                    probe=_cuda_probe if dev == "cuda" else None, notes=notes, **kw)

    sparse = dict(dtypes=("float32", "float64"), supports=_needs("indices"),
                  notes="torch.sparse_coo_tensor, dim=-1; the kernels exist for float32/float64 only")
    return [
        mk("torch.softmax", "softmax", _along(lambda torch, F, t, d: torch.softmax(t, dim=d), dev)),
        mk("torch.nn.functional.softmax", "softmax", _along(lambda torch, F, t, d: F.softmax(t, dim=d), dev)),
        mk("torch.nn.Softmax", "softmax", _along(lambda torch, F, t, d: torch.nn.Softmax(dim=d)(t), dev)),
        mk("torch.nn.functional.softmax[dtype=float32]", "softmax",
           _along(lambda torch, F, t, d: F.softmax(t, dim=d, dtype=torch.float32), dev),
           dtypes=HALF + ("float32",), upcasts={"float16": "float32", "bfloat16": "float32"},
           notes="F.softmax(x, dim, dtype=torch.float32): half input cast up and computed in float32"),
        mk("torch.special.softmax", "softmax", _along(lambda torch, F, t, d: torch.special.softmax(t, dim=d), dev)),
        # softmin(x) = softmax(-x), and negating a float is exact: softmin of -x must be softmax(x)'s value
        mk("torch.nn.functional.softmin[x=-logits]", "softmax",
           _along(lambda torch, F, t, d: F.softmin(-t, dim=d), dev),
           notes="F.softmin(-x, dim): softmax(x) exactly, the negation being exact; " + HALF_NOTE),
        mk("torch.special.log_softmax", "log_softmax",
           _along(lambda torch, F, t, d: torch.special.log_softmax(t, dim=d), dev)),
        mk("torch.nn.functional.log_softmax", "log_softmax",
           _along(lambda torch, F, t, d: F.log_softmax(t, dim=d), dev)),
        mk("torch.nn.LogSoftmax", "log_softmax", _along(lambda torch, F, t, d: torch.nn.LogSoftmax(dim=d)(t), dev)),
        mk("torch.logsumexp", "logsumexp", _along(lambda torch, F, t, d: torch.logsumexp(t, dim=d), dev)),
        mk("torch.sigmoid", "sigmoid", _wrap(lambda torch, F, c, d: torch.sigmoid(_in(c.logits, d)), dev),
           partner=f"torch.softmax[{dev}]"),
        mk("torch.nn.functional.cross_entropy[labels=index]", "cross_entropy", _wrap(_cross_entropy, dev),
           supports=_needs("labels", soft=False), notes="class indices, reduction='none'; classes moved to dim 1"),
        mk("torch.nn.functional.cross_entropy[labels=probs]", "cross_entropy", _wrap(_cross_entropy, dev),
           supports=_needs("labels", soft=True), notes="probability targets, reduction='none'; classes in dim 1"),
        mk("torch.sparse.softmax", "sparse_softmax", _wrap(_sparse("softmax"), dev), **sparse),
        mk("torch.sparse.log_softmax", "sparse_log_softmax", _wrap(_sparse("log_softmax"), dev), **sparse),
        mk("torch.seed_scratch_softmax", "softmax",
           _wrap(lambda torch, F, c, d: seed_scratch_softmax(_in(c.logits, d)), dev), ranks=(2,),
           last_axis_only=True,
           notes="seed 000: torch.exp(x)/torch.sum(torch.exp(x), dim=1).view(-1,1); unshifted, 2-D only"),
        mk("torch.autograd.functional.jacobian", "softmax_jacobian", _wrap(_jacobian, dev), last_axis_only=True,
           notes="jacobian(softmax, x, vectorize=True) on (N, k); the diagonal (N, k, k) blocks"),
        mk("torch.softmax.backward", "softmax_vjp", _wrap(_vjp, dev),
           notes="softmax(x, dim).backward(upstream); x.grad"),
        mk("torch.softmax.masked_fill", "masked_softmax", _wrap(_masked, dev), supports=_needs("mask"),
           profile="ieee", notes="x.masked_fill(~mask, -inf).softmax(dim): a fully masked slice is NaN"),
    ]


def impls() -> list[Impl]:
    return _device_impls("cpu") + _device_impls("cuda")

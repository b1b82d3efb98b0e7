"""CuPy implementations (GPU only): seed 003's Softmax_cupy and
Softmax_grad_cupy, and cupyx.scipy.special's softmax / log_softmax /
logsumexp.  Without cupy, a CUDA driver or a device they are reported
unavailable with the reason.  CuPy has no bfloat16.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..records import Case, Impl

DTYPES = ("float16", "float32", "float64")


@cache
def probe() -> str | None:
    try:
        import cupy
    except ImportError as e:
        return f"cupy not importable: {e}"
    except Exception as e:  # a broken CUDA install fails at import on some versions
        return f"cupy: {type(e).__name__}: {e}"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        return f"cupy: no CUDA driver ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    return None if n > 0 else "cupy: no CUDA device"


# Seed 003: Softmax_cupy, 2-D (N, k); "Alternative 2" (reshape, not keepdims).
def Softmax_cupy(x):
    import cupy as cp

    max_x = cp.amax(x, 1).reshape(x.shape[0],1)
    e_x = cp.exp(x - max_x) # For stability as it is prone to overflow and underflow
    return e_x / e_x.sum(axis=1).reshape((-1, 1)) # Alternative 2


# Seed 003: Softmax_grad_cupy.  As in the numpy einsum version the float32
# temporaries are dead stores; cp.eye is float64, so the result is float64.
def Softmax_grad_cupy(x):
    import cupy as cp

    s = Softmax_cupy(x)
    a = cp.eye(s.shape[-1])
    temp1 = cp.zeros((s.shape[0], s.shape[1], s.shape[1]),dtype=cp.float32)
    temp2 = cp.zeros((s.shape[0], s.shape[1], s.shape[1]),dtype=cp.float32)
    temp1 = cp.einsum('ij,jk->ijk',s,a)
    temp2 = cp.einsum('ij,ik->ijk',s,s)
    return temp1-temp2


def _run(fn):
    def call(c: Case) -> np.ndarray:
        import cupy as cp

        out = cp.asnumpy(fn(cp.asarray(c.logits), c))
        cp.cuda.Device().synchronize()
        return out

    return call


def _special(name: str):
    def fn(x, c: Case):
        import cupyx.scipy.special as sp

        return getattr(sp, name)(x, axis=c.norm_axis)

    return fn


def impls() -> list[Impl]:
    base = dict(family="cupy", device="cuda", requires=("cupy",), probe=probe, dtypes=DTYPES)
    to64 = {"float16": "float64", "float32": "float64"}
    return [
        Impl("cupy.seed_Softmax_cupy[cuda]", function="softmax", fn=_run(lambda x, c: Softmax_cupy(x)),
             ranks=(2,), last_axis_only=True, notes="seed 003 Softmax_cupy: row max, exp, sum(axis=1).reshape",
             **base),
        Impl("cupy.seed_Softmax_grad_cupy[cuda]", function="softmax_jacobian",
             fn=_run(lambda x, c: Softmax_grad_cupy(x)), ranks=(2,), last_axis_only=True, upcasts=to64,
             judge="input", notes="seed 003 einsum Jacobian: cp.eye is float64, so the output is float64", **base),
        Impl("cupyx.scipy.special.softmax[cuda]", function="softmax", fn=_run(_special("softmax")), **base),
        Impl("cupyx.scipy.special.log_softmax[cuda]", function="log_softmax", fn=_run(_special("log_softmax")),
             **base),
        Impl("cupyx.scipy.special.logsumexp[cuda]", function="logsumexp", fn=_run(_special("logsumexp")),
             **base),
    ]

"""Seed 003's Numba softmax and Jacobian, re-expressed faithfully.

The article decorates both with ``@njit(cache=True, fastmath=True)``.  Here
``cache=True`` is dropped: it writes compiled code into __pycache__ next to
this file (a read-only site-packages in an installed harness, a race between
pytest-xdist workers, stale entries across Numba versions) and it cannot cache
functions built at run time, as these are (one build per fastmath setting).
Caching changes no arithmetic.  Compilation happens on first call.
Numba has no float16/bfloat16, so only float32/float64 are declared.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..records import Case, Impl


# Seed 003: Softmax(x), 2-D (N, k).  max_x in the input dtype, filled row by
# row; e_x.sum(axis=1).reshape((-1, 1)) stands in for keepdims=True.
def Softmax(x):
    max_x = np.zeros((x.shape[0],1),dtype=x.dtype)
    for i in range(x.shape[0]):
        max_x[i,0] = np.max(x[i,:])
    e_x = np.exp(x - max_x)
    return e_x / e_x.sum(axis=1).reshape((-1, 1)) # Alternative of keepdims=True for Numba compatibility


@cache
def build(fastmath: bool):
    """(Softmax, Softmax_grad) compiled with ``fastmath``; the grad calls this Softmax."""
    from numba import njit

    softmax = njit(fastmath=fastmath)(Softmax)

    # Seed 003: the loop Softmax_grad.  Unlike the numpy einsum version, the
    # loops DO write into the float32 temporaries: every product is rounded
    # to float32 and the result is float32, even for float64 input.
    def Softmax_grad(x):
        s = softmax(x)
        a = np.eye(s.shape[-1])
        temp1 = np.zeros((s.shape[0], s.shape[1], s.shape[1]),dtype=np.float32)
        temp2 = np.zeros((s.shape[0], s.shape[1], s.shape[1]),dtype=np.float32)
        # Einsum is unsupported with Numba (nopython mode)
        # temp1 = np.einsum('ij,jk->ijk',s,a)
        # temp2 = np.einsum('ij,ik->ijk',s,s)
        for i in range(s.shape[0]):
            for j in range(s.shape[1]):
                for k in range(s.shape[1]):
                    temp1[i,j,k] = s[i,j]*a[j,k]
                    temp2[i,j,k] = s[i,j]*s[i,k]
        return temp1-temp2

    return softmax, njit(fastmath=fastmath)(Softmax_grad)


def _call(which: int, fastmath: bool):
    def call(c: Case) -> np.ndarray:
        return build(fastmath)[which](np.ascontiguousarray(c.logits))

    return call


def impls() -> list[Impl]:
    out = []
    for fm in (True, False):
        tag = f"[fastmath={'on' if fm else 'off'}]"
        how = "@njit(fastmath=True) as in the seed (assumes no NaN/inf)" if fm else \
            "@njit(fastmath=False): the seed's code with strict IEEE semantics"
        base = dict(family="numba", requires=("numba",), dtypes=("float32", "float64"), ranks=(2,),
                    last_axis_only=True)
        out += [
            Impl(f"numba.seed_Softmax{tag}", function="softmax", fn=_call(0, fm),
                 notes=f"seed 003 Softmax: row max, exp, sum(axis=1).reshape; {how}", **base),
            Impl(f"numba.seed_Softmax_grad{tag}", function="softmax_jacobian", fn=_call(1, fm),
                 upcasts={"float64": "float32"},
                 notes="seed 003 loop Softmax_grad: products stored into float32 temporaries, so float64 "
                       f"input returns float32 (declared); {how}", **base),
        ]
    return out

"""The seed articles' hand-written softmaxes, re-expressed faithfully: same
operations, same order, same dtype quirks.  The Numba, CuPy and torch
from-scratch versions live with their families (numba_impls, cupy_impls,
torch_impls) under the same ``*.seed_*`` naming.
"""

from __future__ import annotations

import numpy as np

from ..records import Case, Impl
from . import ALL_DTYPES


# Seed 000/002, "Understand Softmax in Minutes": Python floats, an unshifted
# np.exp per element, Python's built-in sum, a list-comprehension division.
def listcomp_softmax(logits: list[float]) -> list:
    exps = [np.exp(i) for i in logits]
    sum_of_exps = sum(exps)
    softmax = [j / sum_of_exps for j in exps]
    return softmax


# Seed 003, "Softmax Activation Function with Python": the naive version with
# its printed probabilities.  np.exp and np.sum run in the input's dtype, the
# division is a list comprehension, and dtype=float makes the result float64.
def naive_softmax(Z_data):
    exp_Z_data = np.exp(Z_data)
    sum_of_exp_Z_data = np.sum(exp_Z_data)
    prob_dist = [exp_Zi / sum_of_exp_Z_data for exp_Zi in exp_Z_data]
    return np.array(prob_dist, dtype=float)


# Seed 003: the row-max batched version (2-D only, rows are samples).
def rowmax_Softmax(x):
    max_x = np.amax(x, 1).reshape(x.shape[0], 1)
    e_x = np.exp(x - max_x)
    return e_x / e_x.sum(axis=1, keepdims=True)


# Seed 003: the einsum Jacobian.  The float32 temporaries are dead stores:
# einsum replaces them, and np.eye is float64, so temp1 (and the result) is
# float64 whatever the input dtype.
def einsum_Softmax_grad(x):
    s = rowmax_Softmax(x)
    a = np.eye(s.shape[-1])
    temp1 = np.zeros((s.shape[0], s.shape[1], s.shape[1]), dtype=np.float32)
    temp2 = np.zeros((s.shape[0], s.shape[1], s.shape[1]), dtype=np.float32)
    temp1 = np.einsum("ij,jk->ijk", s, a)
    temp2 = np.einsum("ij,ik->ijk", s, s)
    return temp1 - temp2


def _listcomp(case: Case) -> np.ndarray:
    # The article's input is a list of Python floats.
    return np.array(listcomp_softmax([float(v) for v in case.logits]), dtype=np.float64)


def _to_f64(dtypes):
    return {d: "float64" for d in dtypes if d != "float64"}


def impls() -> list[Impl]:
    return [
        Impl("seed.listcomp_softmax", "seed", "softmax", _listcomp, ALL_DTYPES, ranks=(1,),
             upcasts=_to_f64(ALL_DTYPES),
             notes="seed 000 'Understand Softmax in Minutes': Python floats (float64), unshifted exp, "
                   "built-in sum; 1-D lists only"),
        Impl("seed.numpy_naive_softmax", "seed", "softmax", lambda c: naive_softmax(c.logits), ALL_DTYPES,
             ranks=(1,), upcasts=_to_f64(ALL_DTYPES), judge="input",
             notes="seed 003 naive softmax(Z_data): unshifted exp and sum in the input dtype, "
                   "np.array(..., dtype=float) returns float64; 1-D"),
        Impl("seed.numpy_rowmax_Softmax", "seed", "softmax", lambda c: rowmax_Softmax(c.logits), ALL_DTYPES,
             ranks=(2,), last_axis_only=True,
             notes="seed 003 Softmax(x): row max, exp, keepdims sum; 2-D (N, k) only"),
        Impl("seed.numpy_einsum_Softmax_grad", "seed", "softmax_jacobian",
             lambda c: einsum_Softmax_grad(c.logits), ALL_DTYPES, ranks=(2,), last_axis_only=True,
             upcasts=_to_f64(ALL_DTYPES), judge="input",
             notes="seed 003 Softmax_grad(x): einsum Jacobian; np.eye is float64 so the output is float64 "
                   "and the float32 temporaries are dead; (N, k) -> (N, k, k)"),
    ]

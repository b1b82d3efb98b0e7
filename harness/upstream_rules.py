"""What the tolerance rules people copy from upstream would have said
(issue 16 §5), beside the oracle-graded verdict of every accuracy result.

Each rule judges one output against the exact value, as its home project
writes it; the harness's own verdict grades the same output against the
Blanchard-Higham-Higham bound (harness/policy.py).  Where they differ:

* **blind**: the rule passes an output the oracle grades out of bound
  (``out-of-bound`` or ``wrong-special``);
* **too strict**: the rule fails an output within the bound
  (``exact``, ``faithful``, ``good`` or ``bounded``).
``ftz`` and the other verdicts are neither: the rules are not about them.

The rules, applied to the finite elements of the exact result; where the
exact value is NaN or infinite the output must match it (NaN matches NaN:
special values are the convention rules' business, so no rule is charged
for a NaN the convention asks for; assert_close's own default would be
``equal_nan=False``):

* ``assert_close``: torch.testing.assert_close's defaults per dtype
  (torch/testing/_comparison.py ``_DTYPE_PRECISIONS``): every element
  |got - exact| <= atol + rtol * |exact|.
* ``flash_2x``: FlashAttention's test rule (tests/test_flash_attn.py): the
  largest absolute error is at most twice the largest absolute error of the
  same computation done naively in the low-precision dtype (every operation
  of the shifted algorithm rounded to the judged dtype, here numpy's own
  ufuncs in that dtype).  Where the naive computation breaks (NaN or inf at a
  finite exact value) its error is infinite and the rule passes anything,
  as the upstream test would.  Only for the functions with a naive form below.
* ``webnn``: the WebNN conformance budget for softmax, 3·N + 3 ulp with N the
  axis length, on the harness's ulp error (measured at the exact value; WebNN
  counts ulps from the float64 reference, within half an ulp of this).  Softmax only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .records import Case

RULES = ("assert_close", "flash_2x", "webnn")
LABELS = {"assert_close": "torch.testing.assert_close (default rtol/atol)",
          "flash_2x": "FlashAttention: error ≤ 2 × naive low-precision error",
          "webnn": "WebNN softmax: 3·N + 3 ulp"}
# torch.testing.assert_close's default (rtol, atol) per dtype.
ASSERT_CLOSE = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
                "float64": (1e-7, 1e-7)}
WITHIN = frozenset({"exact", "faithful", "good", "bounded"})  # within the BHH bound
BEYOND = frozenset({"out-of-bound", "wrong-special"})  # a defect the oracle proves


def _shifted(x: np.ndarray, ax: int) -> tuple[np.ndarray, np.ndarray]:
    m = np.max(x, axis=ax, keepdims=True)
    return m, x - m


def _naive_softmax(x: np.ndarray, ax: int) -> np.ndarray:
    e = np.exp(_shifted(x, ax)[1])
    return e / np.sum(e, axis=ax, keepdims=True)


def _naive_log_softmax(x: np.ndarray, ax: int) -> np.ndarray:
    d = _shifted(x, ax)[1]
    return d - np.log(np.sum(np.exp(d), axis=ax, keepdims=True))


def _naive_logsumexp(x: np.ndarray, ax: int) -> np.ndarray:
    m, d = _shifted(x, ax)
    return np.squeeze(m, ax) + np.log(np.sum(np.exp(d), axis=ax))


def _naive_sigmoid(x: np.ndarray, ax: int) -> np.ndarray:
    one = np.ones((), x.dtype)
    return one / (one + np.exp(-x))


# The same computation done naively, every operation in the judged dtype.
NAIVE: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "softmax": _naive_softmax, "log_softmax": _naive_log_softmax,
    "logsumexp": _naive_logsumexp, "sigmoid": _naive_sigmoid}


def applies(rule: str, function: str) -> bool:
    return rule == "assert_close" or (rule == "flash_2x" and function in NAIVE) or \
        (rule == "webnn" and function == "softmax")


def _abs_err(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| on finite exact elements; inf where got does not match a
    non-finite exact value or is non-finite itself; 0 where it matches."""
    g = got.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(g - exact)
    special = ~np.isfinite(exact)
    same = (g == exact) | (np.isnan(g) & np.isnan(exact))
    err = np.where(special, np.where(same, 0.0, np.inf), err)
    return np.where(np.isnan(err), np.inf, err)


def judge(function: str, case: Case, got: np.ndarray, exact: np.ndarray, rounded: np.ndarray,
          ulp_err: np.ndarray, special: np.ndarray) -> dict[str, bool]:
    """Each applicable rule's pass (True) or fail (False) on one output.
    ``exact``: the exact values (float64, hi); ``rounded``: the correctly
    rounded ones in the judged dtype; ``ulp_err``/``special``: the harness's
    measure (harness.ulp.Measure)."""
    out: dict[str, bool] = {}
    if not got.size:
        return out
    err = _abs_err(got, exact)
    rtol, atol = ASSERT_CLOSE[rounded.dtype.name if rounded.dtype.name in ASSERT_CLOSE else "float64"]
    with np.errstate(invalid="ignore", over="ignore"):
        out["assert_close"] = bool(np.all(err <= atol + rtol * np.where(np.isfinite(exact), np.abs(exact), 0.0)))
    naive = NAIVE.get(function)
    if naive is not None and case.logits.ndim:
        x = case.logits.astype(rounded.dtype)  # exact: the judged dtype is the input's or wider
        with np.errstate(all="ignore"):
            ref = naive(x, case.norm_axis)
        if ref.shape == got.shape:
            out["flash_2x"] = bool(np.max(err) <= 2 * np.max(_abs_err(ref, exact)))
    if function == "softmax":
        budget = 3 * case.row_length + 3
        out["webnn"] = bool(not special.any() and np.all(np.nan_to_num(ulp_err, nan=0.0) <= budget))
    return out


def disagreement(verdict: str, passed: bool) -> str | None:
    """"blind", "too_strict" or None (the rule agrees, or the verdict is neither kind)."""
    if passed and verdict in BEYOND:
        return "blind"
    if not passed and verdict in WITHIN:
        return "too_strict"
    return None


def new_tally() -> dict[str, int]:
    return {"pass": 0, "fail": 0, "blind": 0, "too_strict": 0}


def observe(tally: dict[str, dict[str, int]], verdict: str, rules: dict[str, bool]) -> None:
    """Add one example's rule verdicts to a search's tally (per rule)."""
    for rule, ok in rules.items():
        t = tally.setdefault(rule, new_tally())
        t["pass" if ok else "fail"] += 1
        kind = disagreement(verdict, ok)
        if kind:
            t[kind] += 1


def describe(tallies: dict, verdict: str) -> str:
    """One line for ``check``: each rule's verdict on a search, and where it
    disagrees with the oracle's ``verdict``."""
    parts = []
    for rule in RULES:
        t = tallies.get(rule)
        if not t:
            continue
        passed = not t.get("fail")
        kind = disagreement(verdict, passed)
        tail = {"blind": " (blind: out of bound)", "too_strict": " (too strict: within bound)"}.get(kind or "", "")
        fails = f" on {t['fail']} of {t['pass'] + t['fail']} examples" if not passed else ""
        parts.append(f"{rule} {'pass' if passed else 'FAIL'}{fails}{tail}")
    return "upstream rules: " + "; ".join(parts)

"""The functions the harness judges, and what each one is: one table, read by
the oracle calls, the properties, the budgets and the generator instead of
each keeping its own list of names.  The names are the oracle's
(oracles.api.FUNCTIONS, which defines every function the harness judges; a
self-test holds the two together).  No imports: the CLI parser reads it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Traits:
    """What one function is, as far as judging it goes."""

    output: str  # "elementwise" (one output per input element), "reduced" (the axis goes),
    #              "jacobian" (an n x n matrix per slice), "sparse" (one per stored value)
    row_wise: bool  # one output per element of the slice, moving with it (a permutation moves both)
    probabilities: bool  # a softmax: non-negative, each slice sums to one
    log_domain: bool  # judged in absolute error (log_softmax, logsumexp, cross-entropy)
    shares_sum: bool  # every output of a slice is divided by (or shifted by) one computed S:
    #                   within a slice that error cancels (policy_local.local_budget)
    extras: tuple[str, ...] = ()  # inputs beside the logits (Case fields)


TRAITS: dict[str, Traits] = {
    "softmax": Traits("elementwise", True, True, False, True),
    "log_softmax": Traits("elementwise", True, False, True, True),
    "logsumexp": Traits("reduced", False, False, True, False),
    "sigmoid": Traits("elementwise", False, False, False, False),
    "softmax_jacobian": Traits("jacobian", False, False, False, False),
    "softmax_vjp": Traits("elementwise", True, False, False, False, ("upstream",)),
    "cross_entropy": Traits("reduced", False, False, True, False, ("labels",)),
    "masked_softmax": Traits("elementwise", True, True, False, True, ("mask",)),
    "sparse_softmax": Traits("sparse", False, True, False, False, ("indices",)),
    "sparse_log_softmax": Traits("sparse", False, False, True, False, ("indices",)),
}

ROW_WISE = tuple(f for f, t in TRAITS.items() if t.row_wise)
PROBABILITIES = tuple(f for f, t in TRAITS.items() if t.probabilities)
SHARES_SUM = tuple(f for f, t in TRAITS.items() if t.shares_sum)
REDUCING = tuple(f for f, t in TRAITS.items() if t.output == "reduced")
# Called as fn(x, axis) with nothing else, one value per element or per slice: what a
# kernel author exports test vectors for (softmax-harness vectors).
PLAIN = tuple(f for f, t in TRAITS.items() if not t.extras and t.output in ("elementwise", "reduced"))
# Exhaustively swept in float16/bfloat16 (softmax-harness sweep): one input x per call, as x or [0, x].
SWEPT = ("sigmoid", "softmax", "log_softmax")


def output_shape(function: str, shape: tuple[int, ...], axis: int, n_stored: int = 0) -> tuple[int, ...]:
    """The output shape for logits of ``shape`` reduced along ``axis`` (>= 0);
    ``n_stored``: the stored values of a sparse input."""
    kind = TRAITS[function].output
    if kind == "reduced":
        return shape[:axis] + shape[axis + 1:]
    if kind == "jacobian":
        return shape + (shape[-1],)
    if kind == "sparse":
        return (n_stored,)
    return shape

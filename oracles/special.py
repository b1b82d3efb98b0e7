"""Special-value profiles: what a slice of logits means before any arithmetic.

No standard says what softmax returns for NaN, +inf, all -inf or a fully
masked slice, so the convention is a named, selectable *profile*:

``ieee`` (default; what numpy, torch and jax do)
    NaN or +inf anywhere -> the whole slice is NaN (inf - inf).  All -inf ->
    NaN (0/0).  A -inf among finite entries -> exactly 0 (log: -inf).
``limit`` (mathematical limits)
    +inf entries share probability 1 evenly; all -inf (or all masked) is
    uniform.  NaN still poisons the slice.
``masked``
    -inf, masked-out and fully masked positions give exact zeros; NaN and +inf
    behave as in ``ieee``.

A slice resolves either to a *fill* (every output of the slice is that value)
or to a set of *active* positions with the finite values that stand for them;
inactive positions have probability exactly 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PROFILES = ("ieee", "limit", "masked")


@dataclass(frozen=True)
class Resolved:
    fill: float | None  # not None: the whole slice takes this value
    active: tuple[int, ...] = ()
    values: tuple[float, ...] = ()


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown special-value profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return profile


def resolve(values: Sequence[float], profile: str, keep: Sequence[bool] | None = None) -> Resolved:
    """Resolve one slice of exact logits (Python floats) under ``profile``.

    ``keep`` is an optional mask (True = position takes part).  For the
    ``ieee`` profile a masked-out position acts as -inf.
    """
    n = len(values)
    kept = range(n) if keep is None else [i for i in range(n) if keep[i]]
    vals = [values[i] for i in kept]
    if any(math.isnan(v) for v in vals):
        return Resolved(math.nan)
    pinf = [i for i in kept if values[i] == math.inf]
    if pinf:
        if profile == "limit":
            return Resolved(None, tuple(pinf), (0.0,) * len(pinf))
        return Resolved(math.nan)
    finite = tuple(i for i in kept if math.isfinite(values[i]))
    if finite:
        return Resolved(None, finite, tuple(values[i] for i in finite))
    if n == 0:
        return Resolved(None)
    if profile == "limit":
        return Resolved(None, tuple(range(n)), (0.0,) * n)
    if profile == "masked":
        return Resolved(0.0)
    return Resolved(math.nan)

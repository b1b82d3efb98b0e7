"""The Hypothesis strategy factories the case strategies use, each returning
one strategy object per arguments for the whole process.

A case draws about 30 values, and each draw used to build its strategy
afresh: Hypothesis then looked it up in its own cache (st.integers,
st.floats) or validated a new object and computed its label (every
composite, hnp.arrays, st.one_of), about a fifth of the time a case took
to draw.  A strategy holds no state between draws, so reusing the object
draws exactly what a new one would: the same choices and the same spans,
hence the same cases and the same shrinking.

Modules import this as ``st`` (``from . import reuse as st``): the names
are Hypothesis's, and so is every strategy they return.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from hypothesis import strategies as _st
from hypothesis.extra import numpy as _hnp

F = TypeVar("F", bound=Callable[..., Any])
SIZE = 4096  # strategies kept per factory; args of drawn values (ties' sampled_from) come and go

SearchStrategy = _st.SearchStrategy
DrawFn = _st.DrawFn


def _key(v: Any) -> Any:
    """A hashable key equal only for arguments that build the same strategy:
    floats by their bits (0.0 and -0.0 are different bounds), lists as tuples,
    strategies and callables by identity (the key keeps them alive)."""
    if isinstance(v, (float, np.floating)):
        return float, struct.pack("<d", float(v))
    if isinstance(v, (list, tuple)):
        return type(v), tuple(_key(e) for e in v)
    return type(v), v


def reused(factory: F) -> F:
    """``factory`` that returns the strategy it built before for equal
    arguments (unhashable ones build anew)."""
    cache: dict = {}

    @functools.wraps(factory)
    def get(*args: Any, **kwargs: Any) -> Any:
        try:
            key = (_key(args), _key(tuple(sorted(kwargs.items()))))
            hit = cache.get(key)
        except TypeError:
            return factory(*args, **kwargs)
        if hit is None:
            hit = cache[key] = factory(*args, **kwargs)
            if len(cache) > SIZE:
                cache.pop(next(iter(cache)), None)
        return hit

    return get  # type: ignore[return-value]


def composite(f: Callable[..., Any]) -> Callable[..., SearchStrategy]:
    """``st.composite``, reused per arguments."""
    return reused(_st.composite(f))


integers = reused(_st.integers)
floats = reused(_st.floats)
booleans = reused(_st.booleans)
just = reused(_st.just)
nothing = reused(_st.nothing)
sampled_from = reused(_st.sampled_from)
one_of = reused(_st.one_of)
lists = reused(_st.lists)
permutations = reused(_st.permutations)
arrays = reused(_hnp.arrays)  # hypothesis.extra.numpy.arrays

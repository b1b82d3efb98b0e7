"""The implementation registry.

Built-in adapters live in ``harness.impls.<family>`` and expose ``impls()``,
which builds ``Impl`` records without importing any framework.  Third parties
register through the entry-point group ``softmax_harness.implementations``:
each entry point loads to a callable returning an ``Impl`` or a list of them.
"""

from __future__ import annotations

import fnmatch
import importlib
from functools import lru_cache

from .records import Impl

BUILTIN = (
    "harness.impls.seeds",
    "harness.impls.numpy_impls",
    "harness.impls.torch_impls",
    "harness.impls.tf_impls",
    "harness.impls.keras_impls",
    "harness.impls.jax_impls",
    "harness.impls.numba_impls",
    "harness.impls.cupy_impls",
)
ENTRY_POINT_GROUP = "softmax_harness.implementations"


class UsageError(ValueError):
    """Bad input from a user: reported as one line with exit status 2."""


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[Impl, ...], tuple[str, ...]]:
    found: list[Impl] = []
    problems: list[str] = []
    for name in BUILTIN:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue  # adapter not written for this family
            raise
        found.extend(mod.impls())
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            got = obj() if callable(obj) and not isinstance(obj, Impl) else obj
            found.extend([got] if isinstance(got, Impl) else list(got))
        except Exception as e:  # a broken plugin is reported, not fatal
            problems.append(f"entry point {ep.name}: {type(e).__name__}: {e}")
    seen: dict[str, Impl] = {}
    for impl in found:
        if impl.id in seen:
            problems.append(f"duplicate implementation id {impl.id}")
            continue
        seen[impl.id] = impl
    return tuple(seen.values()), tuple(problems)


def all_impls() -> list[Impl]:
    return list(_load()[0])


def load_problems() -> list[str]:
    return list(_load()[1])


def get(impl_id: str) -> Impl:
    for impl in all_impls():
        if impl.id == impl_id:
            return impl
    raise UsageError(f"unknown implementation {impl_id!r}")


def split_csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def select(patterns: list[str] | None = None, functions: list[str] | None = None,
           families: list[str] | None = None) -> list[Impl]:
    """Implementations matching any glob in ``patterns`` (all if None).

    A glob that matches nothing is a usage error, not an empty run."""
    impls = all_impls()
    if patterns:
        chosen = []
        for pat in patterns:
            hit = [i for i in impls if fnmatch.fnmatchcase(i.id, pat)]
            if not hit:
                raise UsageError(f"no implementation matches {pat!r} (see `softmax-harness list`)")
            chosen.extend(h for h in hit if h not in chosen)
        impls = chosen
    if functions:
        from .records import FUNCTIONS

        bad = [f for f in functions if f not in FUNCTIONS]
        if bad:
            raise UsageError(f"unknown function {bad[0]!r}; expected one of {', '.join(FUNCTIONS)}")
        impls = [i for i in impls if i.function in functions]
    if families:
        impls = [i for i in impls if i.family in families]
    return impls

"""The implementation registry.

Built-in adapters live in ``harness.impls.<family>`` and expose ``impls()``,
which builds ``Impl`` records without importing any framework.  Third parties
register through the entry-point group ``softmax_harness.implementations``:
each entry point loads to a callable returning an ``Impl`` or a list of them.
"""

from __future__ import annotations

import fnmatch
import importlib
import os
from functools import lru_cache

from .errors import UsageError  # noqa: F401  (re-exported: outside code imports it from here)
from .records import Impl
from .targets import load_target

BUILTIN = (
    "harness.impls.seeds",
    "harness.impls.numpy_impls",
    "harness.impls.torch_impls",
    "harness.impls.torch_compiled",
    "harness.impls.attention",
    "harness.impls.attention_causal",
    "harness.impls.tf_impls",
    "harness.impls.tf_sampled",
    "harness.impls.keras_impls",
    "harness.impls.jax_impls",
    "harness.impls.numba_impls",
    "harness.impls.triton_softmax",
    "harness.impls.cupy_impls",
)
ENTRY_POINT_GROUP = "softmax_harness.implementations"
# Unpackaged code: comma-separated ``pkg.mod:callable`` or ``path/to/file.py:callable``
# targets, each returning an Impl or a list of them (no entry point needed).
EXTRA_ENV = "SOFTMAX_HARNESS_IMPLS"


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
    for target in [t.strip() for t in os.environ.get(EXTRA_ENV, "").split(",") if t.strip()]:
        try:
            got = load_target(target)()
            found.extend([got] if isinstance(got, Impl) else list(got))
        except Exception as e:
            problems.append(f"{EXTRA_ENV} {target}: {type(e).__name__}: {e}")
    seen: dict[str, Impl] = {}
    for impl in found:
        if impl.id in seen:
            problems.append(f"duplicate implementation id {impl.id}")
            continue
        seen[impl.id] = impl
    return tuple(seen.values()), tuple(problems)


def env_prefix() -> str:
    """``SOFTMAX_HARNESS_IMPLS=... `` for reproducers when implementations
    come from the environment (a replay needs them registered too)."""
    import shlex

    extra = os.environ.get(EXTRA_ENV)
    return f"{EXTRA_ENV}={shlex.quote(absolute_targets(extra))} " if extra else ""


def absolute_targets(value: str) -> str:
    """``SOFTMAX_HARNESS_IMPLS`` with every ``file.py`` target made absolute
    against the current folder, so that a process started elsewhere (or a
    reproducer pasted in another folder) loads the same files; module targets
    are left as they are."""
    out = []
    for target in (v.strip() for v in value.split(",")):
        if not target:
            continue
        mod_part, sep, name = target.rpartition(":")
        if sep and mod_part.endswith(".py"):
            from pathlib import Path

            target = f"{Path(mod_part).resolve()}:{name}"
        out.append(target)
    return ",".join(out)


def all_impls() -> list[Impl]:
    return list(_load()[0])


def load_problems() -> list[str]:
    return list(_load()[1])


def get(impl_id: str) -> Impl:
    for impl in all_impls():
        if impl.id == impl_id:
            return impl
    raise UsageError(f"unknown implementation {impl_id!r}")


def glob_match(name: str, pattern: str) -> bool:
    """``*`` and ``?`` globs; ``[`` is literal, since ids carry modes in
    brackets (``tf.nn.softmax[onednn=off]``) that fnmatch would read as a
    character class."""
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]"))


def split_csv(value: str | None, option: str | None = None) -> list[str] | None:
    """The items of a comma-separated option; None when it was not given.

    Given but empty (``--dtypes ,``) is a usage error: read as "not given",
    it silently selected everything."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise UsageError(f"{option + ' ' if option else ''}{value!r} is an empty list; name at least one item")
    return items


def select(patterns: list[str] | None = None, functions: list[str] | None = None,
           families: list[str] | None = None) -> list[Impl]:
    """Implementations matching any glob in ``patterns`` (all if None).

    A glob that matches nothing is a usage error, not an empty run."""
    impls = all_impls()
    if patterns:
        chosen = []
        for pat in patterns:
            hit = [i for i in impls if glob_match(i.id, pat)]
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

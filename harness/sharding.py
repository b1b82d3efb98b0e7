"""``--shard K/N`` (plugin ``--harness-shard``, ``run --shard``): shard K of N
of a conformance selection, so that N CI jobs or machines each run one part
and ``merge`` puts the parts back together (reports/shards.py).

The unit of work is a key (implementation id, property, dtype): one test of
the suite.  The keys are the plugin's selection (``--harness-impls``,
``--harness-functions``, ``--harness-dtypes``), computed from the registry
the way the plugin parametrizes the suite, not from what a process happened
to collect: every process (the single one, each xdist worker, the xdist
controller, each of the N jobs) derives the same split from the options
alone, whatever the worker count, hash seed or collection order.  pytest's
own ``-k``/``-m`` narrow each shard further.

Each shard's run record says ``shard: "K/N"`` and ``shard_group``: a digest
of everything the N parts must share to add up to one run (env id aside:
the reader pairs that): N, the budget, the seed and the sorted keys.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    import pytest

    from .session import HarnessConfig

Key = tuple[str, str, str]  # (implementation id, property, dtype)


@dataclass(frozen=True)
class Shard:
    k: int
    n: int

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


def parse(value: str) -> Shard:
    """``K/N`` with whole numbers 1 <= K <= N, or a UsageError saying what is wrong."""
    m = re.fullmatch(r"([0-9]+)/([0-9]+)", value)
    if not m:
        raise UsageError(f"expected K/N (shard K of N), not {value!r}")
    k, n = int(m[1]), int(m[2])
    if not 1 <= k <= n:
        raise UsageError(f"shard {value!r} is out of range; expected 1 <= K <= N")
    return Shard(k, n)


def _order(key: Key) -> bytes:
    return hashlib.sha256("\0".join(key).encode()).digest()


def assign(keys: Iterable[Key], n: int) -> dict[Key, int]:
    """Each key's shard (1..n).

    Round-robin over the keys in a stable hash order: shard sizes differ by at
    most one (a key hashed straight to a shard would leave small selections
    lopsided, and some shards empty), and the hash order spreads every
    implementation, property and dtype over the shards (round-robin over the
    sorted keys would hand, with N=2 and two dtypes, every float32 test to
    one shard and every float64 test to the other).  sha256, not hash():
    the same on every machine whatever PYTHONHASHSEED.  Shards are balanced in
    tests, not in seconds: tests differ in cost."""
    ordered = sorted(set(keys), key=lambda k: (_order(k), k))
    return {k: i % n + 1 for i, k in enumerate(ordered)}


def selection(h: HarnessConfig) -> list[Key]:
    """Every key the plugin parametrizes for ``h``'s options (harness.plugin.pytest_generate_tests)."""
    from .properties import PROPERTIES

    return [(impl.id, prop, dt) for prop in PROPERTIES for impl, dt in h.params(prop)]


def item_key(item: pytest.Function) -> Key:
    """The key of a conformance item (harness.plugin.is_conformance_item)."""
    from .session import SUITE_ATTR

    p: dict[str, Any] = item.callspec.params
    return (p["impl"].id, getattr(item.function, SUITE_ATTR), p["dtype"])


def group(h: HarnessConfig, keys: list[Key], shard: Shard) -> str:
    """What the N shards of one sharded run have in common (see the module docstring)."""
    same = {"n": shard.n, "budget": h.budget, "seed": h.seed.value,
            "database": h.seed.random, "long_rows": bool(h.long_rows),
            "conventions": h.conventions, "keys": sorted(keys)}
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()[:16]


def record(h: HarnessConfig) -> dict:
    """The run record's shard fields."""
    assert h.shard is not None
    keys = selection(h)
    mine = sum(1 for s in assign(keys, h.shard.n).values() if s == h.shard.k)
    return {"shard": str(h.shard), "shard_group": group(h, keys, h.shard), "shard_tests": mine,
            "selection_tests": len(keys)}


def by_implementation(items: list[pytest.Item], is_conformance) -> list[pytest.Item]:
    """The items with the conformance tests ordered by (family, implementation,
    dtype), properties in their collected order within: xdist's ``load``
    scheduler hands out contiguous runs of the list, so a worker then runs
    every property of one implementation in a row, and what that costs once
    per process (importing its framework, a JIT compile per shape: the
    properties draw the same cases) is paid once there instead of in every
    worker.  Other items keep their places ahead of them."""
    conf = [(n, i) for n, i in enumerate(items) if is_conformance(i)]
    if not conf:
        return items
    rest = [i for i in items if not is_conformance(i)]

    def key(ni: tuple[int, pytest.Item]) -> tuple:
        impl, _, dtype = item_key(ni[1])
        return (impl.split(".", 1)[0], impl, dtype, ni[0])

    return rest + [i for _, i in sorted(conf, key=key)]

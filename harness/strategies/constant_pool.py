"""Make Hypothesis's draws depend on the strategy and the seed, not on our source.

Hypothesis (6.13x and later) mixes literals from every *local* module in
``sys.modules`` into about 5% of its integer and float draws
(``providers._get_local_constants``).  For a conformance harness that is a
trap: the ci budget is derandomized and the checked-in baseline records
what its draws find, yet

- adding a number anywhere in ``harness/``, ``oracles/`` or ``reports/``
  changed the pool, hence the cases, hence findings (a refactor that moves no
  verdict could move them all);
- a non-editable install (site-packages is not "local") drew other cases than
  an editable one of the same commit;
- which modules a process happened to import (a pytest-xdist worker that had
  run ``softmax-harness list`` in-process) changed the cases too.

So every exploration runs with a fixed, empty local pool: Hypothesis's own
global constants (pinned with its version) still apply, which already cover
the float edges (0, ±inf, NaN, subnormal and overflow bounds); the regimes in
``hypothesis_helpers`` target softmax's own edges explicitly.
"""

from __future__ import annotations

_installed = False


def fixed_constant_pool() -> None:
    """Replace Hypothesis's local constant pool by a fixed empty one (once per
    process; idempotent).  Call before the first draw of an exploration."""
    global _installed
    if _installed:
        return
    from hypothesis.internal.conjecture import providers

    if hasattr(providers, "_get_local_constants"):  # absent in Hypothesis before local constants
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty
        providers.CONSTANTS_CACHE.cache.clear()  # pools already filtered from the old constants
    _installed = True

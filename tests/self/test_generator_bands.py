"""No blind spots in what `check` draws: a bug confined to one band of 64 row
lengths, to transposed memory, to NaN in some positions, to a float16 running
sum or to a reduced axis of length 1 is caught with check's defaults (dev
budget, 12 examples, seeds 0..3, every dtype).

explore seeds every regime's search alike for every property, so all the
properties of one (dtype, seed) see the same cases: the lengths and layouts
check tries are the ones accuracy tries.  For bugs that give wrong values
whenever they are drawn, accuracy over the four dtypes is check's search; it
is also the cheapest property, and the oracle cache serves every kernel below
(the cases do not depend on the kernel until one fails).
"""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.verdict_kernels import (
    half_sum_softmax,
    length_one_crash_softmax,
    memory_order_softmax,
    nan_first_only_softmax,
    upcast_softmax,
)

from harness import verdicts
from harness.conformance import explore
from harness.records import Impl
from harness.strategies.shape_helpers import SHORT_MAX

SEEDS = (0, 1, 2, 3)
DTYPES = ("float16", "bfloat16", "float32", "float64")  # check's; the cheap ones to judge first
WIDTH = 64
BANDS = sorted(int(a) for a in np.random.default_rng(2026).integers(1, SHORT_MAX - WIDTH + 2, 6))


def _impl(fn, name: str) -> Impl:
    # As check's target_impl builds it.
    return Impl(f"check:{name}", "user", "softmax", lambda c: fn(c.logits, c.axis), risky=True)


def _caught(fn, name: str, seed: int, dtypes=DTYPES) -> str | None:
    """How check (accuracy, see the module docstring) catches ``fn`` with ``seed``, or None."""
    for dtype in dtypes:
        r = explore(_impl(fn, name), dtype, "accuracy", budget="dev", seed=seed)
        if not verdicts.passes(r.verdict):
            shape = r.case["logits"]["shape"] if r.case else "?"
            return f"{dtype}: {r.verdict} on {r.regime} {shape} axis {r.case.get('axis') if r.case else '?'}"
    return None


def _seeds_catching(fn, name: str, need: int, dtypes=DTYPES) -> dict:
    """Seed -> how it was caught (or None), stopping once ``need`` seeds caught it."""
    found: dict = {}
    for seed in SEEDS:
        found[seed] = _caught(fn, name, seed, dtypes)
        if sum(v is not None for v in found.values()) >= need:
            break
    return found


def band_softmax(lo: int):
    """Right except on rows of length lo .. lo + WIDTH - 1, as a kernel with a
    separate path for one size class, where it returns garbage: wrong in every
    regime, so that only what is drawn decides.  (A bug that shows only in some
    regimes, such as a last output never written, which is right wherever that
    output rounds to 0, is caught less often: its band must fall to a run whose
    regime sees it.)"""

    def fn(x, axis=-1):
        out = upcast_softmax(x, axis)
        if x.ndim and lo <= x.shape[axis] < lo + WIDTH:
            out[...] = 0.5
        return out

    return fn


@pytest.mark.parametrize("lo", BANDS)
def test_a_bug_on_one_band_of_64_row_lengths_is_caught_in_3_of_4_seeds(lo):
    found = _seeds_catching(band_softmax(lo), f"band{lo}", need=3)
    assert sum(v is not None for v in found.values()) >= 3, f"rows {lo}..{lo + WIDTH - 1}: {found}"


def test_a_band_past_the_drawn_rows_is_not_caught():
    # Shows that the band tests can fail: without --long-rows no row is longer than SHORT_MAX.
    fn = band_softmax(SHORT_MAX + 1)
    assert (fn(np.zeros(SHORT_MAX + 1)) == 0.5).all() and (fn(np.zeros(SHORT_MAX)) == 1 / SHORT_MAX).all()
    assert _caught(fn, "past", 0, dtypes=("float32",)) is None


def test_a_bug_only_on_transposed_memory_is_caught_in_3_of_4_seeds():
    x = np.arange(12.0).reshape(3, 4) / 7
    assert np.array_equal(memory_order_softmax(x), upcast_softmax(x))  # right on C order
    assert not np.array_equal(memory_order_softmax(np.asfortranarray(x)), upcast_softmax(x))
    found = _seeds_catching(memory_order_softmax, "memory_order", need=3)
    assert sum(v is not None for v in found.values()) >= 3, found


@pytest.mark.parametrize("fn", [half_sum_softmax, nan_first_only_softmax, length_one_crash_softmax],
                         ids=lambda f: f.__name__)
def test_known_defects_are_caught_with_every_seed(fn):
    found = {seed: _caught(fn, fn.__name__, seed) for seed in SEEDS}
    assert all(found.values()), found

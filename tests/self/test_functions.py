"""The function table (harness/functions.py) says what the generator, the
oracle and the budgets do: one row per oracle function, and each function's
extras are exactly the inputs the generator draws for it."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from harness.functions import TRAITS, output_shape
from harness.records import FUNCTIONS, Case
from harness.strategies import cases

EXTRAS = ("mask", "labels", "upstream", "indices")


def test_one_row_per_oracle_function_in_its_order():
    assert tuple(TRAITS) == FUNCTIONS


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_extras_and_output_shape_are_what_the_generator_and_oracle_give(function):
    from harness.evaluate import expected

    seen: list[Case] = []

    @settings(max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(cases(function, "float32"))
    def draw(case):
        seen.append(case)

    draw()
    for case in seen:
        have = tuple(e for e in EXTRAS if getattr(case, e) is not None)
        assert have == TRAITS[function].extras, (function, have)
        n = len(case.indices) if case.indices is not None else 0
        want = output_shape(function, case.logits.shape, case.norm_axis, n)
        assert np.shape(expected(case, function).rounded) == want, (function, case.short(8))

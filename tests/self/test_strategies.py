"""Generator shape guarantees that the search budget relies on."""
from hypothesis import given, settings

from harness.strategies import cases, regimes_for
from harness.strategies.hypothesis_helpers import SHORT_LONG_MAX


def test_long_row_is_the_last_regime_of_row_functions():
    # Last, so that it adds cases without moving the other regimes' derandomized draws.
    for fn in ("softmax", "log_softmax", "logsumexp", "masked_softmax", "softmax_vjp"):
        assert regimes_for(fn)[-1] == "long-row"
        assert "long-row" not in regimes_for(fn, long_row=False)
    assert "long-row" not in regimes_for("softmax_jacobian")  # k x k outputs stay small


@settings(max_examples=15, deadline=None, database=None)
@given(case=cases("softmax", "float32", regimes=("long-row",)))
def test_default_long_rows_pass_1024_and_stay_bounded(case):
    assert 1023 <= case.row_length <= SHORT_LONG_MAX
    assert case.logits.size <= 2 * SHORT_LONG_MAX

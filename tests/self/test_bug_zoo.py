"""Every bug-zoo member is flagged by a property it should fail, within the
ci profile's example budget; no correct control is flagged in any dtype."""

import pytest
from zoo import CONTROLS, MEMBERS

from harness import policy
from harness.conformance import explore
from harness.properties import PROPERTIES, applies
from harness.registry import get


@pytest.mark.parametrize("member", MEMBERS, ids=[m.impl.id for m in MEMBERS])
def test_zoo_member_is_caught(member):
    caught = {}
    for dtype in member.dtypes:
        for prop in member.expect:
            res = explore(member.impl, dtype, prop, profile="ci")
            if not policy.passes(res.verdict):
                caught[(dtype, prop)] = f"{res.verdict}: {res.message[:120]}"
                break
    assert caught, f"{member.impl.id} escaped {member.expect} in {member.dtypes}"
    assert len({d for d, _ in caught}) == len(member.dtypes), f"caught only in {sorted(caught)}"


CONTROL_CELLS = [(c, p) for c in CONTROLS for p in PROPERTIES if applies(p, get(c).function)]


@pytest.mark.parametrize(("control", "prop"), CONTROL_CELLS, ids=[f"{c}-{p}" for c, p in CONTROL_CELLS])
def test_correct_control_is_not_flagged(control, prop):
    impl = get(control)
    for dtype in impl.dtypes:
        res = explore(impl, dtype, prop, profile="ci")
        assert policy.passes(res.verdict), f"{control} {dtype} {prop}: {res.verdict}: {res.message}\n{res.case}"

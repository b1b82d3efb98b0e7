"""Every bug-zoo member is flagged by each property it should fail, in each of
its dtypes, within the ci budget; no correct control is
flagged by any property in any dtype."""

import pytest
from zoo import CONTROLS, MEMBERS, flags

from harness.properties import PROPERTIES, applies
from harness.registry import get

CELLS = [(m, p) for m in MEMBERS for p in m.expect]


@pytest.mark.parametrize(("member", "prop"), CELLS, ids=[f"{m.impl.id}-{p}" for m, p in CELLS])
def test_zoo_member_is_caught(member, prop):
    ok, why = member.impl.availability()
    if not ok:
        pytest.skip(why)  # a member built on a framework that is not installed here
    missed = [d for d in member.dtypes_for(prop) if flags(member.impl, d, prop) is None]
    assert not missed, f"{member.impl.id} escaped {prop} in {missed}"


CONTROL_CELLS = [(c, p) for c in CONTROLS for p in PROPERTIES if applies(p, get(c).function)]


@pytest.mark.parametrize(("control", "prop"), CONTROL_CELLS, ids=[f"{c}-{p}" for c, p in CONTROL_CELLS])
def test_correct_control_is_not_flagged(control, prop):
    impl = get(control)
    said = {d: flags(impl, d, prop) for d in impl.dtypes}
    assert not any(said.values()), f"{control} {prop}: {said}"

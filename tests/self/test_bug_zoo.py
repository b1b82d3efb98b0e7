"""Every bug-zoo member is flagged by each property it should fail, in each of
its dtypes, within the ci budget; no correct control is
flagged by any property in any dtype; a default `check` (its own budget,
every applicable property in every dtype) calls every member non-conformant
under more than one seed."""

import pytest
from zoo import CONTROLS, MEMBERS, flags

from harness import verdicts
from harness.cli import build_parser
from harness.commands.check import _tasks
from harness.conformance import FIXED, explore, fixed
from harness.dtypes import DTYPES
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


CHECK_SEEDS = (0, 1)  # the default seed and another: a defect must not hang on one seed's draws


@pytest.mark.parametrize("seed", CHECK_SEEDS)
@pytest.mark.parametrize("member", MEMBERS, ids=[m.impl.id for m in MEMBERS])
def test_default_check_catches_member(member, seed):
    ok, why = member.impl.availability()
    if not ok:
        pytest.skip(why)
    budget = build_parser().parse_args(["check", "k.py:softmax"]).budget  # check's default, whatever it is
    tasks = _tasks(member.impl.function, list(DTYPES))
    # check runs every task; the member's own (property, dtype) cells first only to stop sooner
    tasks.sort(key=lambda t: (t[1] not in member.expect or t[0] not in member.dtypes_for(t[1]),))
    for dtype, prop in tasks:
        if prop in FIXED:
            results = fixed(member.impl, dtype, prop)
        else:
            results = [explore(member.impl, dtype, prop, budget=budget, seed=seed)]
        if any(not verdicts.passes(r.verdict) for r in results):
            return
    pytest.fail(f"a default check (budget {budget}, seed {seed}) calls {member.impl.id} conformant")

"""Replay a stored case: the engine behind every one-line reproducer.

``replay(case, impl_id, prop)`` re-runs property ``prop`` (every applicable
one when None) of implementation ``impl_id`` (a registry id, or
``check:TARGET:function`` as `softmax-harness check` prints, which loads the
user's function again) on exactly the stored case and returns the Findings;
printed, they read one ``property: verdict: message`` per line.  Without an
implementation it returns the oracle's correctly rounded output of
``function`` (``prop`` may name the function in that case).

``case`` may be a Case, its JSON dict, or that dict as a JSON string.  The
replay runs in this process on purpose: a reproducer of a crash crashes, and
one of a hang hangs.
"""

from __future__ import annotations

from .records import FUNCTIONS, Case, Finding, Impl


class Replayed(list):
    """The findings, printed one per line."""

    def __str__(self) -> str:
        return "\n".join(f"{f.property}: {f.verdict}: {f.message}" for f in self) or "no applicable property"


def resolve(impl_id: str) -> Impl:
    if impl_id.startswith("check:"):
        from .targets import target_impl

        target, _, function = impl_id[len("check:"):].rpartition(":")
        return target_impl(target, function)
    from .registry import get

    return get(impl_id)


def as_case(case_or_json) -> Case:
    if isinstance(case_or_json, Case):
        return case_or_json
    if isinstance(case_or_json, (str, bytes)):
        import json

        case_or_json = json.loads(case_or_json)
    return Case.from_json(case_or_json)


def replay(case_or_json, impl_id: str | None = None, prop: str | None = None, function: str = "softmax"):
    case = as_case(case_or_json)
    if impl_id is None:
        from .evaluate import expected

        if prop in FUNCTIONS:  # replay(case, None, "log_softmax"): the oracle of that function
            function = prop
        return expected(case, function).rounded
    from .properties import PROPERTIES, check_case

    impl = resolve(impl_id)
    if prop is not None and prop not in PROPERTIES:
        raise ValueError(f"unknown property {prop!r}; expected one of {', '.join(PROPERTIES)}")
    if prop == "special_values" and case.regime.startswith("special:"):
        from .special_values import check_class

        name = case.regime.split(":", 1)[1]
        values = case.logits.astype(float).reshape(-1).tolist()
        return Replayed([check_class(impl, case.dtype, name, values)[0]])
    if prop == "upstream" and case.regime.startswith("upstream:"):
        from .upstream_corpus import check_case as check_upstream

        return Replayed([check_upstream(impl, case)])
    found: list[Finding] = check_case(impl, case, [prop] if prop else None)
    return Replayed(found)

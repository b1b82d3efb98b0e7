"""Replay a stored case: the engine behind every one-line reproducer.

``replay(case, impl_id, prop)`` re-runs property ``prop`` (every applicable
one when None) of implementation ``impl_id`` on exactly the stored case and
returns the Findings.  An id of the form ``check:TARGET:function`` (what
`softmax-harness check` prints) loads the user's function again.  Without an
implementation it returns the oracle's correctly rounded output.
"""

from __future__ import annotations

from .records import Case, Finding, Impl


class Replayed(list):
    """The findings, printed one per line."""

    def __str__(self) -> str:
        return "\n".join(f"{f.property}: {f.verdict}: {f.message}" for f in self) or "no applicable property"


def resolve(impl_id: str) -> Impl:
    if impl_id.startswith("check:"):
        from .commands.check import target_impl

        target, _, function = impl_id[len("check:"):].rpartition(":")
        return target_impl(target, function)
    from .registry import get

    return get(impl_id)


def replay(case: Case, impl_id: str | None = None, prop: str | None = None, function: str = "softmax"):
    if impl_id is None:
        from .evaluate import expected

        return expected(case, function).rounded
    from .properties import PROPERTIES, check_case

    impl = resolve(impl_id)
    if prop is not None and prop not in PROPERTIES:
        raise ValueError(f"unknown property {prop!r}; expected one of {', '.join(PROPERTIES)}")
    if prop == "special_values":
        from .special_values import check_class

        name = case.regime.split(":", 1)[1] if case.regime.startswith("special:") else None
        if name is not None:
            values = case.logits.astype(float).reshape(-1).tolist()
            return Replayed([check_class(impl, case.dtype, name, values)[0]])
    found: list[Finding] = check_case(impl, case, [prop] if prop else None)
    return Replayed(found)

"""The property registry: each property turns one implementation's behaviour
on one case into a graded Finding.

A property is one function decorated with ``@register``, which names the
functions it applies to (None: every function).  Nothing else needs to
know about it: the conformance suite (harness/suite) makes one test per
registered property, ``check`` one task per property and dtype, and replay,
the report and the baseline read the name from the Results.

Metamorphic properties (shift, permutation, monotonicity, consistency)
compare outputs with each other; their tolerance is the budget of the
elements involved (harness/judging.py), so a correct implementation cannot
fail them while an accurate one cannot hide a structural bug behind them.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import UsageError
from ..judging import WITNESS, Rejected, Witness
from ..records import FUNCTIONS, Case, Finding, Impl

PropertyFn = Callable[[Impl, Case], Finding]


@dataclass(frozen=True)
class Property:
    """One registered property: its name (as stored in Results), the
    function that judges a case, and the functions it applies to."""

    name: str
    fn: PropertyFn
    functions: tuple[str, ...] | None  # None: every function
    doc: str = ""

    def applies(self, function: str) -> bool:
        return self.functions is None or function in self.functions


# Registration order is the order of tests, check tasks and the report's columns.
PROPERTIES: dict[str, Property] = {}


def register(name: str, functions: Iterable[str] | None = None) -> Callable[[PropertyFn], PropertyFn]:
    """Register ``fn`` as property ``name``, for ``functions`` (None: all).
    A call that breaks its contract inside ``fn`` (judging.checked raises
    Rejected) becomes this property's Finding with that verdict."""
    fns = None if functions is None else tuple(functions)
    unknown = [f for f in fns or () if f not in FUNCTIONS]
    if unknown:
        raise UsageError(f"property {name!r}: unknown function {unknown[0]!r}; expected one of {', '.join(FUNCTIONS)}")

    def decorate(fn: PropertyFn) -> PropertyFn:
        if name in PROPERTIES:
            raise UsageError(f"property {name!r} is registered twice ({PROPERTIES[name].fn.__qualname__} "
                             f"and {fn.__qualname__})")

        @functools.wraps(fn)
        def judged(impl: Impl, case: Case) -> Finding:
            w = Witness(impl, case)
            token = WITNESS.set(w)
            try:
                f = fn(impl, case)
            except Rejected as r:  # output: what the property's own call returned, if it was that call
                return Finding(name, r.finding.verdict, message=r.message(), output=r.output)
            finally:
                WITNESS.reset(token)
            if f.output is None and w.seen is not None:  # what was graded, for the failure's record
                f.output, f.expected = w.seen.out, w.seen.exact.rounded
            return f

        PROPERTIES[name] = Property(name, judged, fns, " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split()))
        return judged

    return decorate


def applies(prop: str, function: str) -> bool:
    return PROPERTIES[prop].applies(function)


def check_case(impl: Impl, case: Case, props: list[str] | None = None) -> list[Finding]:
    """Every applicable property on one case (used by `check` and replay)."""
    reason = impl.unsupported(case)
    if reason:
        return [Finding("capability", "unsupported", message=reason)]
    return [PROPERTIES[p].fn(impl, case) for p in (props or PROPERTIES) if applies(p, impl.function)]


# The modules that register properties, in the order their properties run; a
# module added to this package registers too (after these, by name).
_ORDER = ("basic", "metamorphic", "structure", "sigmoid")
for _name in (*_ORDER, *sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _ORDER)):
    importlib.import_module(f"{__name__}.{_name}")

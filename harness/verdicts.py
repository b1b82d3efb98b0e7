"""The verdicts, best to worst, and what passes: one order for every reader
(the gate, the summary, the report, check's headline, baseline matching).
The tolerances that produce the graded ones are in harness/policy.py."""

from __future__ import annotations

from typing import Any

# Verdicts, best to worst.  The default gate fails on out-of-bound and worse.
GRADES = ("exact", "faithful", "good", "bounded")
VERDICTS = (
    "exact",
    "faithful",
    "good",
    "bounded",
    "ftz",
    "known",
    "unsupported",
    "unavailable",
    "out-of-bound",
    "wrong-special",
    "wrong-dtype",
    "wrong-shape",
    "mutated-input",
    "nondeterministic",
    "error",
    "crash",
    "timeout",
)
PASSING = frozenset({"exact", "faithful", "good", "bounded", "ftz", "known", "unsupported", "unavailable"})
GATES = {
    "bounded": PASSING,
    "good": PASSING - {"bounded", "ftz"},
}
# "Not judged": the verdict of the whole check is INCOMPLETE, not NON-CONFORMANT.
NOT_JUDGED = frozenset({"timeout"})
# The implementation stopped its test (died or hung): nothing inside split its time.
STOPPED = frozenset({"crash", "timeout"})
# The headline names the most actionable failure: numerical defects first,
# then the ones that stop a caller (crash, wrong shape), then the rest.
HEADLINE = ("wrong-special", "out-of-bound", "crash", "nondeterministic", "wrong-shape", "wrong-dtype",
            "mutated-input", "error", "timeout")
_RANK = {v: i for i, v in enumerate(VERDICTS)}


def rank(verdict: str) -> int:
    """Position in VERDICTS, best first; a verdict not listed ranks worst."""
    return _RANK.get(verdict, len(VERDICTS))


def severity(finding: Any) -> tuple[int, float]:
    """Order of findings (anything with ``verdict`` and ``max_ulp``): the verdict, then the larger error."""
    return (rank(finding.verdict), finding.max_ulp or 0.0)


def worst(verdicts: Any) -> str:
    vs = list(verdicts)
    return max(vs, key=rank) if vs else "exact"


def passes(verdict: str, gate: str = "bounded") -> bool:
    return verdict in GATES[gate]

"""0 At a glance: the first screen.  What is wrong (new failures, which make
CI red), how wrong (worst ulp, verdict), where (implementation, dtype,
minimal input, reproducer, likely cause); the counts of new, known and fixed
findings, each a link; the environment in one line.

The console counts failing *tests* (one per property x implementation x
dtype); the report counts *results* (one per regime); both are given.
Fixed findings are the baseline entries that ran and matched no failure
(``harness.baseline.Baseline.stale``), judged in each run's environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness import baseline as B

from ..common import failing
from ..gather import Placed
from ..load import ResultSet
from ..model import Failure, Failures


@dataclass
class Triage:
    new: list[Failure]  # one per root cause, worst first
    n_new_results: int
    n_new_tests: int
    n_known_results: int
    n_known_tests: int
    fixed: list[str]  # baseline entries that no longer fail, described
    baseline: str | None  # the baseline file compared with, None where there was none
    env_line: str
    incomplete: list[str] = field(default_factory=list)  # envs whose run did not finish: red too (run exits 3)
    notes: list[str] = field(default_factory=list)


def _tests(ps: list[Placed]) -> int:
    # a pytest test is one property on one implementation in one dtype, per environment
    return len({(p.env, p.result.impl, p.result.property, p.result.dtype) for p in ps})


def fixed_entries(sets: list[ResultSet], results: list[Placed], baseline: str | Path | None) -> list[str]:
    """Descriptions of the baseline entries that ran here and no longer fail."""
    if baseline is None:
        return []
    base = B.load(baseline)
    fp = {str(rs.dir): {"versions": (rs.env or {}).get("versions") or {}, "cpu": (rs.env or {}).get("cpu")}
          for rs in sets}
    observed = [B.Observed(p.result, fp.get(p.dir)) for p in results]
    return [e.describe() for e in base.stale(observed)]


def env_line(sets: list[ResultSet]) -> str:
    """Every environment in one line: id, device, python, platform."""
    parts = []
    for rs in sets:
        e = rs.env or {}
        dev = e.get("device", "?") + (f" ({e['gpu']})" if e.get("gpu") else "")
        parts.append(f"{rs.label}: {dev}, python {str(e.get('python', '?')).split()[0]}")
    plat = sorted({str((rs.env or {}).get("platform", "?")) for rs in sets})
    return "; ".join(parts) + (f" — {', '.join(plat)}" if plat else "")


def triage_section(sets: list[ResultSet], results: list[Placed], failures: Failures,
                   baseline: str | Path | None) -> Triage:
    new = [p for p in results if failing(p.effective)]
    known = [p for p in results if p.effective == "known"]
    return Triage(
        new=[f for f in failures.shown if f.effective != "known"],
        n_new_results=len(new), n_new_tests=_tests(new),
        n_known_results=len(known), n_known_tests=_tests(known),
        fixed=fixed_entries(sets, results, baseline),
        baseline=str(baseline) if baseline is not None else None,
        env_line=env_line(sets),
        incomplete=[rs.label for rs in sets if rs.partial],
    )

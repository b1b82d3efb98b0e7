"""Known-findings baseline (the xfails file).

A TOML file of ``[[known]]`` entries, each with glob patterns for ``impl``,
``property``, ``dtype`` and ``regime``, an optional ``verdict``, a ``reason``
and an upstream ``link``.  A failing result that matches an entry is
``known`` (xfail); a new failure fails the run; an entry whose
implementation/property/dtype ran and no longer fails is reported as fixed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .registry import UsageError, glob_match

FIELDS = ("impl", "property", "dtype", "regime")


@dataclass
class Entry:
    impl: str
    property: str = "*"
    dtype: str = "*"
    regime: str = "*"
    verdict: str = "*"
    reason: str = ""
    link: str = ""

    def matches(self, r: dict) -> bool:
        return all(glob_match(str(r.get(f, "")), getattr(self, f)) for f in FIELDS + ("verdict",))

    def covers(self, r: dict) -> bool:
        """Same implementation/property/dtype: the entry could have fired."""
        return all(glob_match(str(r.get(f, "")), getattr(self, f)) for f in ("impl", "property", "dtype"))

    def describe(self) -> str:
        return f"{self.impl} {self.property} {self.dtype} {self.regime} ({self.reason})"


# Derandomized (ci) draws depend on the Hypothesis version: the file records
# the one it was made with, so that a different one is named when entries move.
HYPOTHESIS_HEADER = re.compile(r"^# hypothesis == *([0-9][0-9.]*)", re.M)


@dataclass
class Baseline:
    entries: list[Entry] = field(default_factory=list)
    path: Path | None = None
    hypothesis: str | None = None

    def version_note(self, installed: str) -> str | None:
        """A warning line when this baseline was recorded with another Hypothesis."""
        if self.hypothesis and self.hypothesis != installed:
            return (f"baseline {self.path} was recorded with hypothesis {self.hypothesis}, this run uses "
                    f"{installed}: derandomized draws differ, so entries may turn new or stale for that reason alone")
        return None

    def match(self, res) -> Entry | None:
        d = res if isinstance(res, dict) else res.to_json()
        for e in self.entries:
            if e.matches(d):
                return e
        return None

    def stale(self, results: list[dict]) -> list[Entry]:
        """Entries that ran (covered by some result) and matched no failure."""
        from .policy import PASSING

        out = []
        for e in self.entries:
            ran = any(e.covers(r) and r.get("verdict") not in ("unavailable", "unsupported") for r in results)
            fired = any(e.matches(r) and (r.get("known") or r.get("verdict") not in PASSING) for r in results)
            if ran and not fired:
                out.append(e)
        return out


def load(path: str | Path) -> Baseline:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise UsageError(f"xfails file {p} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"xfails file {p} is not valid TOML: {e}") from None
    entries = []
    for i, raw in enumerate(data.get("known", []), 1):
        if "impl" not in raw:
            raise UsageError(f"xfails file {p}: entry {i} has no 'impl'")
        unknown = set(raw) - set(Entry.__dataclass_fields__)
        if unknown:
            raise UsageError(f"xfails file {p}: entry {i} has unknown key(s) {', '.join(sorted(unknown))}")
        entries.append(Entry(**{k: str(v) for k, v in raw.items()}))
    m = HYPOTHESIS_HEADER.search(text)
    return Baseline(entries, p, m.group(1) if m else None)


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def dump(entries: list[Entry], hypothesis: str | None = None) -> str:
    lines = ["# Known findings: failures that are expected, with the reason.",
             "# A new failure fails CI; an entry that stops failing is reported as fixed.",
             "# Rewrite from a run with: softmax-harness baseline --update RESULTS_DIR..."]
    if hypothesis:
        lines.append(f"# hypothesis == {hypothesis} (recorded with; derandomized draws depend on it)")
    lines.append("")
    for e in sorted(entries, key=lambda e: (e.impl, e.property, e.dtype, e.regime)):
        lines.append("[[known]]")
        for f in ("impl", "property", "dtype", "regime", "verdict", "reason", "link"):
            v = getattr(e, f)
            if v or f in FIELDS:
                lines.append(f"{f} = {_q(v)}")
        lines.append("")
    return "\n".join(lines)


def from_results(results: list[dict], old: Baseline | None = None) -> list[Entry]:
    """One entry per failing (impl, property, dtype, regime family), keeping
    the reasons of old entries that still match."""
    from .policy import PASSING

    seen: dict[tuple, Entry] = {}
    for r in results:
        if r.get("verdict") in PASSING and not r.get("known"):
            continue
        regime = "*"  # the minimal case's regime can move between runs; key on impl/property/dtype
        key = (r["impl"], r["property"], r["dtype"], regime)
        if key in seen:
            continue
        prev = old.match(r) if old else None
        # verdict "*": the verdict seen is in the reason; narrow it by hand to
        # be told when, say, out-of-bound turns into wrong-special.
        seen[key] = Entry(r["impl"], r["property"], r["dtype"], regime, "*",
                          prev.reason if prev else f"{r.get('verdict')}: {str(r.get('message', ''))[:160]}",
                          prev.link if prev else "")
    return list(seen.values())

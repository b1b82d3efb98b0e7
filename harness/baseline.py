"""Known-findings baseline (the xfails file).

A TOML file of ``[[known]]`` entries, each with glob patterns for ``impl``,
``property``, ``dtype`` and ``regime``, an optional ``verdict``, a ``reason``,
an upstream ``link`` and optional conditions ``when = { scipy = ">=1.17",
cpu = "avx512_fp16" }`` (package version specifiers; ``cpu`` names flags
that must be present, ``!flag`` absent).  A ``[recorded]`` table holds the
package versions and CPU flags the file was made with.

A failing result that matches an entry whose conditions hold is ``known``
(xfail).  One that matches none is new and fails the run, unless this run's
environment differs from the recorded one in something the result's family
depends on (a package version, a CPU flag): then it is
``environment-dependent``, reported with the differences, not failed.  An
entry whose implementation/property/dtype ran and no longer fails is
reported as fixed (or, where the environment differs, as not reproduced here).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .records import Result
from .registry import glob_match

FIELDS = ("impl", "property", "dtype", "regime")
ENV_DEPENDENT = "environment-dependent"
# The packages a family's numerics (or draws) depend on, beyond ALWAYS.
ALWAYS = ("numpy", "ml_dtypes", "hypothesis")
FAMILY_PACKAGES = {
    "scipy": ("scipy",), "torch": ("torch",), "tensorflow": ("tensorflow-cpu", "tensorflow"),
    "keras": ("keras", "tensorflow-cpu", "tensorflow", "torch", "jax", "jaxlib"),
    "jax": ("jax", "jaxlib"), "numba": ("numba", "llvmlite"), "cupy": ("cupy-cuda12x", "cupy-cuda13x"),
    "triton": ("triton", "torch"),
    "numpy": (), "zoo": (),
}  # other families (seed, user): every recorded package


def _norm(pkg: str) -> str:
    return pkg.lower().replace("_", "-")


def current_fingerprint() -> dict:
    from .environment import fingerprint

    global _CURRENT
    if _CURRENT is None:
        _CURRENT = fingerprint()
    return _CURRENT


_CURRENT: dict | None = None


def _cpu_terms(value) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(t).strip() for t in items if str(t).strip()]


def _check_when(when: dict, where: str) -> dict:
    """Validated conditions: package -> specifier string, cpu -> flags."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from .environment import CPU_FLAGS, PACKAGES

    out = {}
    known = {_norm(p) for p in PACKAGES}
    for k, v in when.items():
        if not (isinstance(v, str) or (k == "cpu" and isinstance(v, list) and all(isinstance(t, str) for t in v))):
            raise UsageError(f"{where}: 'when' {k} must be a string like {'avx2' if k == 'cpu' else '>=1.17'!r}, "
                             f"not {v!r}")
        if k == "cpu":
            for t in _cpu_terms(v):
                if t.lstrip("!") not in CPU_FLAGS:
                    raise UsageError(f"{where}: unknown cpu flag {t!r} in 'when' (known: {', '.join(CPU_FLAGS)})")
            out["cpu"] = ",".join(_cpu_terms(v))
        elif _norm(k) in known:
            try:
                SpecifierSet(str(v))
            except InvalidSpecifier:
                raise UsageError(f"{where}: 'when' {k} = {v!r} is not a version specifier like '>=1.17'") from None
            out[k] = str(v)
        else:
            raise UsageError(f"{where}: unknown 'when' key {k!r} (a package: {', '.join(PACKAGES)}; or cpu)")
    return out


@dataclass
class Entry:
    impl: str
    property: str = "*"
    dtype: str = "*"
    regime: str = "*"
    verdict: str = "*"
    reason: str = ""
    link: str = ""
    when: dict = field(default_factory=dict)

    def holds(self, fp: dict) -> bool:
        """Do the entry's conditions hold in the environment ``fp`` (a fingerprint)?"""
        from packaging.specifiers import SpecifierSet
        from packaging.version import InvalidVersion, Version

        versions = {_norm(k): v for k, v in (fp.get("versions") or {}).items()}
        for k, spec in self.when.items():
            if k == "cpu":
                have = set(fp.get("cpu") or [])
                if not all((t[1:] not in have) if t.startswith("!") else (t in have) for t in _cpu_terms(spec)):
                    return False
                continue
            v = versions.get(_norm(k))
            try:
                if v is None or Version(v) not in SpecifierSet(spec):
                    return False
            except InvalidVersion:
                return False
        return True

    def matches(self, r: Result, fp: dict | None = None) -> bool:
        """Does the entry fire for ``r``, computed in ``fp`` (default: this process)?"""
        return self._fits(r, FIELDS + ("verdict",), fp)

    def covers(self, r: Result, fp: dict | None = None) -> bool:
        """Same implementation/property/dtype, conditions holding: the entry could have fired."""
        return self._fits(r, ("impl", "property", "dtype"), fp)

    def _fits(self, r: Result, names: tuple[str, ...], fp: dict | None) -> bool:
        return all(glob_match(str(getattr(r, f)), getattr(self, f)) for f in names) and self.holds(_env(fp))

    def describe(self) -> str:
        cond = f" when {_when_text(self.when)}" if self.when else ""
        return f"{self.impl} {self.property} {self.dtype} {self.regime}{cond} ({self.reason})"


def _when_text(when: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in when.items())


@dataclass(frozen=True)
class Observed:
    """A result with its run folder's environment (env.json's versions and CPU
    flags; None: no env.json): an entry's ``when`` is judged where it ran."""

    result: Result
    fingerprint: dict | None = None


def _env(fp: dict | None) -> dict:
    """The environment a result was computed in: ``fp`` if given, else this process's."""
    return fp or current_fingerprint()


# Derandomized (ci) draws depend on the Hypothesis version: the file records
# the one it was made with, so that a different one is named when entries move.
HYPOTHESIS_HEADER = re.compile(r"^# hypothesis == *([0-9][0-9.]*)", re.M)


@dataclass
class Baseline:
    entries: list[Entry] = field(default_factory=list)
    path: Path | None = None
    hypothesis: str | None = None
    recorded: dict | None = None  # {"versions": {...}, "cpu": [...]} the file was made with

    def version_note(self, installed: str) -> str | None:
        """A warning line when this baseline was recorded with another Hypothesis."""
        if self.hypothesis and self.hypothesis != installed:
            return (f"baseline {self.path} was recorded with hypothesis {self.hypothesis}, this run uses "
                    f"{installed}: derandomized draws differ, so entries may turn new or stale for that reason alone")
        return None

    def match(self, res: Result, fp: dict | None = None) -> Entry | None:
        return next((e for e in self.entries if e.matches(res, fp)), None)

    def differences(self, family: str | None = None, fp: dict | None = None) -> list[str]:
        """How ``fp`` (default: this process) differs from the recorded
        environment in what ``family`` depends on; [] when nothing is recorded."""
        if not self.recorded:
            return []
        fp = fp or current_fingerprint()
        rec = {_norm(k): v for k, v in (self.recorded.get("versions") or {}).items()}
        now = {_norm(k): v for k, v in (fp.get("versions") or {}).items()}
        pkgs = FAMILY_PACKAGES.get(family or "")
        names = sorted(set(rec) | set(now)) if pkgs is None else [_norm(p) for p in ALWAYS + pkgs]
        out = []
        for p in names:
            if rec.get(p) != now.get(p) and (p in rec or p in now):
                out.append(f"{p} {rec.get(p, 'not recorded')} -> {now.get(p, 'absent')}")
        if "cpu" not in self.recorded:
            out.append("cpu flags not recorded")
        else:
            was, has = set(self.recorded["cpu"]), set(fp.get("cpu") or [])
            out += [f"cpu +{f}" for f in sorted(has - was)] + [f"cpu -{f}" for f in sorted(was - has)]
        return out

    def classify(self, res: Result, fp: dict | None = None) -> str | None:
        """For a failing result: the ``known`` text (an entry's reason, or the
        environment-dependent note), or None for a new finding."""
        entry = self.match(res, fp)
        if entry is not None:
            return entry.reason or "known"
        diff = self.differences(res.family, _env(fp))
        if diff:
            return f"{ENV_DEPENDENT}: not in the baseline, whose environment differs here ({'; '.join(diff)})"
        return None

    def stale(self, observed: list[Observed], fp: dict | None = None) -> list[Entry]:
        """Entries that ran (covered by some result) and matched no failure;
        each result judged in its folder's environment, else ``fp``."""
        from .verdicts import PASSING

        rs = [(o.result, o.fingerprint or fp) for o in observed]  # this process's only if needed (costly)
        return [e for e in self.entries
                if any(e.covers(r, f) and r.verdict not in ("unavailable", "unsupported") for r, f in rs)
                and not any(e.matches(r, f) and (r.known or r.verdict not in PASSING) for r, f in rs)]


class BaselineWarning(UserWarning):
    """A baseline entry that can never match: its implementation glob names
    no registered implementation (a typo, or one since removed)."""


def _unregistered(impl_glob: str, ids: set[str]) -> bool:
    """No registered id matches ``impl_glob``, in any per-process mode: the
    bracketed modes of an id (``[onednn=off]``) depend on the environment
    variables of the process, so an entry for another mode compares by name."""
    base = lambda s: s.split("[", 1)[0]  # noqa: E731
    if "*" not in impl_glob and "?" not in impl_glob:
        return impl_glob not in ids and base(impl_glob) not in {base(i) for i in ids}
    return not any(glob_match(i, impl_glob) or glob_match(base(i), base(impl_glob)) for i in ids)


def load(path: str | Path) -> Baseline:
    import warnings

    from .registry import all_impls
    from .verdicts import VERDICTS

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise UsageError(f"xfails file {p} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"xfails file {p} is a folder, not a TOML file") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"xfails file {p} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UsageError(f"xfails file {p} cannot be read ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"xfails file {p} is not valid TOML: {e}") from None
    stray = sorted(set(data) - {"known", "recorded"})
    if stray:  # [[xfail]] or [[knwon]] read as no entries at all, and every finding then failed as new
        raise UsageError(f"xfails file {p}: unknown table(s) {', '.join(stray)}; entries go under [[known]], "
                         f"the environment under [recorded]")
    known = data.get("known", [])
    if not isinstance(known, list) or not all(isinstance(raw, dict) for raw in known):
        raise UsageError(f"xfails file {p}: 'known' must be an array of tables, each entry under its own "
                         f"[[known]] header (not [known] or known = ...)")
    entries = []
    ids = {i.id for i in all_impls()}
    for i, raw in enumerate(known, 1):
        if "impl" not in raw:
            raise UsageError(f"xfails file {p}: entry {i} has no 'impl'")
        unknown = set(raw) - set(Entry.__dataclass_fields__)
        if unknown:
            raise UsageError(f"xfails file {p}: entry {i} has unknown key(s) {', '.join(sorted(unknown))}")
        when = raw.pop("when", {})
        if not isinstance(when, dict):
            raise UsageError(f"xfails file {p}: entry {i}: 'when' must be a table like {{ scipy = \">=1.17\" }}")
        for k, v in raw.items():  # str(v) made ['x'] the glob "['x']" and 5 the reason "5"
            if not isinstance(v, str):
                raise UsageError(f"xfails file {p}: entry {i}: '{k}' must be a string, not {type(v).__name__}")
        if not any(glob_match(v, raw.get("verdict", "*")) for v in VERDICTS):  # a typo never matches: FIXED
            raise UsageError(f"xfails file {p}: entry {i}: verdict {raw['verdict']!r} matches no verdict "
                             f"({', '.join(VERDICTS)})")
        entries.append(Entry(**raw, when=_check_when(when, f"xfails file {p}: entry {i}")))
        if _unregistered(raw["impl"], ids):
            warnings.warn(f"xfails file {p}: entry {i} (impl {raw['impl']!r}) matches no registered implementation "
                          f"(see `softmax-harness list`)", BaselineWarning, stacklevel=2)
    recorded = data.get("recorded")
    if recorded is not None and not (isinstance(recorded, dict) and isinstance(recorded.get("versions", {}), dict)):
        raise UsageError(f"xfails file {p}: [recorded] must hold a versions table and a cpu list")
    m = HYPOTHESIS_HEADER.search(text)
    hyp = (recorded or {}).get("versions", {}).get("hypothesis") or (m.group(1) if m else None)
    return Baseline(entries, p, hyp, recorded)


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def dump(entries: list[Entry], recorded: dict | None = None) -> str:
    lines = ["# Known findings: failures that are expected, with the reason.",
             "# A new failure fails CI; an entry that stops failing is reported as fixed.",
             "# Rewrite from a run with: softmax-harness baseline --update RESULTS_DIR...",
             "# [recorded]: the environment the entries were seen in (derandomized draws depend on hypothesis);",
             "# a new failure where this run differs in what its family depends on is environment-dependent.",
             ""]
    if recorded:
        lines.append("[recorded]")
        lines.append("cpu = [" + ", ".join(_q(c) for c in recorded.get("cpu") or []) + "]")
        lines.append("[recorded.versions]")
        lines += [f"{_q(k)} = {_q(v)}" for k, v in sorted((recorded.get("versions") or {}).items())]
        lines.append("")
    for e in sorted(entries, key=lambda e: (e.impl, e.property, e.dtype, e.regime, _when_text(e.when))):
        lines.append("[[known]]")
        for f in ("impl", "property", "dtype", "regime", "verdict", "reason", "link"):
            v = getattr(e, f)
            if v or f in FIELDS:
                lines.append(f"{f} = {_q(v)}")
        if e.when:
            lines.append("when = { " + ", ".join(f"{_q(k)} = {_q(v)}" for k, v in e.when.items()) + " }")
        lines.append("")
    return "\n".join(lines)


def from_results(observed: list[Observed], old: Baseline | None = None) -> list[Entry]:
    """One entry per failing (impl, property, dtype, regime family), keeping
    the reasons of old entries that still match."""
    from .verdicts import PASSING

    seen: dict[tuple, Entry] = {}
    for o in observed:
        r = o.result
        if r.verdict in PASSING and not r.known:
            continue
        regime = "*"  # the minimal case's regime can move between runs; key on impl/property/dtype
        key = (r.impl, r.property, r.dtype, regime)
        if key in seen:
            continue
        prev = old.match(r, o.fingerprint) if old else None
        # verdict "*": the verdict seen is in the reason; narrow it by hand to
        # be told when, say, out-of-bound turns into wrong-special.
        seen[key] = Entry(r.impl, r.property, r.dtype, regime, "*",
                          prev.reason if prev else f"{r.verdict}: {r.message[:160]}",
                          prev.link if prev else "", dict(prev.when) if prev else {})
    if old:
        # Conditional entries that do not hold where these results ran are kept:
        # they describe other environments.
        fps = [o.fingerprint for o in observed] or [None]
        kept = [e for e in old.entries if e.when and not any(e.holds(_env(fp)) for fp in fps)]
        return list(seen.values()) + kept
    return list(seen.values())

"""Exhaustive half-precision sweeps: every one of the 65,536 float16 or
bfloat16 bit patterns x, through sigmoid(x) and through softmax/log_softmax of
the rows ``[0, x]`` and ``[x, 0]``, graded against the oracle.

Each implementation is called once per layout on the whole batch (shape
(65536,) for sigmoid, (65536, 2) for the rows), in chunks only where the whole
batch raised.  Finite inputs are graded by ``evaluate.grade_output``: the
conformance suite's budgets (harness/policy.py) and FTZ rule, per element,
summarised per input (the worst element of its row).  The non-finite inputs
(+-inf, every NaN payload) have no ulps: they pass where they follow a
recognised convention (harness/special_values.py), consistently; the output
is shown beside the oracle's under the convention the implementation claims.

``sweep_impl(impl, dtype)`` is one implementation on one dtype (what `bench`
times); ``sweep(impls, dtypes)`` is several, each failure recorded, never
raised.  Oracle values are cached per input within the process
(evaluate.expected), so every implementation of a function shares them.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np

from oracles import FORMATS, PROFILES

from . import verdicts
from .dtypes import HALF
from .evaluate import Graded, contract, expected, grade_output, invoke
from .functions import SWEPT
from .records import Case, Impl
from .special_values import name_convention

FUNCTIONS = SWEPT
DTYPES = HALF
LAYOUTS = {"sigmoid": ("x",), "softmax": ("[0, x]", "[x, 0]"), "log_softmax": ("[0, x]", "[x, 0]")}
N_PATTERNS = 1 << 16
CHUNK = 4096  # rows per call where the whole batch raised
WORST = 10  # inputs listed per sweep
FINITE_BINS = ("0", "(0, 1/2]", "(1/2, 1]")  # then (1, 2], (2, 4], ...: powers of two


def patterns(dtype: str) -> np.ndarray:
    """Every value of ``dtype``, in bit-pattern order 0x0000..0xffff."""
    return np.arange(N_PATTERNS, dtype=np.uint16).view(FORMATS[dtype].dtype)


@dataclass(frozen=True)
class _Inputs:
    """One layout's batch and its finite / non-finite rows as cases of their own."""

    case: Case
    finite: np.ndarray  # bit patterns (= row numbers) of finite x
    nonfinite: np.ndarray
    finite_case: Case
    nonfinite_case: Case


@lru_cache(maxsize=16)
def _inputs(function: str, dtype: str, layout: str) -> _Inputs:
    """Built once per process: the same cases (so the same oracle cache keys) for every implementation."""
    x = patterns(dtype)
    logits = x if function == "sigmoid" else np.stack([np.zeros_like(x), x] if layout == "[0, x]"
                                                     else [x, np.zeros_like(x)], axis=-1)
    ok = np.isfinite(x.astype(np.float32))
    fin, nonfin = np.flatnonzero(ok), np.flatnonzero(~ok)
    regime = f"sweep {layout}"
    return _Inputs(Case(logits, -1, regime), fin, nonfin, Case(logits[fin], -1, regime),
                   Case(logits[nonfin], -1, regime))


@dataclass
class SweepResult:
    """One implementation, function and dtype.  ``histogram``: [label, count,
    kind] per bin, kind "within", "over" (its budget), "ftz" (accepted flushes)
    or "special" (a finite x whose output is NaN/inf where the oracle's is not,
    or the reverse); ``worst``: the worst finite inputs, worst first;
    ``nonfinite``: one entry per class (+inf, -inf, NaN)."""

    impl: str
    family: str
    function: str
    dtype: str
    verdict: str = "exact"
    message: str = ""
    n_inputs: int = 0  # rows graded, over every layout
    max_ulp: float | None = None
    n_over: int = 0  # finite inputs over budget (flushes accepted as ftz not counted)
    histogram: list = field(default_factory=list)
    worst: list = field(default_factory=list)
    nonfinite: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return verdicts.passes(self.verdict)

    def to_json(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        head = f"{self.verdict:<13} {self.impl} {self.function} {self.dtype}"
        if self.n_inputs == 0:
            return f"{head}: {self.message}"
        mu = "-" if self.max_ulp is None else f"{self.max_ulp:.3g}"
        return f"{head}: max {mu} ulp, {self.n_over} of {self.n_inputs} inputs over budget; {self.message}"


def _bin(err: np.ndarray) -> np.ndarray:
    """Bin index of each finite error: 0 exact, 1 (0, 1/2], 2 (1/2, 1], k (2^(k-3), 2^(k-2)]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.ceil(np.log2(np.minimum(err, 2.0 ** 1000))) + 2
    return np.where(err == 0, 0, np.where(err <= 0.5, 1, np.maximum(k, 2))).astype(np.int64)


def bin_label(k: int) -> str:
    return FINITE_BINS[k] if k < len(FINITE_BINS) else f"({2 ** (k - 3)}, {2 ** (k - 2)}]"


def _num(v: float) -> str:
    """A value for the report: exact (float64 holds every half value), NaN and inf spelled out."""
    return repr(float(v))


def _row(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1)


@dataclass
class _Tally:
    """Finite inputs of every layout so far."""

    bins: dict = field(default_factory=dict)
    over: int = 0
    ftz: int = 0
    special: int = 0
    n: int = 0
    max_ulp: float | None = None
    worst: list = field(default_factory=list)  # (key, bit pattern, entry): candidates, sorted at the end
    verdicts: list = field(default_factory=list)

    def add(self, g: Graded, got: np.ndarray, bits: np.ndarray, x: np.ndarray, layout: str) -> None:
        tiers, key, err = _row(g.tiers), _row(g.key), _row(g.meas.err)
        row_tier = tiers.max(axis=1)
        row_err = np.where(np.isnan(err), -np.inf, err).max(axis=1)
        self.verdicts.append(g.verdict)
        self.n += len(bits)
        within = row_tier <= 3
        for k, c in zip(*np.unique(_bin(row_err[within]), return_counts=True)):
            self.bins[int(k)] = self.bins.get(int(k), 0) + int(c)
        # every out-of-bound element a flush, in a dtype where a flush passes (not float16)
        flushed = (row_tier == 4) & (g.ftz and g.verdict == "ftz")
        self.ftz += int(flushed.sum())
        self.over += int(((row_tier == 4) & ~flushed).sum())
        self.special += int((row_tier == 5).sum())
        if np.isfinite(row_err).any():
            m = float(row_err[np.isfinite(row_err)].max())
            self.max_ulp = m if self.max_ulp is None else max(self.max_ulp, m)
        row_key = key.max(axis=1)
        top = np.argsort(-row_key, kind="stable")[:WORST]
        at = key.argmax(axis=1)
        names = verdicts.GRADES + ("out-of-bound", "wrong-special")
        for i in top:  # each row by its worst element (highest tier, then error over budget)
            j = int(at[i])
            bud, e = _row(g.budget.bounded)[i, j], err[i, j]  # the worst element's, so the two compare
            self.worst.append((float(row_key[i]), int(bits[i]), {
                "bits": f"{int(bits[i]):04x}", "x": _num(x[i]), "layout": layout,
                "output": [_num(v) for v in _row(got)[i]],
                "expected": [_num(v) for v in _row(g.exact.rounded)[i]],
                "ulp": float(e) if np.isfinite(e) else None,
                "budget": float(bud) if np.isfinite(bud) else None,
                "grade": "ftz" if flushed[i] else names[int(row_tier[i])]}))

    def histogram(self) -> list:
        top = max(self.bins, default=0)
        out = [[bin_label(k), self.bins.get(k, 0), "within"] for k in range(top + 1)]
        if self.ftz:
            out.append(["flushed (ftz)", self.ftz, "ftz"])
        return out + [[">budget", self.over, "over"], ["non-finite mismatch", self.special, "special"]]


def _one_row(impl: Impl, case: Case) -> bool:
    """Rows of an implementation that takes rank 1 only go one at a time."""
    return impl.ranks is not None and case.logits.ndim not in impl.ranks and 1 in impl.ranks


def _call(impl: Impl, case: Case, notes: list[str]) -> tuple[np.ndarray | None, str, str]:
    """(output, verdict, message): the whole batch at once; where that raised,
    chunks of CHUNK rows; where only rank 1 is taken, one row at a time."""
    one_row = _one_row(impl, case)
    if not one_row:
        oc = invoke(impl, case)
        f = contract(impl, case, oc)
        if f.verdict == "exact":
            return oc.output, "", ""
        if oc.error is None:  # returned, but wrong (shape, dtype, wrote into its input): chunks would not help
            return None, f.verdict, f.message
        notes.append(f"the whole batch raised {oc.error}; called in chunks of {CHUNK} rows")
    else:
        notes.append("takes rank 1 only: called one row at a time")
    size = 1 if one_row else CHUNK
    outs = []
    for start in range(0, case.logits.shape[0], size):
        rows = case.logits[start] if one_row else case.logits[start:start + size]
        sub = Case(rows, -1, case.regime)
        oc = invoke(impl, sub)
        f = contract(impl, sub, oc)
        if f.verdict != "exact":
            return None, f.verdict, f"rows {start}..{start + len(np.atleast_2d(rows)) - 1}: {f.message}"
        outs.append(oc.output)
    return (np.stack(outs) if one_row else np.concatenate(outs)), "", ""


def _nonfinite(impl: Impl, inp: _Inputs, got: np.ndarray, layout: str, classes: dict) -> None:
    """Which conventions each non-finite row follows (the special-values
    property's rule: a row follows a convention where it grades within
    budget under that convention's oracle)."""
    case = inp.nonfinite_case
    dt = impl.judge_dtype(case)
    follows = {}
    for p in PROFILES:
        g = grade_output(impl, case, got, expected(case, impl.function, dt, p))
        follows[p] = _row(g.tiers).max(axis=1) <= 3
    claimed = expected(case, impl.function, dt, impl.profile).rounded
    x = patterns(case.dtype)[inp.nonfinite].astype(np.float64)
    for i, bits in enumerate(inp.nonfinite):
        name = "NaN" if np.isnan(x[i]) else ("+inf" if x[i] > 0 else "-inf")
        matched = {p for p in PROFILES if follows[p][i]}
        c = classes.setdefault(name, {"class": name, "patterns": 0, "unmatched": 0, "common": set(PROFILES),
                                      "shown": None})
        c["patterns"] += 1
        c["common"] &= matched
        c["unmatched"] += not matched
        if c["shown"] is None or (not matched and c["shown"]["matched"]):  # show a failing row where one is
            c["shown"] = {"bits": f"{int(bits):04x}", "layout": layout, "matched": sorted(matched),
                          "output": [_num(v) for v in _row(got)[i]],
                          "expected": [_num(v) for v in _row(claimed)[i]], "profile": impl.profile}


def _close_nonfinite(classes: dict, profile: str) -> tuple[list, str, str]:
    """Entries for the JSON, the worst verdict, and the message of the first failing class."""
    out, verdict, msg = [], "exact", ""
    for c in classes.values():
        s = c.pop("shown")
        common = sorted(c.pop("common"))
        if c["unmatched"]:
            v, why = "wrong-special", f"{c['unmatched']} of {c['patterns']} rows follow no convention"
        elif not common:
            v, why = "wrong-special", "mixed conventions across its rows"
        else:
            v, why = "exact", name_convention(common, None, profile)
        out.append({**c, "verdict": v, "convention": why, "conventions": common, **s})
        if not verdicts.passes(v) and not msg:
            verdict, msg = v, (f"x = {c['class']} (bits {s['bits']}) {s['layout']} -> [{', '.join(s['output'])}]"
                               f": {why} ({profile} expects [{', '.join(s['expected'])}])")
    return out, verdict, msg


def sweep_impl(impl: Impl, dtype: str) -> SweepResult:
    """Every bit pattern of ``dtype`` through ``impl`` (whose function must be
    in FUNCTIONS), graded.  An implementation's exception or wrong output is
    the result's verdict; this raises only on a harness defect."""
    if impl.function not in FUNCTIONS or dtype not in DTYPES:
        raise ValueError(f"no sweep of {impl.function} in {dtype}")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # casts of NaN payloads, exp overflow: expected here
        return _sweep_impl(impl, dtype)


def _sweep_impl(impl: Impl, dtype: str) -> SweepResult:
    res = SweepResult(impl.id, impl.family, impl.function, dtype)
    t0 = time.perf_counter()
    ok, reason = impl.availability()
    if not ok:
        res.verdict, res.message = "unavailable", reason
        return res
    tally, classes, t_call = _Tally(), {}, 0.0
    for layout in LAYOUTS[impl.function]:
        inp = _inputs(impl.function, dtype, layout)
        reason = impl.unsupported(Case(inp.case.logits[0]) if _one_row(impl, inp.case) else inp.case)
        if reason:
            res.verdict, res.message = "unsupported", reason
            return res
        t1 = time.perf_counter()
        got, bad, msg = _call(impl, inp.case, res.notes)
        t_call += time.perf_counter() - t1
        if got is None:
            res.verdict, res.message = bad, f"{layout}: {msg}"
            return res
        got = np.asarray(got)
        fc = inp.finite_case
        ex = expected(fc, impl.function, impl.judge_dtype(fc), impl.profile)
        x = patterns(dtype)[inp.finite].astype(np.float64)
        tally.add(grade_output(impl, fc, got[inp.finite], ex), got[inp.finite], inp.finite, x, layout)
        _nonfinite(impl, inp, got[inp.nonfinite], layout, classes)
    res.nonfinite, nf_verdict, nf_msg = _close_nonfinite(classes, impl.profile)
    res.n_inputs = tally.n + sum(c["patterns"] for c in res.nonfinite)
    res.max_ulp, res.n_over, res.histogram = tally.max_ulp, tally.over + tally.special, tally.histogram()
    tally.worst.sort(key=lambda w: (-w[0], w[1]))  # worst first; ties in bit-pattern order
    res.worst = [w[2] for w in tally.worst[:WORST]]
    res.verdict = verdicts.worst(tally.verdicts + [nf_verdict])
    res.message = _message(res, nf_msg)
    res.seconds = {"calls": round(t_call, 4), "total": round(time.perf_counter() - t0, 4)}
    return res


def _message(res: SweepResult, nf_msg: str) -> str:
    if nf_msg and res.verdict == "wrong-special" and not res.n_over:
        return nf_msg
    if not res.worst:
        return "no finite inputs"
    w = res.worst[0]
    ulp = "NaN/inf mismatch" if w["ulp"] is None else f"{w['ulp']:.3g} ulp"
    bud = "" if w["budget"] is None or w["ulp"] is None else f" (budget {w['budget']:.3g})"
    return (f"worst x = {w['x']} (bits {w['bits']}) {w['layout']}: got [{', '.join(w['output'])}], "
            f"expected [{', '.join(w['expected'])}], {ulp}{bud}")


def sweep(impls: list[Impl], dtypes: list[str], progress=None) -> list[SweepResult]:
    """Every (implementation, dtype); one that fails in any way is recorded
    and the others are still swept.  ``progress(result)`` after each."""
    out = []
    for impl in impls:
        for dtype in dtypes:
            try:
                res = sweep_impl(impl, dtype)
            except Exception as e:  # a defect of ours on this one input set must not lose the others
                first = str(e).splitlines()[0] if str(e) else ""
                res = SweepResult(impl.id, impl.family, impl.function, dtype, "error",
                                  f"sweep failed: {type(e).__name__}: {first}"[:500])
            if res.max_ulp is not None and not math.isfinite(res.max_ulp):
                res.max_ulp = None  # JSON has no inf; the verdict says it
            out.append(res)
            if progress is not None:
                progress(res)
    return out

"""The report's model: what ``reports.render.build`` gives the templates.

One dataclass per thing the page shows.  Values meant for display are
already formatted (``*_text`` fields, ulp counts as text); raw numbers kept
beside them are for sorting and for the page's script.  The views of
stored arrays (``InputSummary``, ``ArrayWindow``) live with the code that
makes them, in ``reports.arrays``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from harness.dtypes import DTYPES
from harness.records import Result

from .arrays import ArrayWindow, InputSummary
from .plot_layout import Histogram, Scatter

# ---------------------------------------------------------------- summary

@dataclass
class EnvSummary:
    id: str
    dir: str
    python: str
    platform: str
    hostname: str
    device: str
    gpu: str | None
    cpu: list[str] | None  # CPU flags that change numerics, when recorded
    modes: dict  # tf_onednn, keras_backend, ... as recorded
    started: str
    finished: str
    complete: bool
    problems: list[str]
    n_results: int
    newer: list[str]  # newer runs left out, and why
    counts: dict[str, int]  # effective verdict -> results
    files: list[str]
    n_impls: int
    n_unavailable: int


@dataclass
class VersionRow:
    package: str
    by_env: list[str]  # one per environment, "–" where not installed


@dataclass
class Summary:
    envs: list[EnvSummary]
    versions: list[VersionRow]
    counts: Counter  # effective verdict -> results, all environments
    verdict_columns: list[str]  # the verdicts that occur, best to worst
    total: int
    n_failing: int
    n_known: int
    offenders: list[MatrixRow]  # worst failing rows first
    unavailable: list[MatrixRow]
    not_run: list[str]  # available implementations no environment selected
    offender_envs: dict[str, list[str]] = field(default_factory=dict)  # impl -> its other failing envs

    @property
    def env_ids(self) -> list[str]:
        return [e.id for e in self.envs]


# ---------------------------------------------------------------- matrix

@dataclass
class Column:
    function: str
    dtypes: list[str]


@dataclass
class MatrixCell:
    verdict: str | None  # None: nothing ran here (not declared, or not run)
    text: str  # what the cell says where it has no verdict
    title: str  # tooltip: the properties run, or why nothing ran
    max_ulp: float | None = None
    max_ulp_text: str = ""
    n_failing: int = 0
    n_known: int = 0
    link: str | None = None  # anchor of the cell's first failure
    shade: str | None = None  # the verdict whose colour the cell takes: a known cell keeps its severity's


@dataclass
class MatrixRow:
    key: int
    label: str
    impl: str
    env: str | None  # set when the implementation ran in several environments
    family: str
    function: str
    device: str
    notes: str
    available: bool
    reason: str  # why unavailable
    cells: dict[str, MatrixCell]  # dtype -> cell
    worst: str
    max_ulp: float | None

    @property
    def first_failure(self) -> str | None:
        return next((c.link for c in self.cells.values() if c.link), None)

    @property
    def n_failing(self) -> int:
        return sum(c.n_failing for c in self.cells.values())


@dataclass
class Matrix:
    columns: list[Column]
    rows: list[MatrixRow]

    @property
    def dtypes(self) -> list[str]:
        return [d for d in DTYPES if any(d in c.dtypes for c in self.columns)]

    @property
    def functions(self) -> list[str]:
        return [c.function for c in self.columns]

    @property
    def families(self) -> list[str]:
        return sorted({m.family for m in self.rows})


# ---------------------------------------------------------------- accuracy

@dataclass
class AccuracyCell:
    value: str  # max ulp as text, or the verdict where no number was found
    raw: float | None  # max ulp, for sorting
    lower_bound: bool  # found by search, not exhaustively: the true max may be larger
    verdict: str
    budget: str
    input: InputSummary | None
    regime: str
    examples: int | None
    message: str
    shade: str = ""  # the verdict whose colour the badge takes (a known one keeps its severity's)


@dataclass
class AccuracyRow:
    key: int
    label: str
    family: str
    function: str
    cells: dict[str, AccuracyCell]  # dtype -> cell
    notes: str


@dataclass
class Accuracy:
    rows: list[AccuracyRow]
    dtypes: list[str]
    unavailable: list[str] = field(default_factory=list)  # rows left out: they never ran here


# ---------------------------------------------------------------- special values

@dataclass
class SpecialImpl:
    key: int
    label: str
    family: str
    profile: str  # the convention the implementation claims


@dataclass
class Returned:
    text: str
    dtypes: list[str]  # named only where dtypes returned different things


@dataclass
class SpecialCell:
    verdict: str
    returned: list[Returned]
    profiles: dict[str, str | None]  # convention -> verdict under it
    convention: str  # the convention followed (per dtype where they differ)
    message: str
    short: str = ""  # the convention(s) followed in a few letters, what the compact cell shows
    shade: str = ""  # the verdict whose colour the cell takes (a known one keeps its severity's)


@dataclass
class SpecialGridRow:
    input_class: str
    cells: list[SpecialCell | None]  # one per implementation, None where not run


@dataclass
class SpecialTable:
    """One function: rows are input classes, columns implementations."""

    function: str
    classes: list[str]
    impls: list[SpecialImpl]
    grid: list[SpecialGridRow]


# ---------------------------------------------------------------- disagreements

@dataclass
class PairDiff:
    a: str
    b: str
    shared: int
    differ: int
    distance: str | None  # max distance in representable numbers, where both outputs were stored


@dataclass
class FunctionAgreement:
    function: str
    dtype: str
    n_cases: int
    groups: list[list[str]]  # implementations that agreed bitwise on every shared case, largest first
    group_ulp: list[tuple[str, str]]  # per group: (max, median) ulp to the oracle, as text
    pairs: list[PairDiff]  # pairs that differ somewhere, most often first
    n_pairs_differ: int
    n_pairs: int

    @property
    def has_distance(self) -> bool:
        return any(p.distance for p in self.pairs)


@dataclass
class SplitCase:
    """A case on which three or more implementations split into groups."""

    function: str
    dtype: str
    case_id: str
    regime: str
    groups: list[tuple[str, list[str]]]  # (output hash, implementations)


@dataclass
class DeviceDtype:
    dtype: str
    cpu: str  # verdict
    gpu: str
    cpu_ulp: str
    gpu_ulp: str
    shared: int
    equal: int


@dataclass
class DeviceComparison:
    name: str
    cpu: str
    gpu: str
    gpu_device: str
    dtypes: list[DeviceDtype]


@dataclass
class Disagreements:
    by_function: list[FunctionAgreement]
    examples: list[SplitCase]  # the first MAX_DISAGREEMENT_CASES
    n_examples: int
    devices: list[DeviceComparison]
    n_gpu_unavailable: int = 0  # GPU implementations that did not run here (no GPU)


# ---------------------------------------------------------------- failures

@dataclass
class Failure:
    index: int
    anchor: str
    rank: int
    max_ulp: float | None
    label: str  # the matrix row's label
    result: Result  # what the card shows of the result itself (impl, dtype, verdict, message...)
    env: str
    effective: str  # "known" where the baseline knows it
    max_ulp_text: str
    budget_text: str
    input: InputSummary | None
    window: ArrayWindow
    reproducer: str
    reproducer_cut: bool
    blob: str | None  # "@reproduce_failure(...)"
    seed: int | None
    src: str  # results file and line
    detail_error: str | None
    also: list[str] = field(default_factory=list)  # other dtypes with the same failure
    cause: str | None = None  # the likely cause, where a signature is recognised
    count: int = 1  # results with this root cause
    properties: list[str] = field(default_factory=list)  # the properties they failed


@dataclass
class Failures:
    shown: list[Failure]
    total: int  # failing results, known ones included
    n_groups: int  # distinct failures
    omitted: int  # results not shown in full
    omitted_by_verdict: dict[str, int]


# ---------------------------------------------------------------- plots

@dataclass
class Plot:
    key: int
    label: str
    family: str
    function: str
    dtypes: list[str]
    n_samples: int
    scatter: Scatter
    histogram: Histogram


# ---------------------------------------------------------------- upstream regressions

@dataclass
class UpstreamCell:
    short: str  # the convention's letter, or the ulps
    verdict: str
    title: str
    shade: str = ""


@dataclass
class UpstreamRow:
    tag: str
    title: str
    url: str
    cells: list  # UpstreamCell | None per implementation


@dataclass
class UpstreamTable:
    function: str
    impls: list  # SpecialImpl
    rows: list[UpstreamRow]


# ---------------------------------------------------------------- upstream rules

@dataclass
class RuleExample:
    """One accuracy result where a rule disagrees with the oracle's verdict."""

    label: str
    dtype: str
    verdict: str
    max_ulp: str
    budget: str
    regime: str
    raw: float  # max ulp, for ordering
    row: int  # its ImplRow's key


@dataclass
class RuleRow:
    """One upstream rule over the whole run (harness/upstream_rules.py)."""

    rule: str
    label: str
    results: int = 0  # accuracy results it judged
    agree: int = 0
    blind: int = 0  # results it passed that the oracle grades out of bound
    too_strict: int = 0  # results it failed that lie within the bound
    example_counts: dict = field(default_factory=lambda: {"judged": 0, "blind": 0, "too_strict": 0})
    per_dtype: dict = field(default_factory=dict)  # dtype -> {results, blind, too_strict}
    blind_top: list[RuleExample] = field(default_factory=list)
    too_strict_top: list[RuleExample] = field(default_factory=list)
    n_blind_listed: int = 0
    n_strict_listed: int = 0


@dataclass
class Rules:
    rows: list[RuleRow]


# ---------------------------------------------------------------- the page

@dataclass
class Report:
    generated: str
    sources: list[str]
    summary: Summary
    matrix: Matrix
    accuracy: Accuracy
    special: list[SpecialTable]
    disagreements: Disagreements
    failures: Failures
    plots: list[Plot]
    summary_line: str = ""
    triage: object = None  # reports.sections.triage.Triage: the first screen
    sweeps: list = field(default_factory=list)  # reports.sweeps.SweepView: the newest exhaustive sweeps found
    rules: Rules = field(default_factory=lambda: Rules([]))  # what the upstream tolerance rules would have said
    upstream: list = field(default_factory=list)  # UpstreamTable per function: the upstream-regression corpus

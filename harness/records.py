"""The four records of the harness: Case, Impl, Finding, Result.

Cases serialise exactly (base64 of the little-endian bytes, plus hex floats for
reading), so any case replays bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from oracles.api import FUNCTIONS as ORACLE_FUNCTIONS
from oracles.formats import dtype_name

from .arrays import Layout, apply_layout, decode_array, encode_array, layout_name
from .dtypes import DTYPES

SCHEMA_VERSION = 1

FUNCTIONS = ORACLE_FUNCTIONS  # the oracle defines every function the harness judges
FAMILIES = ("seed", "numpy", "scipy", "torch", "tensorflow", "keras", "jax", "numba", "triton", "cupy", "user", "zoo")


@dataclass
class Case:
    """One input to check.  ``logits`` is float16, bfloat16, float32 or float64."""

    logits: np.ndarray
    axis: int = -1
    regime: str = "ordinary"
    mask: np.ndarray | None = None  # bool, True = position takes part
    indices: np.ndarray | None = None  # sparse COO (nnz, ndim), sorted, unique
    labels: np.ndarray | None = None  # int class indices or float targets
    upstream: np.ndarray | None = None  # VJP upstream gradient, shape of logits
    # Memory layout of logits (apply_layout); None = C order.  copy() keeps it, so
    # the implementation's private copy has the strides the case was drawn with.
    layout: Layout | None = None

    EXTRAS = ("mask", "indices", "labels", "upstream")

    @property
    def dtype(self) -> str:
        return dtype_name(self.logits.dtype)

    @property
    def id(self) -> str:
        """Stable hash of dtype, shape, axis and the bytes of every array."""
        h = hashlib.sha256()
        h.update(f"{self.dtype}|{self.logits.shape}|{self.axis}|".encode())
        h.update(np.ascontiguousarray(self.logits).tobytes())
        for name in self.EXTRAS:
            a = getattr(self, name)
            if a is not None:
                a = np.ascontiguousarray(a)
                h.update(f"|{name}:{a.dtype.name}:{a.shape}|".encode())
                h.update(a.tobytes())
        if self.layout is not None:  # same values in another layout: another input
            h.update(f"|layout:{list(self.layout[0])}:{list(self.layout[1])}".encode())
        return h.hexdigest()[:16]

    @property
    def norm_axis(self) -> int:
        return self.axis % self.logits.ndim if self.logits.ndim else 0

    @property
    def row_length(self) -> int:
        return self.logits.shape[self.norm_axis] if self.logits.ndim else 1

    def to_json(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "axis": self.axis, "regime": self.regime,
                             "logits": encode_array(self.logits)}
        for name in self.EXTRAS:
            a = getattr(self, name)
            if a is not None:
                d[name] = encode_array(a)
        if self.layout is not None:
            d["layout"] = {"order": list(self.layout[0]), "step": list(self.layout[1])}
        return d

    @classmethod
    def from_json(cls, d: dict) -> Case:
        kw = {name: decode_array(d[name]) for name in cls.EXTRAS if name in d}
        logits, layout = decode_array(d["logits"]), None
        if d.get("layout"):
            layout = (tuple(int(a) for a in d["layout"]["order"]), tuple(int(s) for s in d["layout"]["step"]))
            logits = apply_layout(logits, layout)
        case = cls(logits, int(d.get("axis", -1)), d.get("regime", "ordinary"), **kw, layout=layout)
        if "id" in d and d["id"] != case.id:
            raise ValueError(f"case id mismatch: stored {d['id']}, recomputed {case.id}")
        return case

    def copy(self) -> Case:
        kw = {n: (None if getattr(self, n) is None else getattr(self, n).copy()) for n in self.EXTRAS}
        logits = self.logits.copy() if self.layout is None else apply_layout(self.logits, self.layout)
        return Case(logits, self.axis, self.regime, **kw, layout=self.layout)

    def short(self, limit: int = 8) -> str:
        flat = self.logits.astype(np.float64).reshape(-1)
        vals = ", ".join(repr(float(v)) for v in flat[:limit]) + (", ..." if flat.size > limit else "")
        laid = f" {layout_name(self.layout)}" if self.layout is not None else ""  # a layout-only bug shows here
        return f"{self.dtype}{list(self.logits.shape)} axis={self.axis}{laid} [{vals}]"


@dataclass
class Impl:
    """An implementation under test.  ``fn(case) -> np.ndarray`` is the adapter:
    numpy in, numpy out; it owns conversion, device sync and dtype handling."""

    id: str
    family: str
    function: str
    fn: Callable[[Case], np.ndarray]
    dtypes: tuple[str, ...] = DTYPES
    device: str = "cpu"
    requires: tuple[str, ...] = ()
    notes: str = ""
    ranks: tuple[int, ...] | None = None  # supported ndim; None = any
    last_axis_only: bool = False
    upcasts: dict[str, str] = field(default_factory=dict)  # declared: input dtype -> output dtype
    judge: str = "output"  # accuracy judged in ulps of the "output" dtype, or of the "input" dtype
    risky: bool = False  # run in a child process (user code, compiled extensions)
    probe: Callable[[], str | None] | None = None  # extra availability check -> reason
    profile: str = "ieee"  # special-value convention it claims
    raises_on: tuple[str, ...] = ()  # special-value classes where it declares raising (harness.special_values)
    supports: Callable[[Case], str | None] | None = None  # extra capability check -> reason
    partner: str | None = None  # sigmoid: id of the same framework's softmax (sigmoid_equivalence)

    def availability(self) -> tuple[bool, str]:
        """(available, reason).  Never raises."""
        import importlib.util

        for mod in self.requires:
            try:
                if importlib.util.find_spec(mod) is None:
                    return False, f"{mod} not installed"
            except (ImportError, ValueError) as e:
                return False, f"{mod}: {e}"
        if self.probe is not None:
            try:
                reason = self.probe()
            except Exception as e:  # a probe failing is an availability answer, not a crash
                reason = f"{type(e).__name__}: {e}"
            if reason:
                return False, reason
        return True, ""

    def unsupported(self, case: Case) -> str | None:
        """Reason why this implementation does not claim ``case``, or None."""
        if case.dtype not in self.dtypes:
            return f"dtype {case.dtype} not declared (supports {', '.join(self.dtypes)})"
        nd = case.logits.ndim
        if self.ranks is not None and nd not in self.ranks:
            return f"rank {nd} not supported (supports {self.ranks})"
        if self.last_axis_only and nd and case.norm_axis != nd - 1:
            return f"only the last axis is supported (case axis {case.axis})"
        if self.supports is not None:
            return self.supports(case)
        return None

    def out_dtype(self, case: Case) -> str:
        return self.upcasts.get(case.dtype, case.dtype)

    def judge_dtype(self, case: Case) -> str:
        """dtype whose ulps measure accuracy: the output's, unless the upcast is
        nominal (computed at the input's precision, then widened)."""
        return case.dtype if self.judge == "input" else self.out_dtype(case)

    def call(self, case: Case) -> np.ndarray:
        return np.asarray(self.fn(case))

    def describe(self) -> dict:
        ok, reason = self.availability()
        return {
            "id": self.id,
            "family": self.family,
            "function": self.function,
            "device": self.device,
            "dtypes": list(self.dtypes),
            "available": ok,
            "reason": reason,
            "notes": self.notes,
            "upcasts": dict(self.upcasts),
            "judge": self.judge,
            "ranks": None if self.ranks is None else list(self.ranks),
            "last_axis_only": self.last_axis_only,
            "profile": self.profile,
            "partner": self.partner,
        }


@dataclass
class Finding:
    """What one property says about one output."""

    property: str
    verdict: str
    max_ulp: float | None = None
    worst_index: list[int] | None = None
    message: str = ""
    budget_ulp: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    # What was graded, kept (never written) so that a failure stores these very
    # arrays: computing them again could give others (a nondeterministic
    # implementation), and costs a second call and a second oracle run.
    output: np.ndarray | None = field(default=None, repr=False, compare=False)
    expected: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("output", "expected")}


@dataclass
class Result:
    """One JSON line: identity, inputs, reproduction and context."""

    impl: str
    family: str
    function: str
    property: str
    dtype: str
    regime: str
    verdict: str
    max_ulp: float | None = None
    budget_ulp: float | None = None
    message: str = ""
    worst_index: list[int] | None = None
    case_id: str = ""
    case: dict | None = None
    output: dict | None = None
    expected: dict | None = None
    reproducer: str = ""
    hypothesis: dict | None = None
    device: str = "cpu"
    env: dict = field(default_factory=dict)
    duration: float = 0.0
    # Of duration, the time inside the implementation's own calls (evaluate.invoke);
    # 0 where nothing measured it (the record of a crashed or timed-out test).
    call_seconds: float = 0.0
    stats: dict = field(default_factory=dict)
    known: str | None = None
    schema: int = SCHEMA_VERSION
    time: float = field(default_factory=time.time)

    REQUIRED = ("impl", "function", "property", "dtype", "regime", "verdict", "schema")
    # When and how long: the fields that differ between two runs of the same tests.
    TIMING = ("duration", "call_seconds", "time")

    def to_json(self) -> dict:
        return asdict(self)

    def dumps(self) -> str:
        # A non-finite float that reached stats or the message fields would
        # make the line unwritable and lose the result: map it to None.
        return json.dumps(_finite_tree(self.to_json()), allow_nan=False, default=_json_default,
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, d: object) -> Result:
        """The one validated reader of a result line's object: every field
        checked against its type in this class (fields unknown to this
        version are left out).  Raises ResultError saying what is wrong."""
        if not isinstance(d, dict):
            raise ResultError(f"expected a JSON object, got {type(d).__name__}")
        if "schema" not in d:
            raise ResultError("no schema version (not a softmax-harness result?)")
        if d["schema"] != SCHEMA_VERSION:
            raise ResultError(f"schema version {d['schema']!r}, this harness reads {SCHEMA_VERSION}")
        missing = [k for k in cls.REQUIRED if k not in d]
        if missing:
            raise ResultError(f"missing field(s) {', '.join(missing)}")
        for k, types in _RESULT_TYPES.items():
            v = d.get(k, None)
            if k in d and (not isinstance(v, types) or (isinstance(v, bool) and bool not in types)):
                raise ResultError(f"field {k!r} has type {type(v).__name__}")
        from .verdicts import VERDICTS

        if d["verdict"] not in VERDICTS:  # it would be counted, and ranked as the worst of all
            raise ResultError(f"unknown verdict {d['verdict']!r}; expected one of {', '.join(VERDICTS)}")
        kw = {k: v for k, v in d.items() if k in _RESULT_TYPES}
        # family is not in REQUIRED (readers fall back to impls.json's), yet the
        # constructor needs it: absent, it is "" rather than a TypeError
        kw.setdefault("family", "")
        return cls(**kw)

    @classmethod
    def loads(cls, line: str) -> Result:
        """One JSON Lines line (as ``dumps`` writes it)."""
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise ResultError(f"not valid JSON ({e.msg} at column {e.colno})") from None
        return cls.from_json(d)


class ResultError(ValueError):
    """A result line that cannot be read as a Result: what is wrong with it."""


def _json_types(annotation: str) -> tuple[type, ...]:
    """The JSON types a field annotated ``annotation`` accepts: ``float | None``
    gives (int, float, NoneType); a bool is never a number here."""
    names = {"str": (str,), "float": (int, float), "int": (int,), "list": (list,), "dict": (dict,),
             "None": (type(None),), "bool": (bool,)}
    out: tuple[type, ...] = ()
    for part in annotation.split("|"):
        out += names[part.strip().split("[")[0]]
    return out


_RESULT_TYPES = {f.name: _json_types(str(f.type)) for f in fields(Result)}


def _finite_tree(o):
    if isinstance(o, dict):
        return {k: _finite_tree(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite_tree(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return finite_or_none(float(o))
    return o


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def is_soft(labels: np.ndarray) -> bool:
    """Probability targets (any float dtype, bfloat16 included) rather than class indices."""
    return np.asarray(labels).dtype.kind not in "iub"


def finite_or_none(v: float | None) -> float | None:
    """JSON has no inf/NaN: map them to None (the verdict carries the meaning)."""
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None

"""Exhaustive sweeps (harness/sweep.py) on a page: per implementation,
function and dtype, the verdict, the largest error, the count over budget,
the worst inputs, the non-finite inputs' conventions and a histogram of ulp
errors.

``page_html(doc)`` is one sweep run's self-contained page;
``sweep_section(docs)`` is the same section for the main report, which picks
up ``<results folder>/sweeps/*.json`` (``find``) and shows the newest sweep
of each implementation, function and dtype.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.verdicts import rank

from . import plot_layout
from .common import dtype_order, fmt_time
from .load import LoadError

FORMAT = "softmax-harness-sweep"
FOLDER = "sweeps"


@dataclass
class SweepView:
    impl: str
    family: str
    function: str
    dtype: str
    verdict: str
    message: str
    n_inputs: int
    n_over: int
    max_ulp: float | None
    bins: list  # [label, count, kind]
    worst: list
    nonfinite: list
    notes: list
    seconds: dict
    run: str
    plot: plot_layout.Histogram = field(repr=False, default=None)


def find(dirs) -> list[Path]:
    """Sweep files under ``<dir>/sweeps/`` of each folder named, oldest first (names start with the UTC time)."""
    if isinstance(dirs, (str, Path)):
        dirs = [dirs]
    out = []
    for d in dirs:
        folder = Path(d) / FOLDER
        if folder.is_dir():
            out.extend(sorted(folder.glob("*.json"), key=lambda p: p.name))
    return out


def read(path: Path) -> dict:
    """One sweep run's JSON, checked to be one (a one-line LoadError otherwise)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LoadError(f"{path}: not a readable sweep file ({type(e).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("results"), list):
        raise LoadError(f"{path}: not a softmax-harness sweep file")
    return doc


def _view(r: dict, run: str) -> SweepView:
    bins = [b for b in r.get("histogram", []) if isinstance(b, list) and len(b) == 3]
    v = SweepView(r["impl"], r.get("family", ""), r["function"], r["dtype"], r["verdict"], r.get("message", ""),
                  r.get("n_inputs", 0), r.get("n_over", 0), r.get("max_ulp"), bins, r.get("worst", []),
                  r.get("nonfinite", []), r.get("notes", []), r.get("seconds", {}), run)
    # ftz bars count as within (the dtype accepts them); over-budget and NaN/inf mismatches as over
    short = {"special": "non-finite", "ftz": "ftz"}  # under a bar; the table beside it has the full names
    v.plot = plot_layout.binned([(short.get(b[2], b[0]), b[1], b[2] in ("over", "special")) for b in bins],
                                f"{v.impl} {v.function} {v.dtype}: inputs by ulp error")
    return v


def sweep_section(docs: list[dict]) -> list[SweepView]:
    """The newest sweep of each (implementation, function, dtype) in ``docs``
    (oldest first), failing ones first, then by name."""
    newest: dict[tuple, SweepView] = {}
    for doc in docs:
        for r in doc["results"]:
            if isinstance(r, dict) and {"impl", "function", "dtype", "verdict"} <= set(r):
                newest[(r["impl"], r["function"], r["dtype"])] = _view(r, str(doc.get("run_id", "")))
    return sorted(newest.values(), key=lambda v: (-rank(v.verdict), v.function, v.impl, dtype_order(v.dtype)))


def page_html(doc: dict) -> str:
    """One sweep run as a self-contained HTML page."""
    from .render import _jinja_env

    return _jinja_env().get_template("sweep.html.j2").render(
        sweeps=sweep_section([doc]), run_id=doc.get("run_id", ""), generated=fmt_time(time.time()),
        started=fmt_time(doc.get("started")), fingerprint=doc.get("fingerprint", {}), sweep_number="")

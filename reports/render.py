"""Aggregate results folders and render the self-contained HTML report.

``render(dirs, out_path) -> Path`` is the entry point; ``build(sets)`` gives
the model (``reports.model.Report``) the templates render, and the one-line
summary the CLI prints.  Each section is built by its own module under
``reports/sections/`` from the rows ``reports.gather`` makes.

Everything is aggregated here, so the page stays small for 100k results:
the conformance matrix holds one cell per implementation x dtype, the
special-value matrix one per input class x implementation, plots keep at most
``MAX_PLOT_POINTS`` samples per implementation, and failures are one card
per root cause (new ones always; known ones up to ``max_failures`` cards).

The page opens on "At a glance" (reports/sections/triage.py): new, known and
fixed counts, every new failure, the environment in one line; every other
section's detail sits behind a <details> click, so a full ci run's page
stays within about 15 screens before any click.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

from harness.verdicts import PASSING, VERDICTS, rank

from . import plot_layout
from .common import MAX_FAILURES, PROFILES, VERDICT_COLOURS, fmt_time, fmt_ulp
from .gather import gather
from .load import Dirs, ResultSet, load
from .model import Report
from .sections.accuracy import accuracy_section
from .sections.disagreements import disagreements_section
from .sections.failures import failures_section
from .sections.matrix import matrix_section
from .sections.plots import plots_section
from .sections.rules import rules_section
from .sections.special import special_section
from .sections.summary import summary_line, summary_section
from .sections.triage import triage_section
from .sections.upstream import upstream_section
from .sweeps import find, read, sweep_section


def build(sets: list[ResultSet], max_failures: int = MAX_FAILURES, baseline: str | Path | None = None) -> Report:
    """``baseline``: the known-findings file whose entries that no longer fail
    are listed as fixed (None: none is listed)."""
    g = gather(sets)
    # the matrix links each cell to its first failure, so failures come first
    failures, links = failures_section(g.results, g.rows, max_failures)
    matrix = matrix_section(g.rows, links)
    report = Report(
        generated=fmt_time(time.time()),
        sources=[str(rs.dir) for rs in sets],
        summary=summary_section(sets, g, matrix),
        matrix=matrix,
        accuracy=accuracy_section(g.rows),
        special=special_section(g.rows),
        disagreements=disagreements_section(g.rows),
        failures=failures,
        plots=plots_section(g.rows),
        rules=rules_section(g.rows),
        upstream=upstream_section(g.rows),
        triage=triage_section(sets, g.results, failures, baseline),
    )
    report.summary_line = summary_line(report)
    return report


def data_island(report: Report) -> dict:
    """What the page's script reads (filters, selection summary), as JSON; its
    short keys are the script's, not the model's."""
    return {
        "verdicts": list(VERDICTS), "passing": sorted(PASSING, key=rank),
        "envs": [{"id": e.id, "complete": e.complete, "n": e.n_results, "counts": e.counts, "device": e.device,
                  "gpu": e.gpu, "modes": e.modes} for e in report.summary.envs],
        "rows": [{"key": m.key, "impl": m.impl, "env": m.env, "family": m.family,
                  "function": m.function, "available": m.available, "worst": m.worst,
                  "cells": {d: {"v": c.verdict, "u": c.max_ulp, "nf": c.n_failing} for d, c in m.cells.items()}}
                 for m in report.matrix.rows],
        "failures": {"shown": len(report.failures.shown), "total": report.failures.total},
    }


def _jinja_env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    # data island: |tojson escapes <, >, & and ' so "</script>" in data cannot end the tag
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "allow_nan": False, "default": str}
    env.filters["ulp"] = fmt_ulp
    env.filters["vclass"] = lambda v: "v-" + re.sub(r"[^a-z0-9-]", "", str(v or "none").lower())
    env.filters["px"] = plot_layout.px
    env.globals.update(verdicts=list(VERDICTS), passing=sorted(PASSING, key=rank), colours=VERDICT_COLOURS,
                       profiles=PROFILES)
    return env


def render_model(report: Report) -> str:
    # the sections are the template's top-level names (summary, matrix, ...)
    parts = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
    return _jinja_env().get_template("report.html.j2").render(**parts, data=data_island(report))


def render(dirs: Dirs, out_path: str | Path, max_failures: int = MAX_FAILURES, all_runs: bool = False,
           baseline: str | Path | None = None) -> Path:
    """Render results folders ``dirs`` into one HTML file ``out_path`` (the
    newest complete run of each environment, or every run with ``all_runs``)."""
    out, _ = render_with_model(dirs, out_path, max_failures, all_runs, baseline)
    return out


def render_with_model(dirs: Dirs, out_path: str | Path, max_failures: int = MAX_FAILURES,
                      all_runs: bool = False, baseline: str | Path | None = None) -> tuple[Path, Report]:
    sets = load(dirs, all_runs)
    model = build(sets, max_failures, baseline)
    # `softmax-harness sweep` writes into <results folder>/sweeps/: the newest of each shown too
    model.sweeps = sweep_section([read(p) for p in find(dirs)])
    html = render_model(model)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out, model

"""1 Summary: environments (with what is missing from partial runs),
verdict counts, worst offenders, unavailable implementations, versions; and
the one-line summary the page header and the CLI print."""

from __future__ import annotations

from collections import Counter

from harness.verdicts import VERDICTS, rank

from ..common import failing, fmt_time
from ..gather import Gathered, Placed
from ..load import ResultSet
from ..model import EnvSummary, Matrix, Report, Summary, VersionRow

MAX_OFFENDERS = 12


def _env(rs: ResultSet, results: list[Placed]) -> EnvSummary:
    env = rs.env or {}
    modes = {k: env.get(k) for k in ("tf_onednn", "keras_backend", "jax_x64", "tox_env") if env.get(k) is not None}
    return EnvSummary(
        id=rs.label, dir=str(rs.dir), python=env.get("python", "?"), platform=env.get("platform", "?"),
        hostname=env.get("hostname", "?"), device=env.get("device", "?"), gpu=env.get("gpu"),
        cpu=env.get("cpu"), modes=modes, started=fmt_time(env.get("started")),
        finished=fmt_time(env.get("finished")),
        complete=rs.finished and bool(results), problems=list(rs.problems), n_results=len(results),
        newer=list(rs.newer), counts=dict(Counter(p.effective for p in results)), files=rs.files,
        n_impls=len(rs.impls), n_unavailable=sum(1 for d in rs.impls if not d.get("available", True)),
    )


def summary_section(sets: list[ResultSet], gathered: Gathered, matrix: Matrix) -> Summary:
    results = gathered.results
    counts = Counter(p.effective for p in results)
    envs = [_env(rs, [p for p in results if p.dir == str(rs.dir)]) for rs in sets]
    pkgs = sorted({p for rs in sets for p in ((rs.env or {}).get("versions") or {})})
    versions = [VersionRow(p, [((rs.env or {}).get("versions") or {}).get(p, "–") for rs in sets]) for p in pkgs]
    ranked = sorted((m for m in matrix.rows if m.available and failing(m.worst)),
                    key=lambda m: (-rank(m.worst), -(m.max_ulp or 0.0)))
    # an implementation run in several environments is one offender (its worst row), naming the others
    offenders: list = []
    also: dict[str, list[str]] = {}
    for m in ranked:
        if m.impl in also:
            also[m.impl].append(m.env or "?")
        else:
            also[m.impl] = []
            offenders.append(m)
    offenders = offenders[:MAX_OFFENDERS]
    return Summary(
        envs=envs, versions=versions, counts=counts,
        verdict_columns=[v for v in VERDICTS if counts.get(v)] + sorted(v for v in counts if v not in VERDICTS),
        total=len(results), n_failing=sum(1 for p in results if failing(p.effective)),
        n_known=counts.get("known", 0), offenders=offenders, offender_envs=also,
        unavailable=[m for m in matrix.rows if not m.available], not_run=gathered.not_run,
    )


def summary_line(report: Report) -> str:
    s = report.summary
    n_rows = sum(1 for m in report.matrix.rows if m.available)
    parts = [f"{s.total} results from {len(s.envs)} env(s), {n_rows} implementation(s)"]
    if s.unavailable:
        parts[-1] += f" ({len(s.unavailable)} unavailable)"
    parts.append(", ".join(f"{v} {s.counts[v]}" for v in s.verdict_columns))
    parts.append(f"{s.n_failing} failing" + (f", {s.n_known} known" if s.n_known else ""))
    incomplete = [e.id for e in s.envs if not e.complete]
    if incomplete:
        parts.append("incomplete: " + ", ".join(incomplete))
    return "; ".join(parts)

"""Plain-text summaries of results for terminals: the table, and the
plugin's end-of-session summary of its run."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .records import Result, ResultError
from .verdicts import STOPPED, VERDICTS, worst


def table(results: list[Result]) -> str:
    """One row per implementation: worst verdict, max accuracy ulp and a
    count per verdict.  Columns are as wide as their widest header or cell:
    no id or verdict name is cut (a cut "unsuppor" or "wrong-sp" reads as a
    different word, and two ids cut at the same width become one)."""
    by_impl: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_impl[r.impl].append(r)
    cols = [v for v in VERDICTS if any(r.verdict == v for r in results)]
    rows = []
    for impl in sorted(by_impl):
        rs = by_impl[impl]
        ulps = [r.max_ulp for r in rs if r.max_ulp is not None and r.property == "accuracy"]
        rows.append([impl, worst(r.verdict for r in rs), f"{max(ulps):.3g}" if ulps else "-",
                     *(str(sum(r.verdict == c for r in rs)) for c in cols)])
    head = ["implementation", "worst", "max ulp", *cols]
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]

    def fmt(cells: list[str]) -> str:
        left = [f"{c:<{w}}" for c, w in zip(cells[:2], widths, strict=False)]
        right = [f"{c:>{w}}" for c, w in zip(cells[2:], widths[2:], strict=True)]
        return (" ".join(left) + " " + right[0] + "  " + " ".join(right[1:])).rstrip()

    lines = [fmt(head)]
    lines.append("-" * len(lines[0]))
    return "\n".join(lines + [fmt(r) for r in rows])


def time_split(results: list[Result], top: int = 3) -> str | None:
    """One line: the results' test time, summed over workers (not elapsed
    time), and how much of it was spent inside the implementations' own calls
    (Result.call_seconds: the adapters' conversions and each framework's
    compiles included), the rest being the harness's drawing, oracle and
    judging; then the families whose calls took longest.  A crashed or
    timed-out test's time was measured by nobody inside (call_seconds 0) and
    is most likely the implementation's: it is said apart, in neither part.
    None without timed results."""
    lost = [r for r in results if r.verdict in STOPPED]
    timed = [r for r in results if r.verdict not in STOPPED]
    total = round(sum(r.duration for r in timed))
    if total <= 0 and not lost:
        return None
    calls = round(sum(r.call_seconds for r in timed))
    by_family: dict[str, float] = defaultdict(float)
    for r in timed:
        by_family[r.family or r.impl.partition(".")[0]] += r.call_seconds
    most = [(fam, sec) for fam, sec in sorted(by_family.items(), key=lambda kv: -kv[1])[:top] if sec >= 0.5]
    share = f" ({100 * calls / total:.0f}%)" if total > 0 else ""
    line = (f"time: {total} s of tests (summed over workers), {calls} s{share} inside the implementations' own "
            f"calls, {total - calls} s in the harness (drawing, oracle, judging)")
    if lost:
        line += (f"; {round(sum(r.duration for r in lost))} s in {len(lost)} crashed or timed-out "
                 f"test{'' if len(lost) == 1 else 's'}, not split")
    if most:
        line += "; longest calls: " + ", ".join(f"{fam} {sec:.0f} s" for fam, sec in most)
    return line


def read_run(run_dir: str | Path) -> list[Result]:
    """Every result of one run folder.  A line that is not a result (one cut
    short by a killed writer) is skipped: the summary shows what is there."""
    out = []
    for f in sorted(Path(run_dir).glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            try:
                out.append(Result.loads(line))
            except ResultError:
                continue
    return out


def terminal_summary(terminalreporter, h) -> None:
    """The plugin's end-of-session summary of this session's run: the table,
    INCOMPLETE/QUARANTINED, environment-dependent findings and stale
    baseline entries."""
    import warnings

    import hypothesis

    from . import baseline as baseline_mod
    from .run_ledger import summary_lines

    results = read_run(h.run_dir)
    for line in summary_lines(h, results):
        terminalreporter.write_line(line)
    if not results:
        return
    terminalreporter.write_sep("=", f"softmax-harness: {len(results)} results in {h.run_dir}")
    terminalreporter.write_line(table(results))
    split = time_split(results)
    if split:
        terminalreporter.write_line(split)
    note = h.baseline.version_note(hypothesis.__version__)
    if note:
        terminalreporter.write_line("NOTE: " + note)
    for r in results:
        if (r.known or "").startswith(baseline_mod.ENV_DEPENDENT):
            terminalreporter.write_line(f"ENV-DEPENDENT: {r.impl} {r.property} {r.dtype} [{r.verdict}]: {r.known}")
    # This session's results, computed here: no folder fingerprint, judged in this process's environment.
    for entry in h.baseline.stale([baseline_mod.Observed(r) for r in results]):
        diff = h.baseline.differences(_family_of(entry.impl))
        if diff:
            terminalreporter.write_line(f"NOT REPRODUCED (environment differs: {'; '.join(diff)}): "
                                        f"{entry.describe()}")
            continue
        msg = f"baseline entry no longer fails (fixed?): {entry.describe()}"
        terminalreporter.write_line("FIXED: " + msg)
        warnings.warn(msg, stacklevel=1)


def _family_of(impl_glob: str) -> str | None:
    from .registry import all_impls, glob_match

    fams = {i.family for i in all_impls() if glob_match(i.id, impl_glob)}
    return fams.pop() if len(fams) == 1 else None

"""`softmax-harness drift DIR... --xfails-file baseline.toml`: did an upgrade
change softmax numerics?  Compares results computed in some environment (an
unpinned `tox -e latest`, say) with the baseline and the environment it
records: which package versions and CPU flags differ, which findings
appeared (failures no entry covers) and which disappeared (entries that ran
and no longer fail).  Informational: exit 0 whatever drifted, 2 on bad input."""

from __future__ import annotations

from pathlib import Path

from .. import baseline as B
from ..errors import UsageError
from ..records import Result
from ..verdicts import PASSING
from . import argtypes
from .baseline import read_results, recorded


def register(sub) -> None:
    p = sub.add_parser("drift", help="compare results with the baseline: version changes, findings that "
                                     "appeared or disappeared")
    p.add_argument("dirs", nargs="+", help="result folders (reports/out/results/<env>)")
    p.add_argument("--xfails-file", default="baseline.toml", type=argtypes.existing_file,
                   help="baseline to compare with (default baseline.toml)")
    p.add_argument("-o", "--out", help="also write the drift report to this text file")
    p.add_argument("--all-runs", action="store_true",
                   help="every run of each env (default: the newest complete run of each)")
    p.set_defaults(func=main)


def drift_lines(observed: list[B.Observed], base: B.Baseline, now: dict) -> list[str]:
    """The drift report, one finding per line; each result is matched in its
    run folder's environment (``Observed.fingerprint``)."""
    was = base.recorded or {}
    rec, cur = was.get("versions") or {}, now.get("versions") or {}
    changed = [f"  {p}: {rec.get(p, 'not recorded')} -> {cur.get(p, 'absent')}"
               for p in sorted(set(rec) | set(cur)) if rec.get(p) != cur.get(p)]
    lines = [f"drift against {base.path} ({len(base.entries)} entries) over {len(observed)} results"]
    lines.append(f"package versions changed: {len(changed)}" + ("" if was else " (the baseline records none)"))
    lines += changed
    if "cpu" in was and "cpu" in now:
        gained, lost = sorted(set(now["cpu"]) - set(was["cpu"])), sorted(set(was["cpu"]) - set(now["cpu"]))
        lines.append("cpu flags: " + (", ".join([f"+{f}" for f in gained] + [f"-{f}" for f in lost]) or "same"))
    appeared: dict[tuple[str, str, str], Result] = {}
    for o in observed:
        r = o.result
        if r.verdict in PASSING or base.match(r, o.fingerprint) is not None:
            continue
        appeared.setdefault((r.impl, r.property, r.dtype), r)
    lines.append(f"findings appeared: {len(appeared)}")
    for (impl, prop, dtype), r in sorted(appeared.items()):
        lines.append(f"  + {impl} {prop} {dtype}: {r.verdict}: {r.message[:140]}")
    gone = base.stale(observed)
    lines.append(f"findings disappeared: {len(gone)}")
    lines += [f"  - {e.describe()[:220]}" for e in gone]
    return lines


def main(args) -> int:
    base = B.load(args.xfails_file)
    results = read_results(args.dirs, args.all_runs)
    if not results:
        raise UsageError(f"no results in {', '.join(args.dirs)}")
    lines = drift_lines(results, base, recorded(args.dirs, args.all_runs))
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        try:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot write -o {args.out}: {e.strerror or e}") from None
        print(f"written to {args.out}")
    return 0

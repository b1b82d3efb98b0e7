"""`softmax-harness report` and `softmax-harness merge`.

- ``report DIR... [-o OUT.html] [--all-runs]`` renders one self-contained HTML
  file from results folders (a folder of environment folders, such as
  ``reports/out/results`` or a ``merge`` output, stands for all of them): the
  newest complete run of each environment (harness/results_store.py), or every
  run with ``--all-runs``; an incomplete run is flagged in the report and in
  an ``INCOMPLETE`` line here.
- ``merge DIR... -o DIR`` combines result sets from several tox envs or
  machines into one folder: ``DIR/<env-id>/`` per environment, each with
  ``env.json``, ``impls.json`` and one ``results.jsonl``.  Every input line
  is validated first; a line that cannot be read is refused by file and line
  and nothing is written.  It takes the newest complete run of each env, or
  every run with ``--all-runs`` (one folder each, ``<env-id>@<run-id>``).  Two
  inputs with the same env id from different runs are kept apart
  (``<env-id>@<hostname>``, then ``-2``, ``-3``...); the same run given twice
  is merged once.  The N shards of a sharded run (``run --shard K/N``) become
  one env folder, marked incomplete where a shard is missing
  (reports/shards.py); with ``--all-runs`` every shard stays a run of its own.

Bad input (missing or unreadable folder, corrupt line, wrong schema) is a
one-line error with exit status 2.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from reports.common import MAX_FAILURES

from . import argtypes

DEFAULT_OUT = "reports/out/index.html"
ALL_RUNS_HELP = "every run of each env (default: the newest complete run of each)"


def register(sub) -> None:
    p = sub.add_parser("report", help="render results folders into one self-contained HTML report")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="results folder(s), or folders of them")
    p.add_argument("-o", "--out", default=DEFAULT_OUT, help=f"HTML file to write (default {DEFAULT_OUT})")
    p.add_argument("--max-failures", type=argtypes.non_negative_int, default=MAX_FAILURES,
                   help=f"failure cards shown in full (default {MAX_FAILURES}); past it known findings are counted, "
                        "new failures are always shown")
    p.add_argument("--xfails-file", default=None, metavar="TOML",
                   help="baseline whose entries that no longer fail are listed as fixed "
                        "(default: baseline.toml where there is one)")
    p.add_argument("--all-runs", action="store_true", help=ALL_RUNS_HELP)
    p.set_defaults(func=report_main)

    m = sub.add_parser("merge", help="combine results folders from several envs or machines into one folder")
    m.add_argument("dirs", nargs="+", metavar="DIR", help="results folder(s), or folders of them")
    m.add_argument("-o", "--out", required=True, metavar="DIR", help="folder to write (one subfolder per env)")
    m.add_argument("--all-runs", action="store_true", help=ALL_RUNS_HELP)
    m.set_defaults(func=merge_main)


def report_main(args) -> int:
    from reports.render import render_with_model

    from ..errors import UsageError

    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise UsageError(f"output {out} is a folder; give a file name such as {out / 'index.html'}")
    try:
        path, model = render_with_model(args.dirs, out, args.max_failures, args.all_runs, _baseline(args.xfails_file))
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    print(f"report: {path.resolve()}")
    print(model.summary_line)
    for e in model.summary.envs:
        if not e.complete:
            print(f"INCOMPLETE: {e.id}: {'; '.join(e.problems) or 'incomplete'}")
    return 0


def _baseline(given: str | None) -> Path | None:
    """The baseline to list fixed entries from: the one given (it must exist),
    else ./baseline.toml where there is one."""
    from ..errors import UsageError

    if given is not None:
        if not Path(given).is_file():
            raise UsageError(f"--xfails-file {given}: no such file")
        return Path(given)
    return Path("baseline.toml") if Path("baseline.toml").is_file() else None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", name) or "env"


def merge_main(args) -> int:
    from reports.load import load

    from ..errors import UsageError

    sets = load(args.dirs, args.all_runs)  # validates every line; raises LoadError (exit 2) before anything is written
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {out} exists and is not a folder")
    for rs in sets:
        try:
            if rs.dir.resolve() == out.resolve():
                raise UsageError(f"output {out} is itself one of the inputs; merge into another folder")
        except OSError:
            pass
    if not args.all_runs:
        from reports.shards import combine

        sets = combine(sets)  # the N shards of a sharded run: one run (reports/shards.py)
    chosen: dict[str, tuple] = {}  # folder name -> (env_id, started, hostname)
    plan = []
    skipped = []
    for rs in sets:
        env = rs.env or {}
        ident = (rs.env_id, env.get("started"), env.get("hostname"))
        if ident[1] is not None and ident in chosen.values():
            skipped.append(str(rs.dir))
            plan.append((rs, next(k for k, v in chosen.items() if v == ident)))
            continue
        name = _safe(rs.label if args.all_runs else rs.env_id)
        if name in chosen:
            name = _safe(f"{rs.env_id}@{env.get('hostname') or rs.dir.parent.name}")
            base, k = name, 2
            while name in chosen:
                name, k = f"{base}-{k}", k + 1
        chosen[name] = ident
        plan.append((rs, name))
    try:
        out.mkdir(parents=True, exist_ok=True)
        for rs, name in plan:
            if str(rs.dir) in skipped:
                continue  # the same run given twice: its results are already in
            d = out / name
            d.mkdir(parents=True, exist_ok=True)
            for old in [*d.glob("*.jsonl"), d / "env.json", d / "impls.json"]:
                if old.is_file():
                    old.unlink()
            env = dict(rs.env) if rs.env else {"env_id": rs.env_id, "note": "the source folder had no env.json"}
            if env.get("env_id") != name:
                env["merged_as"] = name
            env["merged_from"] = [*env.get("merged_from", []),
                                  *(str(p.resolve()) for p in rs.parts or [rs.dir])]  # not relative to a cwd
            (d / "env.json").write_text(json.dumps(env, indent=1), encoding="utf-8")
            (d / "impls.json").write_text(json.dumps(rs.impls, indent=1), encoding="utf-8")
            if rs.lines:
                with open(d / "results.jsonl", "w", encoding="utf-8") as fh:
                    for line in rs.lines:
                        fh.write(line.rstrip("\n") + "\n")
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    written = sorted(chosen)
    n = sum(len(rs.results) for rs in sets if str(rs.dir) not in skipped)
    given = sum(len(rs.parts) or 1 for rs in sets if str(rs.dir) not in skipped)
    print(f"merged {n} results from {given} result set(s) into {out.resolve()} "
          f"({len(written)} env folder(s): {', '.join(written)})")
    for s in skipped:
        print(f"  {s}: same run as another input (env id, start time and host), merged once")
    for rs, name in plan:
        if rs.parts and str(rs.dir) not in skipped:
            rec = rs.env or {}
            print(f"  {name}: shards {', '.join(rec.get('shards') or {})} of {rec.get('shard_count')} merged as one run"
                  + (f"; INCOMPLETE: {rec['incomplete']}" if rec.get("incomplete") else ""))
    for rs in sets:
        for p in rs.problems:
            print(f"  note: {rs.dir}: {p}")
    return 0

"""The shards of a sharded run back into one run (``merge``; the split:
harness/sharding.py).

Result sets whose run records say ``shard: "K/N"`` and share an env id and a
``shard_group`` are one sharded run: they become one result set, whose
record lists its shards under ``shards`` and is ``finished`` only when every
shard 1..N is there and finished; otherwise ``incomplete`` says which are
missing or unfinished ("shard 2/3 missing").  A shard given twice (the same
run twice, say two copies of one artifact) counts once; two different runs of
one shard (a retried CI job) give the complete one, else the newer, and a
note names the other, whose folder stays as it was (``--all-runs`` merges every run
apart, shards included).  Sets that are not shards pass through unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from harness.errors import UsageError
from harness.sharding import parse

from .load import ResultSet, shard_only

# Fields of one shard's run record that the combined record replaces.
PER_RUN = ("shard", "session", "run_id", "started", "ended", "finished", "incomplete", "collected", "reported",
           "quarantined", "shard_tests", "shard_empty", "note")
SAME = ("python", "platform", "versions", "cpu", "device", "gpu")  # should agree across shards; noted where not


def combine(sets: list[ResultSet]) -> list[ResultSet]:
    """``sets`` with each sharded run's shards made one set, in input order."""
    groups: dict[tuple, list[ResultSet]] = defaultdict(list)
    order: list[ResultSet | tuple] = []
    for rs in sets:
        env = rs.env or {}
        try:
            shard = parse(str(env["shard"])) if env.get("shard") else None
        except UsageError:
            shard = None  # not a record this harness wrote: left as it is
        if shard is None:
            order.append(rs)
            continue
        key = (rs.env_id, env.get("shard_group"), shard.n)
        if key not in groups:
            order.append(key)
        groups[key].append(rs)
    return [x if isinstance(x, ResultSet) else _one(groups[x], x[2]) for x in order]


def _one(parts: list[ResultSet], n: int) -> ResultSet:
    by_k: dict[int, dict[str, ResultSet]] = defaultdict(dict)
    for rs in parts:
        env = _rec(rs)
        by_k[parse(str(env["shard"])).k].setdefault(str(env.get("run_id") or rs.dir), rs)  # a run given twice: once
    taken, notes = [], []
    for k in sorted(by_k):
        runs = list(by_k[k].values())
        best = max(runs, key=lambda r: (bool(_rec(r).get("finished")), _rec(r).get("started") or 0))
        taken.append(best)
        notes += [f"shard {k}/{n}: run {r.run_id} ({r.dir}) left out, run {best.run_id} taken "
                  f"({'complete' if _rec(best).get('finished') else 'newer'})" for r in runs if r is not best]
    why = [f"shard {k}/{n} missing" for k in range(1, n + 1) if k not in by_k]
    why += [f"shard {_rec(r)['shard']} incomplete ({_rec(r).get('incomplete') or 'no end record'})"
            for r in taken if not _rec(r).get("finished")]
    for f in SAME:
        seen = {repr(_rec(r).get(f)) for r in taken}
        if len(seen) > 1:
            notes.append(f"the shards differ in {f}: not quite one run")
    env = _record(taken, n, why, notes)
    out = ResultSet(dir=taken[0].dir, env=env, label=taken[0].label, parts=[r.dir for r in taken])
    seen_impls: set[str] = set()
    for r in taken:
        out.impls += [d for d in r.impls if d["id"] not in seen_impls]
        seen_impls.update(d["id"] for d in r.impls)
        out.results += r.results
        out.lines += r.lines
        out.sources += r.sources
        out.files += [f"{r.dir.name}/{f}" for f in r.files]
        out.newer += r.newer
        out.problems += [f"shard {_rec(r)['shard']}: {p}" for p in r.problems if p != shard_only(_rec(r)["shard"])]
    if why:
        out.problems.append(f"the run is incomplete: {env['incomplete']}")
    out.problems += notes
    return out


def _record(taken: list[ResultSet], n: int, why: list[str], notes: list[str]) -> dict:
    """One run record for the shards ``taken``: the first's environment, the counts summed."""
    envs = [_rec(r) for r in taken]
    rec: dict[str, Any] = {k: v for k, v in envs[0].items() if k not in PER_RUN}
    rec["run_id"] = f"shards-{envs[0].get('shard_group')}"
    rec["shards"] = {e["shard"]: {k: e.get(k) for k in ("run_id", "hostname", "started", "finished", "incomplete",
                                                         "collected", "reported", "shard_tests", "shard_empty")
                                  if e.get(k) is not None} | {"dir": str(r.dir.resolve())}
                     for e, r in zip(envs, taken, strict=True)}
    rec["shard_count"] = n
    for k in ("collected", "reported"):
        rec[k] = sum(int(e.get(k) or 0) for e in envs)
    quarantined: dict[str, dict] = {}
    for e in envs:
        for impl, q in (e.get("quarantined") or {}).items():  # per shard: each shard's process counted its own
            quarantined.setdefault(impl, {"crashes": 0, "shards": []})
            quarantined[impl]["crashes"] += int(q.get("crashes") or 0)
            quarantined[impl]["shards"].append(e["shard"])
    rec["quarantined"] = quarantined
    starts = [e["started"] for e in envs if isinstance(e.get("started"), (int, float))]
    ends = [e["ended"] for e in envs if isinstance(e.get("ended"), (int, float))]
    if starts:
        rec["started"] = min(starts)
    if ends:
        rec["ended"] = max(ends)
    if why:
        rec["incomplete"] = "; ".join(why)
    else:
        rec["finished"] = max(e["finished"] for e in envs)
    if notes:
        rec["note"] = "; ".join(notes)
    return rec


def _rec(rs: ResultSet) -> dict:
    return rs.env or {}  # every part has one: combine() groups only sets whose record names a shard

"""Read results folders.

An environment's folder (a tox env, a per-process variant, a machine) holds
one run folder per pytest session, ``runs/<run-id>/`` (harness/results_store.py);
a run folder, or a flat folder from ``merge`` or an older harness, holds:

- ``*.jsonl``: one ``Result`` per line (``Result.to_json()``);
- ``env.json``: the run record (``finished`` when every collected conformance
  test reported; ``incomplete`` says why not; neither while it runs or after
  its controller was killed);
- ``impls.json``: ``Impl.describe()`` of every registered implementation.

``load`` takes the newest complete run of each environment, noting in
``problems`` the newer runs it left out and why; ``all_runs=True`` takes every
run, each its own result set labelled ``<env-id>@<run-id>``.

Every line is read by ``Result.loads`` (JSON object, schema version,
required fields, every field's type, a known verdict).  A line that cannot
be read raises :class:`LoadError` naming the file and the line: a report or
a merge built on silently skipped data would be wrong.  The one exception is
an *unterminated* last line that is not JSON: a worker killed while writing
leaves exactly that, and the plugin's contract is that such a worker loses
only the result it was writing; it is dropped and noted in ``problems``.

``ResultSet.sources`` says where each result came from, ``"<file
name>:<line>"`` (``merge`` copies the validated lines verbatim instead).

A folder with no results file, ``env.json`` or ``impls.json`` of its own but
with result subfolders (``reports/out/results``, or a ``merge`` output)
stands for those subfolders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UsageError
from harness.records import Result, ResultError
from harness.results_store import has_runs, is_run, select_runs

Dirs = str | Path | Iterable[str | Path]  # one results folder, or several


class LoadError(UsageError):
    """A results folder or line that cannot be read (one line, exit 2)."""


@dataclass
class ResultSet:
    """One environment's results folder."""

    dir: Path
    env: dict | None = None
    impls: list[dict] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    # parallel to ``results``: the validated source lines, verbatim, for merge,
    # and where each came from ("<file name>:<line>")
    lines: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    label: str = ""  # unique among the sets loaded together (see ``load``)
    newer: list[str] = field(default_factory=list)  # newer runs of this env left out, and why
    parts: list[Path] = field(default_factory=list)  # the shard runs a combined set was made of (reports/shards.py)

    @property
    def run_id(self) -> str | None:
        return str(self.env["run_id"]) if self.env and self.env.get("run_id") else None

    @property
    def env_id(self) -> str:
        if self.env and self.env.get("merged_as"):  # renamed by merge to keep two runs apart
            return str(self.env["merged_as"])
        if self.env and self.env.get("env_id"):
            return str(self.env["env_id"])
        for r in self.results:
            eid = r.env.get("env_id")
            if eid:
                return str(eid)
        return self.dir.name

    @property
    def finished(self) -> bool:
        """The whole run finished: a shard's run is finished as a shard only."""
        return bool(self.env and self.env.get("finished") and not self.env.get("shard"))

    @property
    def partial(self) -> bool:
        return not self.finished or not self.results

    def located(self) -> Iterator[tuple[Result, str]]:
        """Each result with its source location (``"<file name>:<line>"``)."""
        return zip(self.results, self.sources, strict=True)


def shard_only(shard: str) -> str:
    """The problem of a shard's run read alone (harness/sharding.py)."""
    return f"shard {shard} of a sharded run only, not the whole run; `softmax-harness merge` of all its shards is"


def validate_line(text: str, where: str) -> Result:
    """Parse and validate one JSONL line (``Result.loads``); ``where`` is
    ``file:line``, put before what is wrong."""
    try:
        return Result.loads(text)
    except ResultError as e:
        raise LoadError(f"{where}: {e}") from None


def _read_json(p: Path, kind: type):
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise LoadError(f"{p}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise LoadError(f"{p}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise LoadError(f"{p}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(data, kind):
        raise LoadError(f"{p}: expected a JSON {'object' if kind is dict else 'list'}")
    return data


def _read_jsonl(p: Path, rs: ResultSet) -> None:
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise LoadError(f"{p}: cannot read ({e.strerror or e})") from None
    lines = raw.split(b"\n")
    last = len(lines) - 1
    for i, bline in enumerate(lines):
        if not bline.strip():
            continue
        where = f"{p}:{i + 1}"
        try:
            text = bline.decode("utf-8")
        except UnicodeDecodeError:
            raise LoadError(f"{where}: not UTF-8 text") from None
        if i == last:  # no newline after it: possibly cut short by a killed writer
            try:
                json.loads(text)
            except json.JSONDecodeError:
                rs.problems.append(f"{p.name}:{i + 1}: last line is cut short (writer killed?); ignored")
                continue
        rs.results.append(validate_line(text, where))
        rs.lines.append(text)
        rs.sources.append(f"{p.name}:{i + 1}")


def _is_results_dir(p: Path) -> bool:
    return is_run(p) or has_runs(p)


def expand(dirs: Iterable[str | Path]) -> list[Path]:
    """Results folders named by ``dirs`` (parents stand for their subfolders).

    A named folder holding nothing at all is kept as an (empty, partial)
    results folder when other folders have results, e.g. an environment that
    crashed before writing anything; alone, it is an error."""
    out: list[Path] = []
    empty: list[Path] = []
    for d in dirs:
        p = Path(d)
        if not p.exists():
            raise LoadError(f"results folder {p} does not exist")
        if not p.is_dir():
            raise LoadError(f"{p} is not a folder (expected a results folder)")
        try:
            if _is_results_dir(p):
                out.append(p)
                continue
            subs = sorted(s for s in p.iterdir() if s.is_dir() and _is_results_dir(s))
        except OSError as e:
            raise LoadError(f"results folder {p} cannot be read ({e.strerror or e})") from None
        if not subs:
            empty.append(p)
            continue
        out.extend(subs)
    if empty and not out:
        raise LoadError(f"{empty[0]} holds no results (no *.jsonl, env.json or impls.json, nor subfolders with them)")
    out.extend(empty)
    seen, uniq = set(), []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            uniq.append(p)
    return uniq


def load_dir(p: Path) -> ResultSet:
    p = Path(p)
    rs = ResultSet(dir=p)
    env_p, impls_p = p / "env.json", p / "impls.json"
    if env_p.is_file():
        rs.env = _read_json(env_p, dict)
        if rs.env.get("note"):
            rs.problems.append(str(rs.env["note"]))
        if rs.env.get("shard"):
            rs.problems.append(shard_only(rs.env["shard"]))
        if rs.env.get("incomplete"):
            rs.problems.append(f"the run is incomplete: {rs.env['incomplete']}")
        elif not rs.env.get("finished"):
            rs.problems.append("env.json has no 'finished' time: the run did not complete")
    else:
        rs.problems.append("env.json is missing")
    if impls_p.is_file():
        rs.impls = _read_json(impls_p, list)
        for i, d in enumerate(rs.impls):
            if not isinstance(d, dict) or not isinstance(d.get("id"), str):
                raise LoadError(f"{impls_p}: entry {i + 1} is not an implementation description")
    else:
        rs.problems.append("impls.json is missing (unavailable implementations cannot be listed)")
    files = sorted(p.glob("*.jsonl"))
    for f in files:
        _read_jsonl(f, rs)
        rs.files.append(f.name)
    if not files:
        rs.problems.append("no results (*.jsonl) in this folder")
    elif not rs.results:
        rs.problems.append("the results files are empty")
    return rs


def load(dirs: Dirs, all_runs: bool = False) -> list[ResultSet]:
    """Load every results folder named by ``dirs`` (see :func:`expand`): the
    newest complete run of each, or every run with ``all_runs``."""
    if isinstance(dirs, (str, Path)):
        dirs = [dirs]
    sets = []
    for p in expand(dirs):
        for run, notes in select_runs(p, all_runs):
            rs = load_dir(run)
            rs.newer = notes
            rs.problems += notes
            sets.append(rs)
    taken: set[str] = set()
    for rs in sets:  # two folders with the same env id (two machines, not merged) stay apart
        label = f"{rs.env_id}@{rs.run_id}" if all_runs and rs.run_id else rs.env_id
        if label in taken:
            label = f"{rs.env_id}@{(rs.env or {}).get('hostname') or rs.dir.parent.name}"
        base, k = label, 2
        while label in taken:
            label, k = f"{base}-{k}", k + 1
        taken.add(label)
        rs.label = label
    return sets

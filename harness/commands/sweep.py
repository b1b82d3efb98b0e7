"""`softmax-harness sweep`: exhaustive half-precision sweeps (harness/sweep.py).

Every float16 and bfloat16 bit pattern x through sigmoid, and through
softmax/log_softmax of ``[0, x]`` and ``[x, 0]``, for each selected
implementation.  Writes ``<out>/sweeps/<run-id>.json`` (a new file each run,
never one already there) and ``<run-id>.html`` beside it; ``softmax-harness
report <out>`` shows the newest sweeps too.  Prints one line per
(implementation, function, dtype) and the page's path.  Exit status 0 when
every sweep is within budget, 1 when any is not (over budget, a wrong special
value, an error), 2 on a usage error.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from argparse import ArgumentTypeError
from collections.abc import Callable
from pathlib import Path

from ..functions import SWEPT
from . import argtypes

DEFAULT_OUT = "reports/out/results"  # the results folder: `report` on it picks the sweeps up


def register(sub) -> None:
    p = sub.add_parser("sweep", help="every float16/bfloat16 input through sigmoid, softmax and log_softmax")
    p.add_argument("--impls", type=argtypes.csv_items, help="comma-separated id globs (default: all)")
    p.add_argument("--functions", type=_one_of("function", _functions),
                   help=f"comma-separated, of {','.join(SWEPT)} (default: those the implementations have)")
    p.add_argument("--dtypes", type=_one_of("dtype", _dtypes),
                   help="comma-separated, of the half-precision dtypes (default: both)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder; files go to OUT/sweeps/ (default {DEFAULT_OUT})")
    p.set_defaults(func=main)


def _functions() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from ..records import FUNCTIONS

    return SWEPT, FUNCTIONS


def _dtypes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from ..dtypes import DTYPES, HALF  # read when a value is parsed: building the parser imports nothing heavy

    return HALF, DTYPES


def _one_of(what: str, lists: Callable[[], tuple[tuple[str, ...], tuple[str, ...]]]) -> Callable[[str], list[str]]:
    """A list option whose items must be swept ones; ``lists()`` gives (swept,
    known), so that a known item is told apart from a typo."""
    def parse(value: str) -> list[str]:
        swept, known = lists()
        items = argtypes.csv_items(value)
        for item in items:
            if item not in swept:
                why = ("has too many bit patterns to sweep" if what == "dtype" else "is not swept") \
                    if item in known else "is unknown"
                raise ArgumentTypeError(f"{what} {item!r} {why}; expected one of {', '.join(swept)}")
        return items

    parse.__name__ = f"{what} list"
    return parse


def write_new(folder: Path, stem: str, suffix: str, text: str) -> Path:
    """Write ``text`` to a file that did not exist (``stem``, or ``stem-2``...),
    whole or not at all: a reader never sees half a file, and an earlier
    run's file is never replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{stem}.{os.getpid()}.tmp"
    tmp.write_text(text, encoding="utf-8")
    try:
        for k in range(1, 1000):
            path = folder / (f"{stem}{suffix}" if k == 1 else f"{stem}-{k}{suffix}")
            try:
                os.link(tmp, path)  # fails where the name is taken, unlike a rename
                return path
            except FileExistsError:
                continue
        raise FileExistsError(f"no free name for {stem}{suffix} in {folder}")
    finally:
        tmp.unlink(missing_ok=True)


def main(args) -> int:
    from reports.sweeps import FOLDER, FORMAT, page_html

    from .. import __version__, policy
    from ..environment import fingerprint
    from ..errors import UsageError
    from ..registry import select
    from ..results_store import new_run_id
    from ..sweep import DTYPES, FUNCTIONS, sweep

    functions = args.functions or list(FUNCTIONS)
    impls = select(args.impls, functions)  # a glob matching nothing is a usage error
    if not impls:
        raise UsageError(f"no implementation of {', '.join(functions)} matches {','.join(args.impls or ['*'])}")
    folder = Path(args.out) / FOLDER
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file; --out needs a folder it can write sweeps/ into")
    started = time.time()
    run_id = new_run_id(uuid.uuid4().hex, started)
    results = sweep(impls, args.dtypes or list(DTYPES), progress=lambda r: print(r.line(), flush=True))
    doc = {"format": FORMAT, "version": 1, "run_id": run_id, "harness_version": __version__,
           "started": started, "finished": time.time(), "fingerprint": fingerprint(),
           "budget": policy.describe_budget(), "results": [r.to_json() for r in results]}
    try:
        path = write_new(folder, run_id, ".json", json.dumps(doc, indent=1, allow_nan=False))
        page = write_new(folder, path.stem, ".html", page_html(doc))
    except OSError as e:
        raise UsageError(f"cannot write to {folder}: {e.strerror or e}") from None
    failed = [r for r in results if not r.passed]
    print(f"sweep: {len(results) - len(failed)} of {len(results)} within budget; page {page.resolve()}")
    return 1 if failed else 0

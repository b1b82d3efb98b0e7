"""`softmax-harness`: list, run, check, report, merge, baseline, drift, bench, vectors, sweep.

Each subcommand lives in ``harness.commands.<module>`` with ``register(sub)``
adding its parser and ``main(args) -> int``; option values are checked as they
are parsed (``type=``/``choices=``, harness.commands.argtypes).  Usage errors,
from the parser or a command, print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "list": "harness.commands.listing",
    "run": "harness.commands.run",
    "check": "harness.commands.check",
    "report": "harness.commands.reporting",
    "merge": "harness.commands.reporting",
    "baseline": "harness.commands.baseline",
    "drift": "harness.commands.drift",
    "bench": "harness.commands.bench",
    "vectors": "harness.commands.vectors",
    "sweep": "harness.commands.sweep",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, named by the (sub)command as a UsageError is; exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="softmax-harness", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    seen = set()
    for mod_name in COMMANDS.values():
        if mod_name in seen:
            continue
        seen.add(mod_name)
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name == mod_name:
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    from .errors import UsageError

    # Our warnings (a baseline entry matching nothing, say) are messages to the user: one line each.
    warnings.showwarning = lambda message, category, *a, **k: sys.stderr.write(
        f"softmax-harness: warning: {message}\n")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # a usage error (2) or --help (0): a status, as from a command
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        sys.stderr.write(f"softmax-harness {args.command}: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("softmax-harness: interrupted; results written so far are kept\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""Our sibling packages (``oracles``, ``reports``) are ours, whatever folder
the user works in.

Their names are generic.  With an editable install they are served by a
finder that runs after the sys.path scan, so a plain folder named
``oracles/`` or ``reports/`` (``reports/out`` from an earlier run) on
sys.path, which ``python -m pytest`` puts there as the current folder, became
an empty namespace package: correct targets "crashed", pytest stopped with
an INTERNALERROR, the report could not find its templates.  Importing this
module (harness/__init__ does, first) binds each name to the package beside
``harness`` before anything else can.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SIBLINGS = ("oracles", "reports")


def pin() -> None:
    """Bind each sibling package name to the copy installed beside harness."""
    root = Path(__file__).resolve().parent.parent
    for name in SIBLINGS:
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "__file__", None):
            continue  # already a real package
        init = root / name / "__init__.py"
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
        if spec is None or spec.loader is None or not init.is_file():
            continue  # not installed beside us: let the normal import say so
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            sys.modules.pop(name, None)
            raise


pin()

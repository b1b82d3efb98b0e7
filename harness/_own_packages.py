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


class _Siblings:
    """A finder ahead of the sys.path scan for our sibling names only: the
    package beside ``harness`` is found first, and nothing runs until
    something imports it (a pytest session that merely loads the plugin
    pays nothing)."""

    def __init__(self, root: Path):
        self.root = root

    def find_spec(self, name, path=None, target=None):
        if name not in SIBLINGS:
            return None
        init = self.root / name / "__init__.py"
        if not init.is_file():
            return None  # not installed beside us: let the normal import say so
        return importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])


def pin() -> None:
    """Bind each sibling package name to the copy installed beside harness:
    a real package already imported stays; an empty namespace package made
    from a stray folder is dropped and found again, ours first."""
    root = Path(__file__).resolve().parent.parent
    for name in SIBLINGS:
        mod = sys.modules.get(name)
        if mod is not None and not getattr(mod, "__file__", None):
            del sys.modules[name]
    if not any(isinstance(f, _Siblings) for f in sys.meta_path):
        sys.meta_path.insert(0, _Siblings(root))


pin()

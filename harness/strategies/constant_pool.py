"""Make derandomized Hypothesis runs independent of import order.

Hypothesis (6.13x and later) mixes literals from every *local* module in
``sys.modules`` into its draws (``providers._get_local_constants``).  The
harness is local code, so which of its modules happen to be imported changes
the examples a derandomized run draws: a pytest-xdist worker that ran
``softmax-harness list`` in-process before a conformance test drew other
cases than one that did not, and ci-profile results stopped being
reproducible.  Importing every harness, oracle and report module once, before
the first draw, makes the pool the same in every process.  Test modules never
enter the pool (Hypothesis skips them), and a ``check`` target's literals do,
consistently, because it is always imported before exploring.
"""

from __future__ import annotations

import importlib
import pkgutil

PACKAGES = ("harness", "oracles", "reports")
_SKIP = ("__main__",)  # running it would start the CLI
_loaded = False


def load_local_modules() -> None:
    """Import every module of the harness's own packages (once per process).

    None of them imports a framework at import time (tests/self checks that)."""
    global _loaded
    if _loaded:
        return
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{name}."):
            if info.name.rsplit(".", 1)[-1] not in _SKIP:
                importlib.import_module(info.name)
    _loaded = True

"""A persistent compilation cache for the frameworks that compile per shape.

JAX compiles every jitted function (``jax.nn.softmax`` is one) once per new
shape and dtype, and a search draws a new shape almost every example:
measured on this project's 2-core machines, about 0.3 s a new shape against
0.03 s when the compiled executable comes from JAX's persistent cache.  A
conformance run's searches draw the same shapes again and again (each
property of one implementation, each implementation of one function, the
x64 and Keras-on-JAX variants, the next run), so the cache cut the
``jax.*`` part of ``softmax-harness run`` from 782 s to 376 s cold and 194 s
warm, with every result identical.

The cache changes no numerics: JAX keys an entry on the lowered program, the
compile options, the backend and the jax/jaxlib versions, and loads the same
executable it would have compiled.  A user's own JAX_* cache settings win.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OFF = "off"
# JAX reads each config option's default from the upper-cased environment variable at import.
_JAX = {"JAX_COMPILATION_CACHE_DIR": None,  # the folder, filled in by enable()
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",  # the default (1 s) would keep none of ours
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def enable(folder: str | Path) -> dict[str, str]:
    """Point JAX's persistent cache at ``folder``/jax unless the user set
    their own; returns the settings it made (none when ``folder`` is "off").

    Call before the first JAX compile in this process.  Set through the
    environment so that subprocesses (xdist workers, isolated calls) share it."""
    if str(folder) == OFF or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return {}
    made = {}
    for var, value in _JAX.items():
        if var not in os.environ:
            os.environ[var] = made[var] = value if value is not None else str(Path(folder, "jax").resolve())
    if "jax" in sys.modules and made:  # imported already (a user's conftest): its config read the env before
        import jax

        for var, value in made.items():
            name = var.lower()
            jax.config.update(name, value if name.endswith("dir") else float(value) if "secs" in name
                              else int(value))
    return made

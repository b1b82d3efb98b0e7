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
# JAX reads each config option's default from the upper-cased environment variable at import;
# the typed value is for a JAX imported before enable() (its config read the environment already).
_JAX: dict[str, str | float | int | None] = {
    "jax_compilation_cache_dir": None,  # the folder, filled in by enable()
    "jax_persistent_cache_min_compile_time_secs": 0.0,  # the default (1 s) would keep none of ours
    "jax_persistent_cache_min_entry_size_bytes": 0}


def enable(folder: str | Path) -> dict[str, str]:
    """Point JAX's persistent cache at ``folder``/jax unless the user set
    their own; returns the environment settings it made (none when
    ``folder`` is "off").

    Call before the first JAX compile in this process.  Set through the
    environment so that subprocesses (xdist workers, isolated calls) share it."""
    if str(folder) == OFF or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return {}
    made: dict[str, str] = {}
    for name, value in _JAX.items():
        if name.upper() not in os.environ:
            value = str(Path(folder, "jax").resolve()) if value is None else value
            made[name.upper()] = f"{value:g}" if isinstance(value, float) else str(value)
            if "jax" in sys.modules:
                import jax

                jax.config.update(name, value)
    os.environ.update(made)
    return made

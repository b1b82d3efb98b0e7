"""What ``--seed`` means, shared by ``check``, ``run`` and the pytest plugin.

By default every non-derandomized budget (dev, thorough, check) searches with the
fixed ``DEFAULT_SEED``, so the same code and versions give the same verdict
on every run; the ci budget is derandomized and keeps its own draws, from
``budgets.DERANDOMIZED_SEED`` (the checked-in baseline depends on them;
``SeedChoice.value`` is None for it, and ``conformance.explore`` seeds it).  ``--seed random``
draws a seed for bug hunting, prints it, and turns on the example database
so that a failure it finds is replayed first by later random runs.

Light on purpose: the CLI parser imports this for its help text, and must
not pull in Hypothesis or numpy to do so.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SEED = 0
DB_ENV = "SOFTMAX_HARNESS_DB"
DEFAULT_DB = Path(".hypothesis") / "softmax-harness"  # relative to the current directory


@dataclass(frozen=True)
class SeedChoice:
    """A resolved ``--seed``: ``value`` None means the budget's own derandomized draws."""

    value: int | None
    kind: str  # "default", "given", "random" or "derandomized"
    budget: str = "dev"

    @property
    def random(self) -> bool:
        """A drawn seed: only then is the example database read and written."""
        return self.kind == "random"

    def describe(self, option: str = "--seed") -> str:
        """One line for the log; ``option`` is how the reader repeats the seed."""
        if self.value is None:
            return f"seed: derandomized ({self.budget} budget)"
        if self.kind == "default":
            return f"seed {self.value} (fixed; {option} random to explore)"
        if self.kind == "random":
            return f"seed {self.value} (random; repeat with {option} {self.value})"
        return f"seed {self.value}"

    def option(self) -> str | None:
        """The plugin's ``--harness-seed`` value for the same search in another process
        (``random:N``: seed N with the example database), or None."""
        if self.kind in ("default", "derandomized"):
            return None  # the other process resolves the same default itself
        return f"random:{self.value}" if self.random else str(self.value)


def choose_seed(value: str | None, budget: str, handoff: bool = False, option: str = "--seed") -> SeedChoice:
    """``--seed`` (None, ``N`` or ``random``) for ``budget``, or a UsageError.

    ``handoff`` also accepts ``random:N``, what ``option()`` gives: how ``run``
    and the xdist controller pass one drawn seed on to their processes."""
    from .budgets import derandomized
    from .errors import UsageError

    if value is None:
        if derandomized(budget):
            return SeedChoice(None, "derandomized", budget)
        return SeedChoice(DEFAULT_SEED, "default", budget)
    if value == "random":
        return SeedChoice(random.SystemRandom().randrange(2**31), "random", budget)
    drawn = handoff and value.startswith("random:")
    digits = value[len("random:"):] if drawn else value
    if not (digits.isascii() and digits.isdigit()):
        raise UsageError(f"{option} takes a non-negative integer or 'random', not {value!r}")
    return SeedChoice(int(digits), "random" if drawn else "given", budget)


def database_path() -> Path:
    """Where random runs keep their failing examples (env SOFTMAX_HARNESS_DB overrides)."""
    return Path(os.environ.get(DB_ENV) or DEFAULT_DB)

"""argparse ``type=`` callables for the commands' options.

Each checks one value as it is parsed and raises ``ArgumentTypeError`` with
what is wrong; the parser (harness.cli._Parser) prints that as one line,
``softmax-harness CMD: error: argument OPT: ...``, and exits with status 2.
The lists they check against are the project's own (harness.dtypes.DTYPES,
budgets.BUDGETS, records.FUNCTIONS), read when a value is parsed, so
building the parser imports nothing heavy.
"""

from __future__ import annotations

import math
from argparse import ArgumentTypeError
from collections.abc import Callable, Iterable


def csv_items(value: str) -> list[str]:
    """The items of a comma-separated list; an empty one (``,``) is refused
    (read as "not given", it silently selected everything)."""
    from ..errors import UsageError
    from ..registry import split_csv

    try:
        return split_csv(value)
    except UsageError as e:
        raise ArgumentTypeError(str(e)) from None


def csv_of(what: str, known: Callable[[], Iterable[str]]) -> Callable[[str], list[str]]:
    """A ``type=`` for a comma-separated list of ``what`` whose every item is
    in ``known()``; the first unknown item is named with the valid ones."""

    def parse(value: str) -> list[str]:
        items = csv_items(value)
        valid = tuple(known())
        for item in items:
            if item not in valid:
                raise ArgumentTypeError(f"unknown {what} {item!r}; expected one of {', '.join(valid)}")
        return items

    parse.__name__ = f"{what} list"
    return parse


def _dtypes():
    from ..dtypes import DTYPES

    return DTYPES


def _functions():
    from ..records import FUNCTIONS

    return FUNCTIONS


dtype_list = csv_of("dtype", _dtypes)
function_list = csv_of("function", _functions)


def budget(value: str) -> str:
    """An example budget: budgets.check's rule and message, as a parser error."""
    from ..budgets import check
    from ..errors import UsageError

    try:
        return check(value)
    except UsageError as e:
        raise ArgumentTypeError(str(e)) from None


def _number(value: str, kind: type, what: str):
    try:
        return kind(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not {what}") from None


def positive_int(value: str) -> int:
    n = _number(value, int, "a whole number")
    if n < 1:
        raise ArgumentTypeError(f"must be at least 1, not {value}")
    return n


def non_negative_int(value: str) -> int:
    n = _number(value, int, "a whole number")
    if n < 0:
        raise ArgumentTypeError(f"must be >= 0, not {value}")
    return n


def positive_float(value: str) -> float:
    x = _number(value, float, "a number")
    if not x > 0:  # NaN too
        raise ArgumentTypeError(f"must be positive, not {value}")
    return x


def non_negative_float(value: str) -> float:
    x = _number(value, float, "a number")
    if math.isnan(x) or x < 0:
        raise ArgumentTypeError(f"must be >= 0, not {value}")
    return x


def existing_file(value: str) -> str:
    """A file that must be there already (read, not written)."""
    from pathlib import Path

    if not Path(value).is_file():
        raise ArgumentTypeError(f"{value} {'is a folder, not a file' if Path(value).is_dir() else 'does not exist'}")
    return value


def shard(value: str):
    """``K/N``, shard K of N (harness/sharding.py), as a parser error where it is not."""
    from ..errors import UsageError
    from ..sharding import parse

    try:
        return parse(value)
    except UsageError as e:
        raise ArgumentTypeError(str(e)) from None


def workers(value: str) -> str:
    """pytest-xdist's ``-n``: a number of workers or ``auto``."""
    if value != "auto" and not (value.isascii() and value.isdigit()):
        raise ArgumentTypeError(f"expected a number of workers or auto, not {value!r}")
    return value

"""Loading a target, ``pkg.module:function`` or ``path/to/file.py:function``,
in one place: `check`, its isolated child process, replays and the
registry's SOFTMAX_HARNESS_IMPLS all load targets here, by the same rules,
and `check`'s calling conventions (``--function``) turn one into an Impl.
Every failure is a UsageError of one line."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from .errors import UsageError

# What `check --function NAME` expects TARGET to be.
CONVENTIONS = {
    "softmax": "fn(x, axis=-1) -> same shape and dtype as x",
    "log_softmax": "fn(x, axis=-1) -> same shape and dtype as x",
    "logsumexp": "fn(x, axis=-1) -> x's dtype, axis removed (no keepdims)",
    "sigmoid": "fn(x) -> same shape and dtype as x",
    "softmax_jacobian": "fn(x) with x of shape (N, k) -> (N, k, k), J[n, i, j] = d s_i / d x_j",
    "softmax_vjp": "fn(x, g, axis=-1) -> g^T J = s * (g - sum(g * s, axis)), shape and dtype of x",
}


def is_path(mod_part: str) -> bool:
    return mod_part.endswith(".py") or "/" in mod_part or os.sep in mod_part


def canonical_target(target: str) -> str:
    """TARGET with a file path made absolute, so that the implementation id
    (and the reproducer built from it) works from any directory."""
    mod_part, sep, attr = target.rpartition(":")
    if sep and mod_part and is_path(mod_part):
        return f"{Path(mod_part).resolve()}:{attr}"
    return target


def load_target(target: str):
    """The callable named by TARGET, or a UsageError saying what is wrong."""
    mod_part, sep, attr = target.rpartition(":")
    if not sep or not mod_part or not attr:
        raise UsageError(f"target {target!r} must be pkg.module:function or path/to/file.py:function")
    try:
        if is_path(mod_part):
            path = Path(mod_part).resolve()
            if not path.is_file():
                raise UsageError(f"target file {mod_part} does not exist")
            name = f"_softmax_harness_target_{path.stem}"
            if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
                mod = sys.modules[name]
            else:
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None:
                    raise UsageError(f"cannot import {mod_part}: not a Python source file")
                mod = importlib.util.module_from_spec(spec)
                if str(path.parent) not in sys.path:
                    sys.path.insert(0, str(path.parent))  # its own sibling imports
                sys.modules[name] = mod  # dataclasses, pickling and the like look themselves up here
                try:
                    spec.loader.exec_module(mod)
                except BaseException:
                    sys.modules.pop(name, None)
                    raise
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())  # as `python -m` would; the console script does not
            mod = importlib.import_module(mod_part)
    except UsageError:
        raise
    except (Exception, SystemExit) as e:
        msg = f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__
        raise UsageError(f"cannot import {mod_part}: {msg}") from None
    try:
        fn = getattr(mod, attr)
    except AttributeError:
        raise UsageError(f"{mod_part} has no attribute {attr!r}") from None
    if not callable(fn):
        raise UsageError(f"{target} is not callable (it is a {type(fn).__name__})")
    return fn


def target_impl(target: str, function: str):
    """TARGET as an Impl computing ``function`` by its calling convention
    (CONVENTIONS): what `check`, its child process and replays of
    ``check:TARGET:FUNCTION`` ids judge."""
    from .records import Impl

    if function not in CONVENTIONS:
        raise UsageError(f"function {function!r} cannot be checked; choose from {', '.join(CONVENTIONS)}")
    target = canonical_target(target)
    fn = load_target(target)
    kw = {}
    if function == "sigmoid":
        call = lambda c: fn(c.logits)  # noqa: E731
    elif function == "softmax_jacobian":
        call = lambda c: fn(c.logits)  # noqa: E731
        kw = dict(ranks=(2,), last_axis_only=True)
    elif function == "softmax_vjp":
        call = lambda c: fn(c.logits, c.upstream, c.axis)  # noqa: E731
    else:
        call = lambda c: fn(c.logits, c.axis)  # noqa: E731
    return Impl(f"check:{target}:{function}", "user", function, call, risky=True,
                notes=f"user target, {CONVENTIONS[function]}", **kw)

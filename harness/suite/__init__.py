"""The conformance suite: the product users run against implementations.

It ships inside the package so that it runs from any install and any folder:
``pytest --pyargs harness.suite`` (or ``softmax-harness run``, which finds it
with importlib.resources).  Parametrisation, options and result files come
from the harness's pytest plugin (harness/plugin.py, registered through the
pytest11 entry point)."""

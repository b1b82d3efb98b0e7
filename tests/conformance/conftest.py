"""The conformance suite: the product users run against implementations.
Parametrisation, options and result files come from the harness's pytest
plugin (harness/plugin.py, registered through the pytest11 entry point)."""

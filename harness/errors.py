"""The one exception type for bad user input (hypothesis.extra.numpy's
style: arguments validated up front, one exception type)."""


class UsageError(ValueError):
    """Bad input from a user: reported as one line with exit status 2."""

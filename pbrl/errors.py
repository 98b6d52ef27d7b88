"""Errors pbrl raises that several layers share (the bottom layer: imports nothing of pbrl)."""


class MissingDependencyError(ImportError):
    """An id's optional dependency is not installed; the message names the extra."""

"""The ``azure-trainer`` command line (``main``); one module per command, see :mod:`.main`."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]

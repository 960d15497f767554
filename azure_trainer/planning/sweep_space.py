"""Hyperparameter sweeps: each ``sweep.search_space`` key is a script argument.

How a searched value reaches the script: for ``search_space: {lr: ...}`` the planner renders the
argument ``--lr`` as ``--lr ${{inputs.lr}}`` and declares a literal input ``lr`` (default: the value in
``args``, else a representative of the space). On Azure ML the sweep replaces that input per trial;
locally, ``run-local`` does the same with the sampled value. Argument names with dashes
(``batch-size``) become inputs with underscores (``batch_size``): Azure ML input names are identifiers.
"""

from __future__ import annotations

import math
from typing import Any

from ..config.model import InputConfig, SearchSpaceEntry


def input_name(arg: str) -> str:
    """The Azure ML input name carrying searched argument ``arg``."""
    return arg.replace("-", "_")


def representative(entry: SearchSpaceEntry) -> Any:
    """A value inside the space, used as the input's default (what a non-sweep run would get)."""
    if entry.type == "choice":
        return entry.values[0]  # type: ignore[index]
    if entry.type == "randint":
        return 0
    if entry.min_value is not None and entry.max_value is not None:
        if entry.type in ("loguniform", "qloguniform"):
            return math.sqrt(entry.min_value * entry.max_value)
        return (entry.min_value + entry.max_value) / 2
    return entry.mu


def input_for(entry: SearchSpaceEntry, default: Any) -> InputConfig:
    """The literal input declared for a searched argument."""
    value = representative(entry) if default is None else default
    if isinstance(value, bool):
        kind = "boolean"
    elif entry.type == "randint" or (
        isinstance(value, int)
        and entry.type in ("choice",)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in entry.values or [])
    ):
        kind = "integer"
    elif isinstance(value, (int, float)) and not (
        entry.type == "choice" and any(isinstance(v, str) for v in entry.values or [])
    ):
        kind = "number"
    else:
        kind = "string"
        value = str(value)
    return InputConfig(type=kind, default=value)

"""How one trial's sampled values reach its command, as Azure ML passes them.

A sweep trial's command refers to each hyperparameter as ``${{search_space.NAME}}``; Azure ML fills in
the value it sampled for the trial. A local trial is the plain command job that results: each
``${{search_space.NAME}}`` becomes ``${{inputs.NAME}}`` of a literal input holding the value (named
``search_space_NAME`` when the job already has an input ``NAME``), so the local runner passes it like any
other input (through an environment variable, never pasted into the shell text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..config.io import InputConfig
from .command_line import PLACEHOLDER_RE


def trial_input_name(name: str, inputs: Mapping[str, Any]) -> str:
    """The input that carries hyperparameter ``name`` in a local trial (not clashing with the job's)."""
    candidate = name
    while candidate in inputs:
        candidate = f"search_space_{candidate}"
    return candidate


def trial_command(
    command: str, inputs: Mapping[str, InputConfig], params: Mapping[str, Any]
) -> tuple[str, dict[str, InputConfig]]:
    """``(command, inputs)`` of the trial that runs ``params`` (hyperparameter name -> sampled value)."""
    names = {name: trial_input_name(name, inputs) for name in params}

    def replace(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if kind != "search_space" or name not in names:
            return match.group(0)
        return f"${{{{inputs.{names[name]}}}}}"

    trial_inputs = dict(inputs)
    for name, value in params.items():
        trial_inputs[names[name]] = InputConfig.model_validate(value)
    return PLACEHOLDER_RE.sub(replace, command), trial_inputs

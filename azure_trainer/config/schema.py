"""The JSON Schema of job configs, for editors (yaml-language-server) and ``azure-trainer schema``.

One schema for both job types: a file with ``type: sweep`` is checked as a sweep job, any other as a
command job (Azure ML's default type). A file that ``extends`` a base gets its required keys from there,
and editors check one file at a time, so required keys are only required in a file without ``extends``.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://github.com/azure-trainer/azure-trainer/azure-trainer.schema.json"
_IS_SWEEP = {"properties": {"type": {"const": "sweep"}}, "required": ["type"]}


def job_config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``jobs/*.yaml`` file: an Azure ML command or sweep job."""
    from pydantic.json_schema import models_json_schema

    from .model import CommandJobConfig
    from .sweep import SweepJobConfig

    _, top = models_json_schema(
        [(CommandJobConfig, "validation"), (SweepJobConfig, "validation")], ref_template="#/$defs/{model}"
    )
    defs = top["$defs"]
    required = {name: defs[name].pop("required", []) for name in ("CommandJobConfig", "SweepJobConfig")}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "azure-trainer job config",
        "description": "An Azure ML CLI v2 command or sweep job (commandJob / sweepJob schema) plus "
        "azure-trainer's additions: use_gpu, {gpu, cpu} values, script + args, local_path, preflight, "
        "workspace, extends.",
        "type": "object",
        "if": _IS_SWEEP,
        "then": {
            "$ref": "#/$defs/SweepJobConfig",
            "if": {"required": ["extends"]},
            "else": {"required": required["SweepJobConfig"]},
        },
        "else": {
            "$ref": "#/$defs/CommandJobConfig",
            "if": {"required": ["extends"]},
            "else": {"required": required["CommandJobConfig"]},
        },
        "$defs": defs,
    }


def schema_json() -> str:
    """The schema as stable, pretty JSON text (what ``azure-trainer schema`` prints)."""
    return json.dumps(job_config_schema(), indent=2, sort_keys=True) + "\n"

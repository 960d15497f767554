"""The JSON Schema of job configs, for editors (yaml-language-server) and ``azure-trainer schema``."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://github.com/azure-trainer/azure-trainer/azure-trainer.schema.json"


def job_config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``jobs/*.yaml`` file."""
    from .model import JobConfig

    schema = JobConfig.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
    schema["title"] = "azure-trainer job config"
    # A file that `extends` a base gets its required keys from there: editors check one file at a time.
    required = schema.pop("required", [])
    if required:
        schema["if"] = {"required": ["extends"]}
        schema["else"] = {"required": required}
    return schema


def schema_json() -> str:
    """The schema as stable, pretty JSON text (what ``azure-trainer schema`` prints)."""
    return json.dumps(job_config_schema(), indent=2, sort_keys=True) + "\n"

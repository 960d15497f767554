"""A planned job as an Azure ML CLI v2 job document: the YAML ``az ml job create -f`` and ``load_job`` read.

The document is the job file itself with azure-trainer's additions resolved and removed: the
``use_gpu`` side of every ``{gpu, cpu}`` value, ``python SCRIPT ARGS`` for ``script`` + ``args``, no
``local_path``/``preflight``/``workspace``/``extends``, and the documented extras (the contract's
environment variables, the ``azure-trainer.use_gpu`` tag, ``resources.shm_size`` under ``use_gpu``).
Every other key is written as the file wrote it, and only if it did: no value azure-trainer chose.

:func:`job_document` writes local paths absolute (what :func:`~.build.build_job` hands to ``load_job``);
:func:`relative_paths` rewrites them relative to a folder, for an exported file that can be committed and
used on another machine. Pure: no azure.ai.ml.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config.io import InputConfig, OutputConfig
from ..planning.spec import EnvironmentRef, JobSpec
from .sweep import sweep_document

COMMAND_JOB_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json"
SWEEP_JOB_SCHEMA = "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json"
USE_GPU_TAG = "azure-trainer.use_gpu"


def dump(model: Any) -> Any:
    """A config model as the file wrote it: only the keys that were set (JSON types)."""
    return model.model_dump(mode="json", exclude_unset=True, by_alias=True)


def job_document(spec: JobSpec, *, name: str | None = None) -> dict[str, Any]:
    """``spec`` as a CLI v2 command or sweep job (a plain mapping, local paths absolute)."""
    doc: dict[str, Any] = {
        "$schema": SWEEP_JOB_SCHEMA if spec.sweep else COMMAND_JOB_SCHEMA,
        "type": spec.type,
    }
    _put(doc, "name", name or spec.name)
    _put(doc, "display_name", spec.display_name)
    if "experiment_name" not in spec.defaulted:
        doc["experiment_name"] = spec.experiment_name
    _put(doc, "description", spec.description)
    doc["tags"] = {**spec.tags, USE_GPU_TAG: str(spec.use_gpu).lower()}
    _put(doc, "properties", spec.properties or None)
    runs = _runs_document(spec)
    if spec.sweep is None:
        doc.update(runs)
    else:
        doc["trial"] = runs
    _put(doc, "inputs", {k: input_document(v) for k, v in spec.inputs.items()} or None)
    _put(doc, "outputs", {k: output_document(v) for k, v in spec.outputs.items()} or None)
    _put(doc, "compute", spec.compute)
    if spec.sweep is None:
        _put(doc, "limits", {"timeout": spec.timeout} if spec.timeout else None)
    else:
        doc.update(sweep_document(spec.sweep))
    _put(doc, "services", {k: dump(v) for k, v in spec.services.items()} or None)
    _put(doc, "identity", dump(spec.identity) if spec.identity else None)
    _put(doc, "parent_job_name", spec.parent_job_name)
    return doc


def _runs_document(spec: JobSpec) -> dict[str, Any]:
    """What runs (a command job's own keys, or a sweep's ``trial``)."""
    runs: dict[str, Any] = {}
    _put(runs, "code", str(spec.code) if spec.code is not None else spec.remote_code)
    runs["command"] = spec.command
    runs["environment"] = environment_document(spec.environment)
    runs["environment_variables"] = dict(spec.environment_variables)
    _put(runs, "resources", dump(spec.resources) if spec.resources else None)
    _put(runs, "distribution", dump(spec.distribution) if spec.distribution else None)
    _put(runs, "queue_settings", dump(spec.queue_settings) if spec.queue_settings else None)
    return runs


def environment_document(env: EnvironmentRef) -> Any:
    """A reference as written, ``file:PATH`` for an environment YAML, or the inline definition."""
    if env.source == "file":
        return f"file:{env.ref}"
    if env.source == "inline" and env.definition is not None:
        return dump(env.definition)
    return env.ref


def input_document(item: InputConfig) -> Any:
    """A literal input as its value; a data input's keys as written, without azure-trainer's local_path."""
    if item.is_literal:
        return {"value": item.value} if item.written_as_value else item.value
    data = dump(item)
    data.pop("local_path", None)
    return data


def output_document(item: OutputConfig) -> Any:
    """``None`` (``NAME:`` in YAML) for an output with Azure ML's defaults; else its keys as written."""
    return None if item.is_default else dump(item)


def _put(doc: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        doc[key] = value


def relative_paths(doc: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``doc`` with its absolute local paths (code, local input paths, environment files, build contexts
    and conda files) written relative to ``folder``: the file stays valid wherever the folder is moved."""

    def rel(value: Any) -> Any:
        if isinstance(value, str) and os.path.isabs(value):
            try:
                return Path(os.path.relpath(value, folder)).as_posix()
            except ValueError:  # another drive (Windows): keep it absolute
                return value
        return value

    out = dict(doc)
    holders = [out]
    if isinstance(out.get("trial"), dict):
        out["trial"] = dict(out["trial"])
        holders.append(out["trial"])
    for holder in holders:
        if "code" in holder:
            holder["code"] = rel(holder["code"])
        env = holder.get("environment")
        if isinstance(env, str) and env.startswith("file:"):
            holder["environment"] = "file:" + rel(env[len("file:") :])
        elif isinstance(env, dict):
            env = holder["environment"] = dict(env)
            if isinstance(env.get("build"), dict):
                env["build"] = {**env["build"], "path": rel(env["build"].get("path"))}
            if isinstance(env.get("conda_file"), str):
                env["conda_file"] = rel(env["conda_file"])
    if isinstance(out.get("inputs"), dict):
        out["inputs"] = {
            name: {**item, "path": rel(item["path"])} if isinstance(item, dict) and "path" in item else item
            for name, item in out["inputs"].items()
        }
    return out

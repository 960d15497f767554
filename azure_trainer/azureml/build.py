"""The Azure ML side of a plan: a :class:`JobSpec` becomes an ``azure.ai.ml`` command (or sweep) job.

Pure: builds SDK objects only; no network, no credentials. Imports azure.ai.ml, so the CLI imports
this module only for the commands that need it.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable
from typing import Any

from ..config.model import JobConfig
from ..errors import ApiUsageError, ConfigError
from ..planning.spec import JobSpec, as_spec
from . import _sdk

COMMAND_JOB_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json"
SWEEP_JOB_SCHEMA = "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json"


def quiet_sdk_logs() -> None:
    """Silence SDK log noise that is not for our users: azure-ai-ml's "experimental class" notices, and
    azure-identity's multi-line credential report (we print one line that says what to do instead)."""
    for name in ("azure.ai.ml", _sdk.EXPERIMENTAL_LOGGER):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)


def build_job(job: JobSpec | JobConfig | str, *, name: str | None = None) -> Any:
    """Build the Azure ML job for a planned ``job``: an ``azure.ai.ml.entities.Command``, or a ``SweepJob``
    when it has a ``sweep:`` section. No network, no credentials. (A JobConfig or a path is planned first.)"""
    spec = as_spec(job, "build_job")
    quiet_sdk_logs()
    from azure.ai.ml import Input, Output, command, load_environment

    if spec.environment.source == "file":
        try:
            environment: Any = load_environment(spec.environment.ref)
        except Exception as exc:  # the SDK raises several unrelated types for a bad environment YAML
            raise ConfigError(
                f"environment file {spec.environment.ref} is not a valid Azure ML environment: "
                f"{_first_line(exc)}",
                file=spec.source,
                key_path=f"environment.{spec.flavour}",
            ) from exc
    else:
        environment = spec.environment.ref

    inputs: dict[str, Any] = {}
    for input_name, item in spec.inputs.items():
        if item.is_literal:
            # A plain value is the job's input value; Input(default=...) would only set a component default,
            # which a CommandJob drops on export.
            inputs[input_name] = (
                item.default if item.default is not None else Input(type=item.type, optional=True)
            )
        else:
            path = item.path or item.local_path
            inputs[input_name] = Input(
                type=item.type, path=path, mode=item.mode, optional=item.optional or None
            )
    outputs = {
        output_name: Output(type=item.type, path=item.path, mode=item.mode)
        for output_name, item in spec.outputs.items()
    }
    distribution = None
    if spec.distribution is not None:
        distribution = {
            "type": spec.distribution.type,
            "process_count_per_instance": spec.distribution.process_count_per_instance,
        }
    queue = spec.queue
    tags = {**spec.tags, "azure-trainer.use_gpu": str(spec.use_gpu).lower()}
    job = command(
        name=name,
        experiment_name=spec.experiment,
        display_name=spec.display_name,
        description=spec.description,
        tags=tags,
        code=str(spec.code),
        command=spec.command,
        environment=environment,
        environment_variables=dict(spec.environment_variables),
        compute=spec.compute,
        instance_type=spec.instance_type,
        instance_count=spec.instance_count,
        distribution=distribution,
        shm_size=spec.shm_size,
        timeout=spec.timeout,
        inputs=inputs,
        outputs=outputs,
        job_tier=queue.job_tier if queue else None,
        priority=queue.priority if queue else None,
    )
    if spec.sweep is not None:
        from .sweep import build_sweep

        return build_sweep(job, spec)
    return job


def to_yaml(
    job: Any, *, allow: Iterable[str] = (), redact: bool = True, hidden: list[str] | None = None
) -> str:
    """The job as Azure ML CLI v2 YAML, readable by ``azure.ai.ml.load_job`` and ``az ml job create -f``.

    A ``Command`` node dumps with a nested ``component:`` block that load_job rejects, so it is turned
    into its ``CommandJob`` (a ``Sweep`` node into its ``SweepJob``) first. With ``redact`` (the default),
    secret-looking environment variable values not named in ``allow`` are written as ``***``: a
    secret must never be printed, and must not be a job environment variable in the first place (the
    secrets guard refuses it at submit); so are secret-looking arguments in the command and input paths
    carrying a credential (SAS tokens, URLs with a password). ``hidden``, if given, receives a label for
    each value written as ``***``.
    """
    if isinstance(job, (JobConfig, JobSpec)) or not hasattr(job, "dump"):
        raise ApiUsageError(f"to_yaml() takes the job from build_job(config), not {type(job).__name__}")
    quiet_sdk_logs()
    # Command and Sweep *nodes* dump with pipeline-component fields that load_job rejects; dump the job.
    target = _sdk.job_of_node(job)
    if getattr(target, "type", "") == "sweep" and target.inputs:
        # Searched inputs are left as nulls on the job; the search_space carries them.
        target.inputs = {k: v for k, v in target.inputs.items() if v is not None}
    buffer = io.StringIO()
    target.dump(buffer)
    text = _fix_and_redact(buffer.getvalue(), allow if redact else None, hidden)
    schema = SWEEP_JOB_SCHEMA if getattr(target, "type", "") == "sweep" else COMMAND_JOB_SCHEMA
    return f"$schema: {schema}\n{text}"


# The SDK dumps an input path it did not resolve to an asset as "azureml:" + path, which load_job reads back
# as a different (asset) reference: "azureml:https://...", "azureml:/abs/local/dir". Real references
# ("azureml://datastores/...", "azureml:name:1", "azureml:name@latest") are left alone.
_MISPREFIXED = re.compile(r"^azureml:(?!//)(?=[A-Za-z][A-Za-z0-9+.-]*://|[/.~])")


def _fix_and_redact(text: str, allow: Iterable[str] | None, hidden: list[str] | None) -> str:
    """Undo the SDK's "azureml:" prefix on plain input paths; with ``allow`` not None, write
    secret-looking environment values, command arguments and input paths as ``***``."""
    import yaml

    from ..secrets_guard import redact_command, redact_env, redact_path

    data = yaml.safe_load(text)
    changed = False
    for holder in (data, data.get("trial") if isinstance(data.get("trial"), dict) else None):
        if not isinstance(holder, dict):
            continue
        for name, item in (holder.get("inputs") or {}).items():
            path = item.get("path") if isinstance(item, dict) else None
            if isinstance(path, str) and _MISPREFIXED.match(path):
                item["path"] = path = path[len("azureml:") :]
                changed = True
            if allow is not None and isinstance(path, str) and redact_path(path) != path:
                item["path"] = redact_path(path)
                changed = True
                if hidden is not None:
                    hidden.append(f"input {name}'s path")
        if allow is None:
            continue
        env = holder.get("environment_variables")
        if isinstance(env, dict):
            plain = {k: str(v) for k, v in env.items()}
            redacted = redact_env(plain, allow=allow)
            if redacted != plain:
                holder["environment_variables"] = redacted
                changed = True
                if hidden is not None:
                    hidden.extend(k for k in plain if redacted[k] != plain[k])
        command = holder.get("command")
        if isinstance(command, str):
            safe, labels = redact_command(command, allow)
            if labels:
                holder["command"] = safe
                changed = True
                if hidden is not None:
                    hidden.extend(labels)
    return yaml.safe_dump(data, sort_keys=False, width=100) if changed else text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

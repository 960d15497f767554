"""The Azure ML side of a plan: a :class:`JobSpec` becomes an ``azure.ai.ml`` command (or sweep) job.

Pure: builds SDK objects only; no network, no credentials. Imports azure.ai.ml, so the CLI imports
this module only for the commands that need it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from typing import Any

from .config.model import JobConfig
from .errors import ConfigError
from .spec import JobSpec, plan

COMMAND_JOB_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json"
SWEEP_JOB_SCHEMA = "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json"


def quiet_sdk_logs() -> None:
    """Silence SDK log noise that is not for our users: azure-ai-ml's "experimental class" notices, and
    azure-identity's multi-line credential report (we print one line that says what to do instead)."""
    for name in ("azure.ai.ml", "azure.ai.ml._utils._experimental"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)


def build_job(config: JobConfig | JobSpec, *, name: str | None = None) -> Any:
    """Build the Azure ML job for ``config``: an ``azure.ai.ml.entities.Command``, or a ``SweepJob`` when
    the config has a ``sweep:`` section. No network, no credentials."""
    quiet_sdk_logs()
    from azure.ai.ml import Input, Output, command, load_environment

    spec = config if isinstance(config, JobSpec) else plan(config)
    if spec.environment.kind == "file":
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


def to_yaml(job: Any, *, allow_env: Iterable[str] = (), redact: bool = True) -> str:
    """The job as Azure ML CLI v2 YAML, readable by ``azure.ai.ml.load_job`` and ``az ml job create -f``.

    A ``Command`` node dumps with a nested ``component:`` block that load_job rejects, so it is turned
    into its ``CommandJob`` (a ``Sweep`` node into its ``SweepJob``) first. With ``redact`` (the default),
    secret-looking environment variable values not named in ``allow_env`` are written as ``***``: a
    secret must never be printed, and must not be a job environment variable in the first place (the
    secrets guard refuses it at submit).
    """
    quiet_sdk_logs()
    # Command and Sweep *nodes* dump with pipeline-component fields that load_job rejects; dump the job.
    target = job._to_job() if hasattr(job, "_to_job") else job
    if getattr(target, "type", "") == "sweep" and target.inputs:
        # Searched inputs are left as nulls on the job; the search_space carries them.
        target.inputs = {k: v for k, v in target.inputs.items() if v is not None}
    buffer = io.StringIO()
    target.dump(buffer)
    text = buffer.getvalue()
    if redact:
        text = _redact_env_values(text, allow_env)
    schema = SWEEP_JOB_SCHEMA if getattr(target, "type", "") == "sweep" else COMMAND_JOB_SCHEMA
    return f"$schema: {schema}\n{text}"


def _redact_env_values(text: str, allow_env: Iterable[str]) -> str:
    import yaml

    from .secrets_guard import redact_env

    data = yaml.safe_load(text)
    changed = False
    for holder in (data, data.get("trial") if isinstance(data.get("trial"), dict) else None):
        env = holder.get("environment_variables") if holder else None
        if isinstance(env, dict):
            redacted = redact_env({k: str(v) for k, v in env.items()}, allow=allow_env)
            if redacted != {k: str(v) for k, v in env.items()}:
                holder["environment_variables"] = redacted
                changed = True
    return yaml.safe_dump(data, sort_keys=False, width=100) if changed else text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

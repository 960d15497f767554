"""A one-screen, human summary of a resolved job (what ``validate`` prints).

It says what the job will be on Azure ML, and where a value is not the file's own: what ``use_gpu``
chose, and az ml's defaults azure-trainer relies on (:attr:`JobSpec.defaulted`).
"""

from __future__ import annotations

import math
from pathlib import Path

from .spec import JobSpec


def summarize(spec: JobSpec) -> str:
    """Key facts of ``spec``: device, compute, environment, command, distribution, data, env names."""
    from ..secrets_guard import redact_command, redact_env, redact_text

    rows: list[tuple[str, str]] = [("job", f"{spec.type} job" + (f" {spec.name}" if spec.name else ""))]
    rows.append(("experiment", spec.defaulted.get("experiment_name", spec.experiment_name)))
    rows.append(("use_gpu", f"{str(spec.use_gpu).lower()} ({spec.flavour} side of every {{gpu, cpu}} value)"))
    rows.append(("compute", _compute(spec)))
    rows.append(("environment", _environment(spec)))
    rows.append(("code", _code(spec)))
    rows.append(("command", redact_command(spec.command)[0]))
    nodes = _nodes(spec)
    if nodes:
        rows.append(("nodes", nodes))
    rows.extend(_optional_rows(spec))
    env = redact_env(spec.environment_variables)
    rows.append(("env", " ".join(f"{k}={v}" for k, v in env.items())))
    if spec.sweep:
        rows.append(("sweep", _sweep(spec)))
    width = max(len(k) for k, _ in rows)
    head = f"{spec.source or 'job'}: valid"
    return redact_text("\n".join([head, *(_row(k, v, width) for k, v in rows)]), spec)


def _optional_rows(spec: JobSpec) -> list[tuple[str, str]]:
    """The rows of what a job only has when it sets it: inputs, outputs, shm_size, timeout, queue
    settings, services and identity, in that order."""
    outputs = ", ".join(f"{n} ({o.type})" for n, o in spec.outputs.items())
    services = ", ".join(f"{n} ({s.type or 'custom'})" for n, s in spec.services.items())
    candidates = [
        ("inputs", _inputs(spec)),
        ("outputs", outputs if spec.outputs else None),
        ("shm_size", spec.shm_size or None),
        ("timeout", f"{spec.timeout} s" if spec.timeout else None),
        ("queue", _queue(spec)),
        ("services", services if spec.services else None),
        ("identity", spec.identity.type if spec.identity else None),
    ]
    return [(key, value) for key, value in candidates if value is not None]


def _inputs(spec: JobSpec) -> str | None:
    """The job's inputs, literal values shown, then the optional ones it was not given; None: none."""
    if not (spec.inputs or spec.optional_inputs):
        return None
    shown = [f"{n} ({i.type}{'=' + str(i.value) if i.is_literal else ''})" for n, i in spec.inputs.items()]
    return ", ".join(shown + [f"{n} (optional, not given)" for n in spec.optional_inputs])


def _queue(spec: JobSpec) -> str | None:
    """The job's (or its sweep's) queue tier and priority; None when it sets neither."""
    queue = spec.queue_settings or (spec.sweep.queue_settings if spec.sweep else None)
    if not (queue and (queue.job_tier or queue.priority)):
        return None
    return f"tier {queue.job_tier or '-'}, priority {queue.priority or '-'}"


def _row(key: str, value: str, width: int) -> str:
    """One row of the table; a value of several lines (a ``command: |`` block) keeps to its column."""
    lines = value.strip("\n").split("\n") or [""]
    indent = "\n" + " " * (width + 4)
    return f"  {key.ljust(width)}  " + indent.join(lines)


def _compute(spec: JobSpec) -> str:
    if spec.compute:
        return spec.compute + (f" (instance type {spec.instance_type})" if spec.instance_type else "")
    if spec.instance_type:
        return f"serverless, instance type {spec.instance_type}"
    return "serverless, Azure ML's default instance type"


def _environment(spec: JobSpec) -> str:
    from ..config.yaml_source import display_path

    env = spec.environment
    if env.source == "file":
        return f"{display_path(Path(env.ref))} (file)"
    return f"{env.shown} ({env.source})" if env.source != "inline" else env.shown


def _code(spec: JobSpec) -> str:
    from ..config.yaml_source import display_path

    if spec.code is not None:
        return display_path(spec.code)
    return spec.remote_code or "none (the command runs without a code snapshot)"


def _nodes(spec: JobSpec) -> str | None:
    dist = spec.distribution
    count = spec.instance_count
    if dist is None:
        return f"{count} (no distribution: each node runs the command)" if count > 1 else None
    if dist.type in ("pytorch", "mpi"):
        per = spec.process_count_per_instance
        processes = (
            f"{per} process(es) = {count * per}"
            if per
            else "1 process (process_count_per_instance not set: Azure ML's default)"
        )
        return f"{dist.type}: {count} node(s) x {processes}"
    if dist.type == "tensorflow":
        parts = [f"worker_count {dist.worker_count}"] if dist.worker_count is not None else []
        if dist.parameter_server_count is not None:
            parts.append(f"parameter_server_count {dist.parameter_server_count}")
        return f"tensorflow: {count} node(s)" + (f", {', '.join(parts)}" if parts else "")
    return f"{dist.type}: {count} node(s)"


def _sweep(spec: JobSpec) -> str:
    s = spec.sweep
    assert s is not None
    total = s.limits.max_total_trials
    trials = f"up to {total} trials"
    if s.sampling == "grid":
        combos = math.prod(len(e.values or []) for e in s.search_space.values())
        trials = f"{min(combos, total)} trials ({combos} grid combinations" + (
            f", capped by max_total_trials {total})" if combos > total else ")"
        )
    if s.limits.max_concurrent_trials:
        trials += f", {s.limits.max_concurrent_trials} at a time"
    return (
        f"{s.sampling} over {', '.join(s.search_space)}; {s.objective.goal} {s.objective.primary_metric}; "
        f"{trials}"
    )

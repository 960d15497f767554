"""A one-screen, human summary of a resolved job (what ``validate`` prints)."""

from __future__ import annotations

import math
from pathlib import Path

from .spec import JobSpec


def summarize(spec: JobSpec) -> str:
    """Key facts of ``spec``: device, compute, environment, command, distribution, data, env names."""
    from ..config.yaml_source import display_path
    from ..secrets_guard import redact_command, redact_env, redact_text

    rows: list[tuple[str, str]] = [
        ("experiment", spec.experiment),
        ("use_gpu", f"{str(spec.use_gpu).lower()} ({spec.flavour} compute and environment)"),
    ]
    if spec.compute:
        rows.append(("compute", spec.compute))
    elif spec.instance_type:
        rows.append(("compute", f"serverless, instance type {spec.instance_type}"))
    else:
        rows.append(("compute", "serverless, Azure ML's default instance type"))
    env_ref = spec.environment.ref
    if spec.environment.source == "file":
        env_ref = display_path(Path(env_ref))
    rows.append(("environment", f"{env_ref} ({spec.environment.source})"))
    rows.append(("code", display_path(spec.code)))
    rows.append(("command", redact_command(spec.command)[0]))
    if spec.distribution:
        rows.append(
            (
                "distribution",
                f"{spec.distribution.type}: {spec.instance_count} node(s) x "
                f"{spec.processes_per_node} process(es) = {spec.world_size}",
            )
        )
    elif spec.instance_count > 1:
        rows.append(("instances", str(spec.instance_count)))
    if spec.inputs:
        rows.append(
            (
                "inputs",
                ", ".join(
                    f"{n} ({i.type}{'=' + str(i.default) if i.is_literal else ''})"
                    for n, i in spec.inputs.items()
                ),
            )
        )
    if spec.outputs:
        rows.append(("outputs", ", ".join(f"{n} ({o.type})" for n, o in spec.outputs.items())))
    if spec.shm_size:
        rows.append(("shm_size", spec.shm_size))
    if spec.timeout:
        rows.append(("timeout", f"{spec.timeout} s"))
    if spec.queue and (spec.queue.job_tier or spec.queue.priority):
        rows.append(("queue", f"tier {spec.queue.job_tier or '-'}, priority {spec.queue.priority or '-'}"))
    env = redact_env(spec.environment_variables)
    rows.append(("env", " ".join(f"{k}={v}" for k, v in env.items())))
    if spec.sweep:
        s = spec.sweep
        trials = f"up to {s.limits.max_total_trials} trials"
        if s.sampling == "grid":
            combos = math.prod(len(e.values or []) for e in s.search_space.values())
            trials = f"{min(combos, s.limits.max_total_trials)} trials ({combos} grid combinations" + (
                f", capped by max_total_trials {s.limits.max_total_trials})"
                if combos > s.limits.max_total_trials
                else ")"
            )
        rows.append(
            (
                "sweep",
                f"{s.sampling} over {', '.join(s.search_space)}; {s.objective.goal} {s.objective.metric}; {trials}",
            )
        )
    width = max(len(k) for k, _ in rows)
    head = f"{spec.source or 'job'}: valid"
    return redact_text("\n".join([head, *(f"  {k.ljust(width)}  {v}" for k, v in rows)]), spec)

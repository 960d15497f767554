"""``azure-trainer validate JOB``: check a job config offline and print what would run.

Plans the job, prints its summary, then runs every check that needs no Azure (:mod:`..checks`): secrets,
the script's options, a local environment file against ``use_gpu`` and this machine's torch, and the
other side of a ``{gpu, cpu}`` job (as warnings). Exits 1 when a check finds an error. Imports neither
azure.ai.ml nor torch (a test keeps it so): it is the fast check for editors, pre-commit and CI.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import Context, add_job_options

HELP = "check a job config offline and print a summary (no Azure, no torch)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.preflight import format_findings
    from ..checks import offline_checks
    from ..config import load_config
    from ..planning.spec import plan
    from ..planning.summary import summarize

    spec = plan(load_config(args.job, args.overrides, use_gpu=args.use_gpu))
    print(summarize(spec))
    other, problem = other_side(args, spec)
    report = offline_checks(spec, other)
    if problem is not None:
        report.findings.append(problem)
    print(format_findings(report.findings) if report.findings else "offline checks: all passed")
    print(
        f"not checked offline (they need the workspace; `submit --dry-run` runs them): {', '.join(report.not_run)}"
    )
    if report.errors:
        print(f"azure-trainer: {len(report.errors)} error(s) found before any sign-in", file=sys.stderr)
        return 1
    return 0


def other_side(args: argparse.Namespace, spec: Any) -> tuple[Any, Any]:
    """The job planned for its other ``use_gpu`` side, when the config gives that side its own compute,
    environment or VM size; ``(None, warning)`` when that side does not plan; ``(None, None)`` when the
    config has no distinct other side."""
    from ..config import load_config
    from ..errors import ConfigError
    from ..findings import Finding
    from ..planning.spec import plan

    if not _has_distinct_sides(spec.record):
        return None, None
    side = "cpu" if spec.use_gpu else "gpu"
    try:
        return plan(load_config(args.job, args.overrides, use_gpu=not spec.use_gpu)), None
    except ConfigError as exc:
        return None, Finding("warning", "other-side-invalid", f"on the {side.upper()} side (--{side}): {exc}")


def _has_distinct_sides(record: Any) -> bool:
    """Whether some ``{gpu: A, cpu: B}`` in the resolved config has two different values."""
    if isinstance(record, dict):
        if set(record) == {"gpu", "cpu"} and record["gpu"] != record["cpu"]:
            return record["gpu"] is not None and record["cpu"] is not None
        return any(_has_distinct_sides(value) for value in record.values())
    if isinstance(record, list):
        return any(_has_distinct_sides(value) for value in record)
    return False

"""Handlers of the Azure-facing CLI commands: submit, status, logs, cancel, download, list."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import AzureTrainerError, PreflightError


def _workspace_args(args: argparse.Namespace) -> dict[str, str | None]:
    return {
        "subscription_id": getattr(args, "subscription", None),
        "resource_group": getattr(args, "resource_group", None),
        "name": getattr(args, "workspace", None),
    }


def client_factory(
    workspace: dict[str, str | None],
    config_workspace: Any = None,
    *,
    job_config: bool = False,
    dry_run: bool = False,
) -> Any:
    """The MLClient the commands use (tests replace this function with one returning a fake).

    ``job_config`` and ``dry_run`` only shape the message when no workspace is given (see
    :func:`~azure_trainer.azureml.workspace.resolve_workspace`).
    """
    from .workspace import make_ml_client, resolve_workspace

    return make_ml_client(
        resolve_workspace(workspace, config_workspace, job_config=job_config, dry_run=dry_run)
    )


@contextlib.contextmanager
def _json_errors(enabled: bool) -> Iterator[None]:
    """With ``--json``, also print a failure as one JSON object on stdout, so scripts can parse it.

    The error propagates unchanged: the CLI still prints its one-line message on stderr and exits with
    its code.
    """
    try:
        yield
    except AzureTrainerError as exc:
        if enabled:
            print(json.dumps({"error": str(exc), "exit_code": exc.exit_code}, indent=2))
        raise


def submit_command(args: argparse.Namespace) -> int:
    """``submit``: preflight, then create the job (``--dry-run``: print its YAML instead)."""
    with _json_errors(args.json):
        return _submit(args)


def _submit(args: argparse.Namespace) -> int:
    from ..config import load_config
    from .naming import check_job_name
    from .preflight import format_findings
    from .submit import submit

    config = load_config(args.job, args.overrides, use_gpu=args.use_gpu)
    if args.name:
        check_job_name(args.name)
    needs_client = not (args.dry_run and args.no_preflight)
    client = (
        client_factory(_workspace_args(args), config.workspace, job_config=True, dry_run=args.dry_run)
        if needs_client
        else None
    )
    try:
        result = submit(config, client, dry_run=args.dry_run, preflight=not args.no_preflight, name=args.name)
    except PreflightError as exc:
        if args.json:
            print(
                json.dumps(
                    {
                        "status": "preflight-failed",
                        "error": str(exc).splitlines()[0],
                        "exit_code": exc.exit_code,
                        "findings": [f.__dict__ for f in exc.findings],
                    },
                    indent=2,
                )
            )
            return exc.exit_code
        raise
    if args.json:
        out = result.to_dict()
        if result.dry_run:
            out["job_yaml"] = result.job_yaml
        print(json.dumps(out, indent=2))
        return 0
    if result.findings:
        print(format_findings(result.findings), file=sys.stderr)
    if result.dry_run:
        print(result.job_yaml, end="")
        print(f"dry run: job {result.name} was not submitted", file=sys.stderr)
        return 0
    print(f"submitted {result.name} ({result.status})")
    if result.studio_url:
        print(f"studio: {result.studio_url}")
    if args.stream:
        return _watch(client, result.name)
    return 0


def _watch(client: Any, name: str) -> int:
    from .lifecycle import stream_logs

    try:
        final = stream_logs(client, name)
    except KeyboardInterrupt:
        print(
            f"\nstopped watching; job {name} keeps running (azure-trainer cancel {name} stops it)",
            file=sys.stderr,
        )
        return 130
    print(f"job {name}: {final['status']}")
    return 0 if final["status"] == "Completed" else 1


def status_command(args: argparse.Namespace) -> int:
    """``status``: the job's status and key facts."""
    from .lifecycle import job_status
    from .naming import check_job_name

    with _json_errors(args.json):
        check_job_name(args.name)
        info = job_status(client_factory(_workspace_args(args)), args.name)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        for key, value in info.items():
            if value is not None:
                print(f"{key:12}  {value}")
    return 0


def logs_command(args: argparse.Namespace) -> int:
    """``logs``: stream the job's logs until it ends."""
    from .naming import check_job_name

    check_job_name(args.name)
    return _watch(client_factory(_workspace_args(args)), args.name)


def cancel_command(args: argparse.Namespace) -> int:
    """``cancel``: ask Azure ML to cancel the job."""
    from .lifecycle import cancel_job
    from .naming import check_job_name

    check_job_name(args.name)
    cancel_job(client_factory(_workspace_args(args)), args.name)
    print(f"cancel requested for {args.name}")
    return 0


def download_command(args: argparse.Namespace) -> int:
    """``download``: the job's outputs and logs into ``-o`` (default ``./downloads/NAME``)."""
    from .lifecycle import download_job, download_target

    target = download_target(args.name, args.output)
    download_job(client_factory(_workspace_args(args)), args.name, target)
    print(f"downloaded {args.name} to {target}")
    return 0


def list_command(args: argparse.Namespace) -> int:
    """``list``: the most recent jobs."""
    from .lifecycle import check_limit, list_jobs

    with _json_errors(args.json):
        check_limit(args.limit)
        jobs = list_jobs(client_factory(_workspace_args(args)), experiment=args.experiment, limit=args.limit)
    if args.json:
        print(json.dumps(jobs, indent=2, default=str))
        return 0
    if not jobs:
        print("no jobs")
        return 0
    print(f"{'NAME':40}  {'STATUS':11}  {'EXPERIMENT':20}  CREATED")
    for job in jobs:
        print(
            f"{str(job['name']):40}  {str(job['status']):11}  {str(job['experiment']):20}  {job['created'] or ''}"
        )
    return 0

"""``azure-trainer submit JOB``: preflight and the cost estimate, then one create call (``--dry-run``: the
job YAML instead)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import PreflightError
from ._common import (
    Context,
    add_job_options,
    add_json_option,
    add_workspace_options,
    json_errors,
    load_spec,
    print_json,
)
from .logs import watch

HELP = "preflight-check the job, then submit it to Azure ML"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_options(parser)
    add_workspace_options(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="run every check, print the job YAML, create nothing"
    )
    parser.add_argument("--no-preflight", action="store_true", help="skip the preflight checks")
    parser.add_argument("--stream", action="store_true", help="stream the job's logs until it ends")
    parser.add_argument(
        "--name",
        metavar="NAME",
        help="job name (default: <experiment>-<time>-<random>); submitting again with the same name never "
        "makes a second job",
    )
    add_json_option(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    with json_errors(args.json):
        return _submit(args, ctx)


def _submit(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.naming import check_job_name
    from ..azureml.submit import submit

    spec = load_spec(args)
    if args.name is not None:  # --name '' is a bad name, not no name
        check_job_name(args.name)
    offline = None
    if not args.no_preflight:  # the checks that need no Azure, before any sign-in
        offline = _offline_first(spec, args)
    if args.dry_run and args.no_preflight:  # the job YAML only: no workspace, no sign-in
        return _report(args, None, submit(spec, None, dry_run=True, preflight=False, name=args.name))
    from ..progress import interactive, scan_progress

    shown = offline.findings if offline is not None and _prints_offline(args) else []
    with ctx.ml_client(args, spec.workspace, job_config=True, dry_run=args.dry_run) as client:
        try:
            with scan_progress(enabled=interactive(quiet=args.quiet, json=args.json)):  # large code folders
                result = submit(
                    spec,
                    client,
                    dry_run=args.dry_run,
                    preflight=not args.no_preflight,
                    name=args.name,
                    offline=offline,
                )
        except PreflightError as exc:
            if not args.json:
                raise _without(exc, shown) from None
            print_json(
                {
                    "status": "preflight-failed",
                    "error": str(exc).splitlines()[0],
                    "exit_code": exc.exit_code,
                    "findings": [f.__dict__ for f in exc.findings],
                }
            )
            return exc.exit_code
        return _report(args, client, result, shown)


def _offline_first(spec: Any, args: argparse.Namespace) -> Any:
    """The offline checks (:mod:`azure_trainer.checks`), both sides of a ``{gpu, cpu}`` job as ``validate``
    runs them; their errors stop the submission before sign-in. Their warnings, and what waits for the
    workspace, are printed before signing in, so a sign-in that fails does not hide them."""
    from ..azureml.preflight import format_findings
    from ..checks import offline_checks
    from .validate import other_side

    other, problem = other_side(args, spec)
    report = offline_checks(spec, other)
    if problem is not None and problem.code not in spec.preflight.skip:
        report.findings.append(problem)
    if report.errors:
        raise PreflightError(
            f"{len(report.errors)} error(s) found before any sign-in; nothing was submitted:\n"
            + format_findings(report.findings),
            report.findings,
        )
    if _prints_offline(args):
        done = f"{len(report.findings)} warning(s)" if report.findings else "passed"
        if report.findings:
            print(format_findings(report.findings), file=sys.stderr)
        print(
            f"checks before sign-in: {done}; next, in the workspace: {', '.join(report.not_run)}",
            file=sys.stderr,
        )
    return report


def _without(exc: PreflightError, shown: list[Any]) -> PreflightError:
    """The preflight error with its table less the findings printed before sign-in."""
    from ..azureml.preflight import format_findings

    if not shown:
        return exc
    rest = [f for f in exc.findings if f not in shown]
    return PreflightError(f"{str(exc).splitlines()[0]}\n{format_findings(rest)}", exc.findings)


def _prints_offline(args: argparse.Namespace) -> bool:
    return not args.json and not getattr(args, "quiet", False)


def _report(args: argparse.Namespace, client: Any, result: Any, shown: Any = ()) -> int:
    """Print what submit did (findings but those ``shown`` before sign-in, cost, warnings; the YAML of a
    dry run); follow the job with --stream."""
    from ..azureml.preflight import format_findings

    if args.json:
        out = result.to_dict()
        if result.dry_run:
            out["job_yaml"] = result.job_yaml
        print_json(out)
        return 0
    findings = [f for f in result.findings if f not in shown]  # the offline ones came before sign-in
    if findings:
        print(format_findings(findings), file=sys.stderr)
    if result.cost is not None:
        print(result.cost.text(), file=sys.stderr)
    for warning in result.warnings:
        print(f"azure-trainer: warning: {warning}", file=sys.stderr)
    if result.dry_run:
        print(result.job_yaml, end="")
        print(f"dry run: job {result.name} was not submitted", file=sys.stderr)
        return 0
    print(f"{'submitted' if result.created else 'already submitted'} {result.name} ({result.status})")
    if result.studio_url:
        print(f"studio: {result.studio_url}")
    if args.stream:
        return watch(client, result.name, quiet=args.quiet)
    return 0

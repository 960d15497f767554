"""``azure-trainer validate JOB...``: check job configs offline and print what would run.

For each file: load and plan it, then run every check that needs no Azure (:mod:`..checks`): secrets,
the code snapshot, the script's options against its ``--help``, a local environment file against ``use_gpu`` and this
machine's torch, and the other side of a ``{gpu, cpu}`` job (as warnings). One file: its summary and
findings. Several: one line per file. ``--json``: a list, one object per file. The exit code is 0 when
every file is valid and no check found an error, else the worst (2 for a config error, 1 for a check's
error). Imports neither azure.ai.ml nor torch (a test keeps it so): it is the fast check for editors,
CI and pre-commit (``.pre-commit-hooks.yaml`` passes every changed job file at once).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from ..errors import AzureTrainerError
from ._common import Context, add_job_options, load_spec, print_json

HELP = "check job configs offline and print a summary (no Azure, no torch); several files: one line each"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_options(parser)
    parser.add_argument("more_jobs", nargs="*", metavar="JOB.yaml", help="more job configs to check")
    parser.add_argument("--json", action="store_true", help="print one result object per file as JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    files = [args.job, *args.more_jobs]
    results = [check(args, path) for path in files]
    worst = max(r["exit_code"] for r in results)
    if args.json:
        print_json(results)
    elif len(files) == 1 and results[0]["valid"] is not None and "summary" in results[0]:
        _print_one(results[0], args.quiet)
    else:
        for r in results:
            _print_line(r, args.quiet)
        if len(files) > 1 and not args.quiet:
            bad = sum(r["exit_code"] != 0 for r in results)
            print(f"{len(files) - bad} of {len(files)} valid", file=sys.stderr if bad else sys.stdout)
    return worst


def check(args: argparse.Namespace, path: str) -> dict[str, Any]:
    """One file through the same load-and-plan as every command, its summary and offline findings;
    errors as data."""
    from ..checks import offline_checks
    from ..planning.summary import summarize

    one = argparse.Namespace(**{**vars(args), "job": path})
    try:
        spec = load_spec(one)
        other, problem = other_side(one, spec)
        report = offline_checks(spec, other)
    except AzureTrainerError as exc:
        if getattr(args, "debug", False):
            raise
        return {"file": path, "valid": False, "error": str(exc), "exit_code": exc.exit_code}
    findings = report.findings + ([problem] if problem is not None else [])
    errors = [f for f in findings if f.is_error]
    return {
        "file": path,
        "valid": not errors,
        "summary": _headed(summarize(spec), len(errors)),
        "findings": [dataclasses.asdict(f) for f in findings],
        "not_checked": list(report.not_run),
        "exit_code": 1 if errors else 0,
    }


def _headed(summary: str, errors: int) -> str:
    """The summary, whose first line ("FILE: valid") says the checks' errors when there are some."""
    head, newline, rest = summary.partition("\n")
    if errors and head.endswith(": valid"):
        head = head[: -len("valid")] + f"loads and plans, but the checks found {errors} error(s)"
    return head + newline + rest


def _print_one(result: dict[str, Any], quiet: bool) -> None:
    from ..findings import Finding

    findings = [Finding.from_dict(f) for f in result["findings"]]
    if findings:  # preflight's module (with cost, quota, compute info): only when there is a table to print
        from ..azureml.preflight import format_findings
    if not quiet:
        print(result["summary"])
        print(format_findings(findings) if findings else "offline checks: all passed")
        print(
            "not checked offline (they need the workspace; `submit --dry-run` runs them): "
            + ", ".join(result["not_checked"])
        )
    elif findings:
        print(format_findings([f for f in findings if f.is_error]))
    errors = sum(f.is_error for f in findings)
    if errors:
        print(f"azure-trainer: {errors} error(s) found before any sign-in", file=sys.stderr)


def _print_line(result: dict[str, Any], quiet: bool) -> None:
    if "error" in result:
        print(f"azure-trainer: error: {result['error']}", file=sys.stderr)
        return
    errors = [f for f in result["findings"] if f["severity"] == "error"]
    warnings = len(result["findings"]) - len(errors)
    if errors:
        codes = ", ".join(sorted({f["code"] for f in errors}))
        print(
            f"{result['file']}: {len(errors)} error(s) ({codes}); validate it alone for the details",
            file=sys.stderr,
        )
    elif not quiet:
        print(f"{result['file']}: valid" + (f" ({warnings} warning(s))" if warnings else ""))


def other_side(args: argparse.Namespace, spec: Any) -> tuple[Any, Any]:
    """The job planned for its other ``use_gpu`` side, when the config gives that side its own compute,
    environment or VM size; ``(None, warning)`` when that side does not plan; ``(None, None)`` when the
    config has no distinct other side."""
    from ..errors import ConfigError
    from ..findings import Finding

    if not _has_distinct_sides(spec.record):
        return None, None
    side = "cpu" if spec.use_gpu else "gpu"
    try:
        return load_spec(argparse.Namespace(**{**vars(args), "use_gpu": not spec.use_gpu})), None
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

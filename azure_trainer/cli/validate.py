"""``azure-trainer validate JOB...``: check job configs offline and print what would run.

Imports neither azure.ai.ml nor torch (a test keeps it so): it is the fast check for editors, CI and
pre-commit (``.pre-commit-hooks.yaml`` passes every changed job file at once). One file: its summary.
Several: one line per file (``FILE: valid``, or its error). ``--json``: a list, one object per file.
The exit code is 0 when every file is valid, else the worst error's (2 for a config error).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import AzureTrainerError
from ._common import Context, add_job_options, load_spec, print_json

HELP = "check job configs and print a summary (no Azure, no torch); several files: one line each"


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
    elif len(files) == 1 and worst == 0:
        if not args.quiet:
            print(results[0]["summary"])
    else:
        for r in results:
            if r["valid"] and not args.quiet:
                print(f"{r['file']}: valid")
            elif not r["valid"]:
                print(f"azure-trainer: error: {r['error']}", file=sys.stderr)
        if len(files) > 1 and not args.quiet:
            bad = sum(not r["valid"] for r in results)
            print(f"{len(files) - bad} of {len(files)} valid", file=sys.stderr if bad else sys.stdout)
    return worst


def check(args: argparse.Namespace, path: str) -> dict[str, Any]:
    """One file through the same load-and-plan as every command, and its summary; errors as data."""
    from ..planning.summary import summarize

    try:
        summary = summarize(load_spec(argparse.Namespace(**{**vars(args), "job": path})))
    except AzureTrainerError as exc:
        if getattr(args, "debug", False):
            raise
        return {"file": path, "valid": False, "error": str(exc), "exit_code": exc.exit_code}
    return {"file": path, "valid": True, "summary": summary, "exit_code": 0}

"""``azure-trainer logs NAME``: stream a job's logs until it ends (Ctrl-C stops watching only)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import Context, add_workspace_options

HELP = "stream a job's logs until it ends (Ctrl-C stops watching, the job keeps running)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the job name")
    add_workspace_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.naming import check_job_name

    check_job_name(args.name)
    with ctx.ml_client(args) as client:
        return watch(client, args.name)


def watch(client: Any, name: str) -> int:
    """Stream ``name``'s logs to the end; 0 if it completed, 1 otherwise, 130 when the user stops watching."""
    from ..azureml.lifecycle import stream_logs

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

"""``azure-trainer logs NAME``: stream a job's logs until it ends (Ctrl-C stops watching only).

At a terminal, a spinner says what is being waited for: the job to start (its status, polled), then
its first log line; ``--quiet``, ``--json`` or a pipe show none. With ``--json`` the log lines go to
stderr and stdout carries only the final status as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any

from ._common import Context, add_json_option, add_workspace_options, json_errors, print_json

HELP = "stream a job's logs until it ends (Ctrl-C stops watching, the job keeps running)"

WAITING_STATUSES = frozenset({"NotStarted", "Queued", "Preparing", "Provisioning", "Starting"})
"""Job statuses before the job runs (azure-ai-ml's JobStatus values)."""
POLL_S = 5.0
"""Seconds between status look-ups while waiting for the job to start."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the job name")
    add_workspace_options(parser)
    add_json_option(parser, "the job's final status (the log lines go to stderr)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.naming import check_job_name

    with json_errors(args.json):
        check_job_name(args.name)
        with ctx.ml_client(args) as client:
            return watch(client, args.name, quiet=args.quiet, json=args.json)


def watch(client: Any, name: str, *, quiet: bool = False, json: bool = False) -> int:
    """Stream ``name``'s logs to the end; 0 if it completed, 1 otherwise, 130 when the user stops watching."""
    from ..azureml.lifecycle import stream_logs
    from ..progress import interactive

    show = interactive(quiet=quiet, json=json)
    try:
        if show:
            wait_for_start(client, name)
        with _log_lines(show, json):
            final = stream_logs(client, name)
    except KeyboardInterrupt:
        print(
            f"\nstopped watching; job {name} keeps running (azure-trainer cancel {name} stops it)",
            file=sys.stderr,
        )
        return 130
    code = 0 if final["status"] == "Completed" else 1
    if json:
        print_json({**final, "exit_code": code})
    else:
        print(f"job {name}: {final['status']}")
    return code


def wait_for_start(client: Any, name: str) -> dict[str, Any]:
    """Poll the job's status under a spinner until it has left the queue (or ended); its last status."""
    from ..azureml.lifecycle import job_status
    from ..progress import waiting

    info = job_status(client, name)
    with waiting(f"job {name}: {info['status']}, waiting for it to start") as update:
        while info["status"] in WAITING_STATUSES:
            time.sleep(POLL_S)
            info = job_status(client, name)
            update(f"job {name}: {info['status']}, waiting for it to start")
    return info


@contextlib.contextmanager
def _log_lines(show: bool, json: bool):
    """Where the streamed lines go (stderr with --json), behind a "first line" spinner at a terminal."""
    from ..progress import FirstOutput, waiting

    with contextlib.ExitStack() as stack:
        if json:
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        if show:
            spinner = contextlib.ExitStack()
            spinner.enter_context(waiting("waiting for the first log line"))
            stack.callback(spinner.close)
            stack.enter_context(contextlib.redirect_stdout(FirstOutput(sys.stdout, spinner.close)))
        yield

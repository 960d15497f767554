"""``azure-trainer validate JOB``: check a job config offline and print what would run.

Imports neither azure.ai.ml nor torch (a test keeps it so): it is the fast check for editors and CI.
"""

from __future__ import annotations

import argparse

from ._common import Context, add_job_options, load_spec

HELP = "check a job config and print a summary (no Azure, no torch)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_options(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..planning.summary import summarize

    print(summarize(load_spec(args)))
    return 0

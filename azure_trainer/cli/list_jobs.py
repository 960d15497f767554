"""``azure-trainer list``: the workspace's most recent jobs."""

from __future__ import annotations

import argparse

from ._common import Context, add_json_option, add_workspace_options, json_errors, print_json

HELP = "list recent jobs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_workspace_options(parser)
    parser.add_argument("--experiment", metavar="NAME", help="only jobs of this experiment")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="at most N jobs (default 20)")
    add_json_option(parser, "the jobs")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.lifecycle import check_limit, list_jobs

    with json_errors(args.json):
        check_limit(args.limit)
        with ctx.ml_client(args) as client:
            jobs = list_jobs(client, experiment=args.experiment, limit=args.limit)
    if args.json:
        print_json(jobs)
        return 0
    if not jobs:
        print("no jobs")
        return 0
    from ..progress import table

    rows = [[job["name"], job["status"], job["experiment"], job["created"] or ""] for job in jobs]
    print(table(["NAME", "STATUS", "EXPERIMENT", "CREATED"], rows))
    return 0

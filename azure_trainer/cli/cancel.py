"""``azure-trainer cancel NAME``: ask Azure ML to cancel a job."""

from __future__ import annotations

import argparse

from ._common import Context, add_json_option, add_workspace_options, json_errors, print_json

HELP = "cancel a job"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the job name")
    add_workspace_options(parser)
    add_json_option(parser, "the outcome")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.lifecycle import cancel_job
    from ..azureml.naming import check_job_name

    with json_errors(args.json):
        check_job_name(args.name)
        with ctx.ml_client(args) as client:
            cancel_job(client, args.name)
    if args.json:
        print_json({"name": args.name, "cancel_requested": True})
    else:
        print(f"cancel requested for {args.name}")
    return 0

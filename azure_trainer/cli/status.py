"""``azure-trainer status NAME``: a job's status, experiment, compute and Studio URL; for a finished job,
what its run time cost (an estimate at list price)."""

from __future__ import annotations

import argparse

from ._common import Context, add_json_option, add_workspace_options, json_errors, print_json

HELP = "show a job's status"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the job name")
    add_workspace_options(parser)
    add_json_option(parser, "the job")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.lifecycle import job_status
    from ..azureml.naming import check_job_name

    with json_errors(args.json):
        check_job_name(args.name)
        with ctx.ml_client(args) as client:
            info = job_status(client, args.name, billed=True)
    if args.json:
        print_json(info)
        return 0
    for key, value in info.items():
        if key == "billed":
            print(f"{'billed':12}  {value['text']}")
        elif value is not None:
            print(f"{key:12}  {value}")
    return 0

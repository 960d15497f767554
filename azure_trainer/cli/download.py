"""``azure-trainer download NAME``: a job's outputs and logs into a local folder."""

from __future__ import annotations

import argparse

from ._common import Context, add_json_option, add_workspace_options, json_errors, print_json

HELP = "download a job's outputs and logs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the job name")
    add_workspace_options(parser)
    parser.add_argument(
        "-o", "--output", metavar="DIR", default=None, help="destination folder (default: ./downloads/NAME)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="download into a folder that already holds files (files of the same names are overwritten)",
    )
    add_json_option(parser, "where it went")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.lifecycle import download_job, download_target

    with json_errors(args.json):
        target = download_target(args.name, args.output, force=args.force)  # checked before signing in
        with ctx.ml_client(args) as client:
            download_job(client, args.name, target, force=args.force)
    if args.json:
        print_json({"name": args.name, "downloaded_to": str(target)})
    else:
        print(f"downloaded {args.name} to {target}")
    return 0

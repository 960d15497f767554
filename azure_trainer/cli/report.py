"""``azure-trainer report PATH | --job NAME``: one self-contained HTML page with the run's summary and
metric curves, a sweep's leaderboard and objective-vs-parameter plots, or benchmark bar charts."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ._common import Context, add_json_option, add_workspace_options, json_errors, print_json

HELP = "write an HTML report (plots) of a local run or sweep, a finished Azure ML job, or benchmark results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        metavar="RUN_OR_SWEEP_DIR",
        help="a run-local run folder or sweep folder, or benchmark JSON (a file or a folder of them)",
    )
    parser.add_argument(
        "--job", metavar="NAME", help="instead of a folder: a finished Azure ML job, from its MLflow metrics"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the HTML file (default: report.html in the folder; for a JSON file, its name with .html; "
        "for --job, report-NAME.html here); a file not made by this command is never overwritten",
    )
    add_workspace_options(parser)
    add_json_option(parser, "where the report went and what it shows")


def run(args: argparse.Namespace, ctx: Context) -> int:
    with json_errors(args.json):
        return _report(args, ctx)


def _report(args: argparse.Namespace, ctx: Context) -> int:
    from ..report import default_output, load_local, render, summary, write_report

    if (args.path is None) == (args.job is None):
        raise ConfigError(
            "give either a run or sweep folder (RUN_OR_SWEEP_DIR) or --job NAME, not both or neither"
        )
    if args.output is not None and not args.output.strip():
        raise ConfigError("-o/--output: give a file name (or leave -o out for the default)")
    if args.job is not None:
        from ..azureml.naming import check_job_name
        from ..report import azure_job_data

        check_job_name(args.job)
        output = Path(args.output or f"report-{args.job}.html")
        with ctx.ml_client(args) as client:
            data = azure_job_data(client, args.job)
        source = f"Azure ML job {args.job}"
    else:
        data = load_local(args.path)
        output = Path(args.output) if args.output else default_output(args.path)
        source = str(args.path)
    written = write_report(render(data, source=source), output)
    if args.json:
        print_json({"report": str(written), **summary(data)})
    else:
        print(f"wrote {written}")
    return 0

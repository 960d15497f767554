"""``azure-trainer export JOB``: the job as Azure ML CLI v2 YAML, for ``az ml job create -f``."""

from __future__ import annotations

import argparse
import sys

from ._common import Context, add_job_options, load_spec, write_or_print

HELP = "print the job as Azure ML CLI v2 YAML (az ml job create -f)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_options(parser)
    parser.add_argument("-o", "--output", metavar="FILE", help="write the YAML to FILE instead of stdout")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.build import build_job, to_yaml

    spec = load_spec(args)
    hidden: list[str] = []
    text = to_yaml(build_job(spec), allow=spec.preflight.allow, hidden=hidden)
    if hidden:
        print(
            f"azure-trainer: warning: {', '.join(sorted(set(hidden)))} looked like secrets and were written "
            "as ***; keep secrets out of job definitions (Key Vault + the job's identity; a datastore for "
            "storage), or list the name in `preflight: {allow: [...]}` if it is not a secret",
            file=sys.stderr,
        )
    write_or_print(text, args.output)
    return 0

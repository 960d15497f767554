"""``azure-trainer export JOB``: the job as Azure ML CLI v2 YAML, for ``az ml job create -f``.

The YAML is the job file itself with azure-trainer's additions resolved (see README: "What use_gpu
adds"); local paths are written relative to the folder of ``-o FILE`` (else the current folder), so the
exported file can be committed and used on another machine.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._common import Context, add_job_options, load_spec, write_or_print

HELP = "print the job as Azure ML CLI v2 YAML (az ml job create -f)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_options(parser)
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the YAML to FILE instead of stdout (local paths relative to FILE's folder)",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.build import to_yaml

    spec = load_spec(args)
    hidden: list[str] = []
    folder = os.path.dirname(os.path.abspath(args.output)) if args.output and args.output.strip() else None
    text = to_yaml(spec, allow=spec.preflight.allow, hidden=hidden, relative_to=folder)
    if hidden:
        print(
            f"azure-trainer: warning: {', '.join(sorted(set(hidden)))} looked like secrets and were written "
            "as ***; keep secrets out of job definitions (Key Vault + the job's identity; a datastore for "
            "storage), or list the name in `preflight: {allow: [...]}` if it is not a secret",
            file=sys.stderr,
        )
    write_or_print(text, args.output)
    return 0

"""``azure-trainer schema``: the JSON Schema of job configs, for editors (yaml-language-server)."""

from __future__ import annotations

import argparse

from ._common import Context, write_or_print

HELP = "print the JSON Schema of job configs (for editors)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="FILE", help="write the schema to FILE instead of stdout")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..config.schema import schema_json

    write_or_print(schema_json(), args.output)
    return 0

"""``azure-trainer schema``: the JSON Schema of job configs, for editors (yaml-language-server).

``-o FILE`` replaces an earlier schema written by this command (so ``schema -o azure-trainer.schema.json``
regenerates it) and refuses any other existing file (a job config, say) unless ``--force``; the file is
written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._common import Context

HELP = "print the JSON Schema of job configs (for editors)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the schema to FILE instead of stdout (an existing file only if it is an earlier "
        "schema, or with --force)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite FILE even if it is not a schema")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..config.schema import SCHEMA_ID, schema_json
    from .export import check_output, write_whole

    text = schema_json()
    if args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    force = args.force or _is_schema(args.output, SCHEMA_ID)
    target = check_output(
        args.output, [], force=force, what="the schema", kept=" and is not a schema azure-trainer wrote"
    )
    write_whole(target, text, shown=args.output)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _is_schema(output: str, schema_id: str) -> bool:
    """Whether ``output`` holds a schema this command wrote (its ``$id`` is ours)."""
    try:
        path = Path(output)
        if not path.is_file() or path.stat().st_size > 10_000_000:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("$id") == schema_id

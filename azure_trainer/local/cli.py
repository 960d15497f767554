"""The ``azure-trainer run-local`` handler (its options are defined in azure_trainer/cli_commands.py)."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import LocalRunError


def run_local_command(args: argparse.Namespace) -> int:
    """Run the job locally; the exit code is the script's (or 2 for bad local input, 1 for a rehearsal
    that was inconclusive or failed while the script itself exited 0)."""
    from ..config import load_config
    from .runner import parse_input_args, run_local

    inputs = parse_input_args(getattr(args, "inputs", None) or [])
    if args.nproc is not None and args.nproc < 1:
        raise LocalRunError(f"--nproc {args.nproc}: give a number of processes >= 1")
    config = load_config(args.job, args.overrides, use_gpu=args.use_gpu)
    if config.sweep is not None:
        raise LocalRunError(
            "local sweeps: not yet; run one trial by removing `sweep:` (or --set sweep=null) "
            "and setting its arguments with --set args.NAME=VALUE"
        )
    if getattr(args, "trials", None) is not None or getattr(args, "parallel", 1) != 1:
        print(
            "run-local: note: --trials/--parallel apply to sweeps only; this job has no sweep",
            file=sys.stderr,
        )
    as_json = bool(getattr(args, "json", False))
    result = run_local(
        config,
        inputs=inputs,
        run_dir=args.output_dir,
        nproc=args.nproc,
        strict_device=args.strict_device,
        preempt_after=args.preempt_after,
        preempt_at_step=args.preempt_at_step,
        stream=True,
        console=sys.stderr if as_json else None,  # --json: stdout carries the JSON only
    )
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        sys.stdout.flush()
        print(result.summary(), file=sys.stderr)
    return result.exit_code

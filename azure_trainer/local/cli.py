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
    as_json = bool(getattr(args, "json", False))
    if config.sweep is not None:
        return _run_sweep(args, config, inputs, as_json)
    if getattr(args, "trials", None) is not None or getattr(args, "parallel", 1) != 1:
        print(
            "run-local: note: --trials/--parallel apply to sweeps only; this job has no sweep",
            file=sys.stderr,
        )
    result = run_local(
        config,
        inputs=inputs,
        run_dir=args.output_dir,
        nproc=args.nproc,
        strict_device=args.strict_device,
        preempt_after=args.preempt_after,
        preempt_at_step=args.preempt_at_step,
        timeout=args.timeout,
        stream=True,
        console=sys.stderr if as_json else None,  # --json: stdout carries the JSON only
    )
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        sys.stdout.flush()
        print(result.summary(), file=sys.stderr)
    return result.exit_code


def _run_sweep(args: argparse.Namespace, config, inputs, as_json: bool) -> int:
    from .sweeps import run_local_sweep

    for flag, value in (
        ("--preempt-after", args.preempt_after),
        ("--preempt-at-step", args.preempt_at_step),
        ("--nproc", args.nproc),
    ):
        if value is not None:
            raise LocalRunError(f"{flag} is for a single run; drop it, or the `sweep:` (--set sweep=null)")
    result = run_local_sweep(
        config,
        trials=args.trials,
        parallel=args.parallel,
        sweep_dir=args.output_dir,
        inputs=inputs,
        console=sys.stderr if as_json else None,
        trial_timeout=args.timeout,
        strict_device=args.strict_device,
    )
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print(result.leaderboard())
    return result.exit_code

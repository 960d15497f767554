"""``azure-trainer run-local JOB``: the job's exact command on this machine (a sweep: its trials).

The exit code is the script's (2 for bad local input; 1 for a preemption rehearsal that was
inconclusive or failed while the script itself exited 0; 124 when the time limit stopped it); the
summary and ``--json`` (``script_exit_code``) say the script's own code when it differs.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import LocalRunError
from ._common import Context, add_job_options, json_errors, load_spec, print_json

HELP = "run the job on this machine: same command, arguments and environment"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_options(parser)
    parser.add_argument(
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="local file or folder for input NAME (else its local_path). Repeatable.",
    )
    parser.add_argument(
        "--run-dir",
        metavar="DIR",
        help="the run folder (default: runs/<experiment>-<timestamp>); reusing one resumes its job",
    )
    parser.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="processes per node (each of resources.instance_count) for a distributed job (default: "
        "distribution.process_count_per_instance, 1 when unset)",
    )
    parser.add_argument(
        "--strict-device",
        action="store_true",
        help="with use_gpu and no GPU here, fail like the cloud would instead of training on the CPU",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop the run (SIGTERM, then SIGKILL) after SECONDS, as Azure ML would; default: the job's "
        "limits.timeout (sweeps: limits.trial_timeout per trial); 0: no limit",
    )
    preempt = parser.add_mutually_exclusive_group()
    preempt.add_argument(
        "--preempt-after",
        type=float,
        metavar="SECONDS",
        help="preemption rehearsal: SIGTERM after SECONDS, then restart and check it resumed",
    )
    preempt.add_argument(
        "--preempt-at-step",
        type=int,
        metavar="N",
        help="preemption rehearsal: SIGTERM at training step N, then restart and check it resumed",
    )
    parser.add_argument(
        "--trials", type=int, metavar="N", help="sweep: number of trials (random sample; grid: all)"
    )
    parser.add_argument(
        "--parallel", type=int, default=1, metavar="K", help="sweep: trials run at once (default 1)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    with json_errors(args.json):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from ..local.inputs import parse_input_args

    inputs = parse_input_args(args.inputs)
    spec = load_spec(args)
    if spec.sweep is not None:
        return _run_sweep(args, spec, inputs)
    if args.trials is not None or args.parallel != 1:
        print(
            "run-local: note: --trials/--parallel apply to sweeps only; this job has no sweep",
            file=sys.stderr,
        )
    from ..local.runner import run_local

    result = run_local(
        spec,
        inputs=inputs,
        run_dir=args.run_dir,
        nproc=args.nproc,
        strict_device=args.strict_device,
        preempt_after=args.preempt_after,
        preempt_at_step=args.preempt_at_step,
        timeout=args.timeout,
        stream=not args.quiet,  # --quiet: the script's output goes to log.txt only
        console=sys.stderr if args.json else None,  # --json: stdout carries the JSON only
    )
    if args.json:
        print_json(result.to_dict())
    else:
        sys.stdout.flush()
        print(result.summary(), file=sys.stderr)
    return result.exit_code


def _run_sweep(args: argparse.Namespace, spec, inputs: dict[str, str]) -> int:
    from ..local.sweeps import run_local_sweep

    for flag, value in (
        ("--preempt-after", args.preempt_after),
        ("--preempt-at-step", args.preempt_at_step),
        ("--nproc", args.nproc),
    ):
        if value is not None:
            raise LocalRunError(
                f"{flag} is for a single run, not a sweep's trials; drop it (to try it on one trial, write "
                "that trial as a command job: its `trial` keys at the top level, without `type: sweep`)"
            )
    from ..progress import SweepProgress, interactive

    console = open(os.devnull, "w") if args.quiet else sys.stderr if args.json else None  # noqa: SIM115
    try:
        with SweepProgress(interactive(quiet=args.quiet, json=args.json)) as progress:
            result = run_local_sweep(
                spec,
                trials=args.trials,
                parallel=args.parallel,
                sweep_dir=args.run_dir,
                inputs=inputs,
                console=console,
                trial_timeout=args.timeout,
                strict_device=args.strict_device,
                progress=progress,
            )
    finally:
        if args.quiet:
            console.close()
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.leaderboard())
    return result.exit_code

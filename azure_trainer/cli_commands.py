"""Sub-commands beyond validate/export/schema: run-local, submit and the job lifecycle.

Only argument definitions live here; each handler imports its implementation when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Options = Callable[[argparse.ArgumentParser], None]


def register(commands: Any, config_options: Options, workspace_options: Options) -> None:
    """Add run-local, submit, status, logs, cancel, download and list to ``commands``."""
    p = commands.add_parser(
        "run-local", help="run the job on this machine: same command, arguments and environment"
    )
    config_options(p)
    p.add_argument(
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="local file or folder for input NAME (else its local_path). Repeatable.",
    )
    p.add_argument(
        "--output-dir", metavar="DIR", help="the run folder (default: runs/<experiment>-<timestamp>)"
    )
    p.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="processes for a distributed job (default: instance_count x process_count_per_instance)",
    )
    p.add_argument(
        "--strict-device",
        action="store_true",
        help="with use_gpu and no GPU here, fail like the cloud would instead of training on the CPU",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop the run (SIGTERM, then SIGKILL) after SECONDS, as Azure ML would; default: the job's "
        "`timeout` (sweeps: limits.trial_timeout per trial); 0: no limit",
    )
    preempt = p.add_mutually_exclusive_group()
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
    p.add_argument(
        "--trials", type=int, metavar="N", help="sweep: number of trials (random sample; grid: all)"
    )
    p.add_argument(
        "--parallel", type=int, default=1, metavar="K", help="sweep: trials run at once (default 1)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_lazy("azure_trainer.local.cli", "run_local_command"))

    p = commands.add_parser("submit", help="preflight-check the job, then submit it to Azure ML")
    config_options(p)
    workspace_options(p)
    p.add_argument(
        "--dry-run", action="store_true", help="run every check, print the job YAML, create nothing"
    )
    p.add_argument("--no-preflight", action="store_true", help="skip the preflight checks")
    p.add_argument("--stream", action="store_true", help="stream the job's logs until it ends")
    p.add_argument("--name", metavar="NAME", help="job name (default: <experiment>-<time>-<random>)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_lazy("azure_trainer.azureml.cli", "submit_command"))

    for name, help_text in (
        ("status", "show a job's status"),
        ("logs", "stream a job's logs until it ends (Ctrl-C stops watching, the job keeps running)"),
        ("cancel", "cancel a job"),
        ("download", "download a job's outputs and logs"),
    ):
        p = commands.add_parser(name, help=help_text)
        p.add_argument("name", metavar="NAME", help="the job name")
        workspace_options(p)
        if name == "status":
            p.add_argument("--json", action="store_true", help="print the job as JSON")
        if name == "download":
            p.add_argument(
                "-o",
                "--output",
                metavar="DIR",
                default=None,
                help="destination folder (default: ./downloads/NAME)",
            )
        p.set_defaults(handler=_lazy("azure_trainer.azureml.cli", f"{name}_command"))

    p = commands.add_parser("list", help="list recent jobs")
    workspace_options(p)
    p.add_argument("--experiment", metavar="NAME", help="only jobs of this experiment")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="at most N jobs (default 20)")
    p.add_argument("--json", action="store_true", help="print the jobs as JSON")
    p.set_defaults(handler=_lazy("azure_trainer.azureml.cli", "list_command"))


def _lazy(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(module), function)(args)

    handler.__qualname__ = f"{module}.{function}"
    return handler

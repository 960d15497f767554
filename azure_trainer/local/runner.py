"""``run-local``: the job's exact command on this machine, from the same :class:`JobSpec` Azure ML gets.

One spec, two backends: :func:`azure_trainer.plan` resolves the config once; the Azure ML builder turns
the spec into a command job, this package runs it here. :func:`run_local` is the facade:

    JobSpec --prepare (pure: argv, env, files; .prepare)--> LocalLaunch --execute (.execute)--> LocalRunResult

It measures this machine once (a :class:`~.prepare.Host`: interpreter, torch, CUDA, a free port),
creates the run folder, and hands both to the pure :func:`~.prepare.prepare`; :func:`~.execute.execute`
then supervises the command (and the preemption rehearsal) and writes ``run.json``.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from ..config.model import JobConfig
from ..errors import ApiUsageError
from ..planning.spec import JobSpec, as_spec
from .execute import execute
from .inputs import parse_input_args
from .prepare import Host, LocalOptions, prepare
from .results import Attempt, LocalRunResult, Rehearsal
from .run_folder import choose_run_dir, create_folder
from .supervisor import terminate_all as terminate_all  # re-exported (the local sweep uses it)
from .tracking import TrackedRun, start_run

__all__ = ["Attempt", "LocalRunResult", "Rehearsal", "parse_input_args", "run_local"]


def run_local(
    job: JobSpec | JobConfig | str,
    *,
    inputs: Mapping[str, str] | None = None,
    run_dir: str | Path | None = None,
    nproc: int | None = None,
    strict_device: bool = False,
    preempt_after: float | None = None,
    preempt_at_step: int | None = None,
    timeout: float | None = None,
    stream: bool = True,
    console: TextIO | None = None,
) -> LocalRunResult:
    """Run a planned ``job`` on this machine, as Azure ML would run it, and return what happened.

    ``inputs`` maps input names to local paths (``--input``); ``run_dir`` is the run folder (default
    ``./runs/<experiment>-<time>``; this job's own run folder is reused, so a rerun resumes from its
    checkpoints); ``nproc`` overrides the processes per node (``process_count_per_instance``).
    ``strict_device`` keeps the cloud's fail-fast when ``use_gpu`` is true and there is no GPU here (the
    script exits 78) instead of training on the CPU. ``preempt_after`` (seconds) / ``preempt_at_step`` run the
    preemption rehearsal. ``timeout`` (seconds) overrides the job's own ``limits.timeout``, which otherwise
    applies to each start of the command as Azure ML applies it to the job: past it the run gets SIGTERM (then
    SIGKILL) and the result's exit code is 124; 0 means no limit. ``stream``/``console``: see
    :func:`.execute`.

    A JobConfig or a job file's path is planned first. Raises :class:`LocalRunError` (bad input,
    missing torch, ...) or ConfigError before anything runs.
    """
    spec = as_spec(job, "run_local")
    if run_dir is not None and not isinstance(run_dir, (str, os.PathLike)):
        raise ApiUsageError(f"run_local(run_dir=...) takes a folder path, not {type(run_dir).__name__}")
    options = _options(inputs, nproc, strict_device, preempt_after, preempt_at_step, timeout)
    return run_with_options(spec, options, run_dir, stream=stream, console=console)


def run_with_options(
    spec: JobSpec,
    options: LocalOptions,
    run_dir: str | Path | None,
    *,
    parent: TrackedRun | None = None,
    stream: bool = True,
    console: TextIO | None = None,
) -> LocalRunResult:
    """:func:`run_local` for callers that already hold LocalOptions (a local sweep's trials: their MLflow
    store and ``parent`` run are the sweep's)."""
    options.check()
    folder = choose_run_dir(spec, run_dir)
    launch = prepare(spec, options, measure_host(spec), folder)
    create_folder(folder, run_dir if run_dir is not None else folder, spec)
    tracked = None
    if launch.mlflow_store is not None:
        tracked = start_run(launch.mlflow_store, spec.experiment_name, folder.name, parent=parent)
    return execute(launch, tracked=tracked, stream=stream, console=console)


def _options(
    inputs: Mapping[str, str] | None,
    nproc: int | None,
    strict_device: bool,
    preempt_after: float | None,
    preempt_at_step: int | None,
    timeout: float | None,
) -> LocalOptions:
    """run_local's keyword arguments as LocalOptions; ApiUsageError for the wrong kind of value."""
    for label, value in (("nproc", nproc), ("preempt_at_step", preempt_at_step)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ApiUsageError(f"run_local({label}=...) takes an int, not {value!r}")
    for label, value in (("timeout", timeout), ("preempt_after", preempt_after)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ApiUsageError(f"run_local({label}=...) takes a number of seconds, not {value!r}")
    if inputs is not None and not isinstance(inputs, Mapping):
        raise ApiUsageError("run_local(inputs=...) takes a mapping {input name: local path}")
    return LocalOptions(
        inputs=dict(inputs or {}),
        nproc=nproc,
        strict_device=bool(strict_device),
        preempt_after=preempt_after,
        preempt_at_step=preempt_at_step,
        timeout=timeout,
    )


def measure_host(spec: JobSpec) -> Host:
    """This machine, as far as ``spec`` needs to know it (CUDA is probed only for a use_gpu job)."""
    has_torch = importlib.util.find_spec("torch") is not None
    return Host(
        python=sys.executable,
        environ=dict(os.environ),
        cpu_count=os.cpu_count() or 1,
        has_bash=shutil.which("bash") is not None,
        has_torch=has_torch,
        cuda=cuda_available() if spec.use_gpu and has_torch else None,
        port=_free_port(),
    )


def cuda_available() -> bool:
    """Whether PyTorch sees a CUDA device; skips importing torch (1-2 s) where no GPU can exist."""
    if "torch" not in sys.modules:
        if sys.platform == "darwin":
            return False
        if sys.platform.startswith("linux") and not (
            glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/dxg")
        ):
            return False  # no NVIDIA device node (nor WSL's GPU bridge): torch would say False too
    import torch  # lazy, and only for jobs that need the answer

    return bool(torch.cuda.is_available())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

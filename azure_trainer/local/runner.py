"""``run-local``: the job's exact command on this machine, from the same :class:`JobSpec` Azure ML gets.

One spec, two backends: :func:`azure_trainer.planning.spec.plan` resolves the config once; the builder turns the
spec into an Azure ML command job, this module runs it here (:func:`run_local`):

* ``${{inputs.X}}`` -> the input's local data (:mod:`.inputs`); ``${{outputs.X}}`` ->
  ``RUN_DIR/outputs/X`` (created). Values travel in environment variables
  (:func:`~azure_trainer.planning.command_line.localize_command`), so no path is ever parsed by the shell.
* the command runs with ``bash -c`` in the code folder, a leading ``python`` replaced by the
  interpreter running azure-trainer; environment = ours + the job's ``environment_variables`` (with
  the use_gpu contract) + the placeholder variables.
* distributed jobs (a ``distribution``, or ``nproc > 1``) run through torchrun on one node with
  ``--nproc`` (default instance_count x process_count_per_instance) processes; every line is
  prefixed ``[rank N]`` by a small per-worker wrapper (``_rank_tee.py``).
* the child is supervised (its own session, signals forwarded, output teed): :mod:`.supervisor`.
* the preemption rehearsal: :mod:`.rehearsal`; the result: :mod:`.results`.

The run folder (:mod:`.run_folder`) holds config.yaml, command.sh, log.txt, run.json and outputs/.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import json
import math
import os
import re
import shlex
import shutil
import socket
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ..config.model import JobConfig
from ..contract import (
    DISTRIBUTED_ENV,
    EXIT_NO_GPU,
    EXIT_OK,
    EXIT_PREEMPTED,
    PREEMPT_AT_STEP_ENV,
    REQUIRE_GPU_ENV,
)
from ..errors import ApiUsageError, LocalRunError, require_job_config
from ..planning.command_line import localize_command
from ..planning.spec import plan
from .inputs import _resolve_inputs, parse_input_args
from .rehearsal import _attempt, _rehearse
from .results import EXIT_TIMED_OUT, Attempt, LocalRunResult, Rehearsal
from .run_folder import _last_metrics, _make_run_dir, _redact, _write_command_sh, _write_config_yaml
from .supervisor import GRACE_S as GRACE_S  # re-exported
from .supervisor import _Console, _Supervisor
from .supervisor import terminate_all as terminate_all  # re-exported (sweep_runner uses it)

__all__ = ["Attempt", "LocalRunResult", "Rehearsal", "parse_input_args", "run_local"]

TRAIN_EXTRA = "pip install 'azure-trainer[train]'"
NO_GPU_WARNING = (
    "use_gpu is true but no CUDA device is visible here: training on the CPU; "
    "--strict-device fails like the cloud"
)
EXIT_REHEARSAL_INCONCLUSIVE = 1

_RANK_TEE = Path(__file__).with_name("_rank_tee.py")
_LEADING_PYTHON = re.compile(
    r"""^(\s*)(?:python3?(?:\.\d+)?|'python3?(?:\.\d+)?'|"python3?(?:\.\d+)?")(?=\s|$)"""
)


def _use_this_python(shell_text: str) -> tuple[str, bool]:
    """Replace a leading ``python``/``python3`` token by this interpreter (which has torch)."""
    match = _LEADING_PYTHON.match(shell_text)
    if not match:
        return shell_text, False
    return match.group(1) + shlex.quote(sys.executable) + shell_text[match.end() :], True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def _require_torch(why: str) -> None:
    if not _torch_available():
        raise LocalRunError(
            f"{why} needs PyTorch, which is not installed for {sys.executable}; "
            f"install the train extra: {TRAIN_EXTRA}"
        )


def _cuda_available() -> bool:
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


# ---------------------------------------------------------------------------------------------------
# the API
# ---------------------------------------------------------------------------------------------------


def run_local(
    config: JobConfig,
    *,
    inputs: Mapping[str, str] | None = None,
    run_dir: str | Path | None = None,
    nproc: int | None = None,
    strict_device: bool = False,
    preempt_after: float | None = None,
    preempt_at_step: int | None = None,
    stream: bool = True,
    console: TextIO | None = None,
    timeout: float | None = None,
) -> LocalRunResult:
    """Run ``config``'s job on this machine, as Azure ML would run it, and return what happened.

    ``inputs`` maps input names to local paths (``--input``); ``run_dir`` is the run folder (default
    ``./runs/<experiment>-<time>``; an existing folder is reused, so a rerun resumes from its
    checkpoints); ``nproc`` overrides the number of processes of a distributed job. ``strict_device``
    keeps the cloud's fail-fast when ``use_gpu`` is true and there is no GPU here (the script exits 78)
    instead of training on the CPU. ``preempt_after`` (seconds) / ``preempt_at_step`` run the preemption
    rehearsal. ``stream`` echoes the job's output (and run-local's notes) live; ``console`` sends all of
    it to one stream (e.g. sys.stderr) instead of stdout/stderr. log.txt gets it either way.
    ``timeout`` (seconds) overrides the job's own ``timeout``, which otherwise applies to each start of
    the command as Azure ML applies it to the job: past it the run gets SIGTERM (then SIGKILL) and the
    result's exit code is 124; 0 means no limit.

    Raises :class:`LocalRunError` (bad input, missing torch, ...) or ConfigError before anything runs.
    """
    require_job_config(config, "run_local")
    for label, value in (("nproc", nproc), ("preempt_at_step", preempt_at_step)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ApiUsageError(f"run_local({label}=...) takes an int, not {value!r}")
    for label, value in (("timeout", timeout), ("preempt_after", preempt_after)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ApiUsageError(f"run_local({label}=...) takes a number of seconds, not {value!r}")
    if inputs is not None and not isinstance(inputs, Mapping):
        raise ApiUsageError("run_local(inputs=...) takes a mapping {input name: local path}")
    if config.sweep is not None:
        raise LocalRunError(
            "this job has a `sweep:` section: run its trials with azure_trainer.local.run_local_sweep "
            "(the CLI's run-local does it), or drop it with --set sweep=null"
        )
    if preempt_after is not None and preempt_at_step is not None:
        raise LocalRunError("give --preempt-after or --preempt-at-step, not both")
    if preempt_after is not None and not (math.isfinite(preempt_after) and preempt_after > 0):
        raise LocalRunError(f"--preempt-after {preempt_after}: give a number of seconds > 0")
    if preempt_at_step is not None and preempt_at_step < 1:
        raise LocalRunError(f"--preempt-at-step {preempt_at_step}: give a step >= 1")
    if nproc is not None and nproc < 1:
        raise LocalRunError(f"--nproc {nproc}: give a number of processes >= 1")
    if timeout is not None and not (math.isfinite(timeout) and timeout >= 0):
        raise LocalRunError(f"--timeout {timeout}: give a number of seconds >= 0 (0: no limit)")

    spec = plan(config)
    time_limit = (float(spec.timeout) if spec.timeout else None) if timeout is None else (timeout or None)
    warnings: list[str] = []
    values: dict[tuple[str, str], str | None] = _resolve_inputs(config, spec, inputs or {}, warnings)
    n = nproc or spec.world_size
    distributed = spec.distribution is not None or n > 1
    if spec.distribution is None and n > 1:
        warnings.append(
            f"the job has no `distribution`: Azure ML would run one process; --nproc {n} starts {n} "
            "through torchrun here"
        )
    if distributed:
        _require_torch("a distributed job (run through torchrun)")
        if spec.distribution is not None and spec.distribution.type == "mpi":
            warnings.append(
                "distribution type mpi runs through torchrun locally: RANK/WORLD_SIZE/LOCAL_RANK are "
                "set, the OMPI_* variables of mpirun are not"
            )
    if shutil.which("bash") is None:
        raise LocalRunError("run-local needs bash (Azure ML runs the command with bash); none is on PATH")

    cuda: bool | None = None
    require_gpu = spec.environment_variables.get(REQUIRE_GPU_ENV)
    if spec.use_gpu:
        _require_torch("use_gpu: true (checking for a CUDA device)")
        cuda = _cuda_available()
        if not cuda:
            if strict_device:
                warnings.append(
                    "use_gpu is true and no CUDA device is visible here; --strict-device: the script "
                    f"should stop at once with exit {EXIT_NO_GPU}, as on a CPU-only cloud node"
                )
            else:
                warnings.append(NO_GPU_WARNING)
                require_gpu = "0"

    run_path = _make_run_dir(spec.experiment, run_dir)
    outputs_dir = run_path / "outputs"
    outputs_dir.mkdir(exist_ok=True)
    for name, out in spec.outputs.items():
        target = outputs_dir / name
        if out.type == "uri_file":
            target.parent.mkdir(parents=True, exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
        values[("outputs", name)] = str(target)

    shell_text, placeholder_env = localize_command(spec.command, values)
    shell_text, python_replaced = _use_this_python(shell_text)

    # -- environment: ours + the job's + the placeholders (+ the distributed launch's) ------------
    job_env = dict(spec.environment_variables)
    if require_gpu is not None:
        job_env[REQUIRE_GPU_ENV] = require_gpu
    extra: dict[str, str] = {}
    if "MLFLOW_TRACKING_URI" not in job_env and "MLFLOW_TRACKING_URI" not in os.environ:
        extra["MLFLOW_TRACKING_URI"] = (run_path / "mlruns").as_uri()
        if "MLFLOW_ALLOW_FILE_STORE" not in os.environ:
            extra["MLFLOW_ALLOW_FILE_STORE"] = "true"  # mlflow >= 3 refuses a file store unless told
    if "PYTHONUNBUFFERED" not in job_env and "PYTHONUNBUFFERED" not in os.environ:
        extra["PYTHONUNBUFFERED"] = "1"  # live output through our pipes
    if distributed:
        extra["NODE_RANK"] = "0"
        if "OMP_NUM_THREADS" not in job_env and "OMP_NUM_THREADS" not in os.environ:
            extra["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // n))
    env = dict(os.environ)
    for name in (*DISTRIBUTED_ENV, "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", PREEMPT_AT_STEP_ENV):
        env.pop(name, None)  # an outer launch's values must not leak in; torchrun sets its own
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # `python` = this one
    exports = {**job_env, **extra, **placeholder_env}
    env.update(exports)

    # -- the launch --------------------------------------------------------------------------------
    bash = ["bash", "-c", shell_text]
    if distributed:
        port = _free_port()
        torchrun = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "1",
            "--nproc-per-node",
            str(n),
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(port),
            "--no-python",
        ]
        launcher = [*torchrun, *bash]
        argv = [*torchrun, sys.executable, "-u", str(_RANK_TEE), "{STATE_DIR}", "--", *bash]
    else:
        launcher = argv = bash
    if not python_replaced and re.search(r"(?:^|[;&|(\s])python3?\s", shell_text):
        warnings.append(
            "the command does not start with python: `python` inside it is the first on PATH "
            f"({os.path.dirname(sys.executable)} is put first)"
        )

    secret_names = {k for k, v in _redact(config, job_env, []).items() if v != job_env[k]}
    _write_config_yaml(config, run_path / "config.yaml", warnings)
    _write_command_sh(run_path / "command.sh", spec.code, exports, secret_names, launcher)

    log = (run_path / "log.txt").open("a", encoding="utf-8")
    out = _Console(log, stream, console)
    sup = _Supervisor(out, time_limit=time_limit)
    attempts: list[Attempt] = []
    rehearsal: Rehearsal | None = None
    started, started_wall = time.monotonic(), time.time() - 1.0
    try:
        out.note(f"{datetime.now():%Y-%m-%d %H:%M:%S} run folder {run_path}")
        for w in warnings:
            out.note(f"warning: {w}")
        if time_limit is not None:
            origin = "--timeout" if timeout is not None else "the job's `timeout`"
            out.note(f"time limit {time_limit:g}s ({origin}); --timeout 0 lifts it for a local run")
        out.note(
            f"in {spec.code}: {' '.join(shlex.quote(a) for a in launcher)}"
            + (f"  ({n} processes, torchrun)" if distributed else "")
        )
        with sup.handling_signals():
            first_env = dict(env)
            if preempt_at_step is not None:
                first_env[PREEMPT_AT_STEP_ENV] = str(preempt_at_step)
            attempts.append(
                _attempt(1, sup, argv, first_env, spec.code, distributed, preempt_after, preempt_at_step)
            )
            rehearsing = preempt_after is not None or preempt_at_step is not None
            if rehearsing and not sup.interrupted:
                rehearsal = _rehearse(
                    attempts,
                    sup,
                    out,
                    argv,
                    env,
                    spec.code,
                    distributed,
                    outputs_dir,
                    preempt_after,
                    preempt_at_step,
                )
    except BaseException:
        log.close()
        raise
    duration = time.monotonic() - started
    last = attempts[-1] if attempts else None
    exit_code = last.exit_code if last else 1
    if rehearsal is not None and rehearsal.verdict != "passed" and exit_code == 0:
        exit_code = EXIT_REHEARSAL_INCONCLUSIVE
    timed_out = any(a.timed_out for a in attempts)
    if last is not None and last.timed_out:
        exit_code = EXIT_TIMED_OUT
    metrics = _last_metrics(outputs_dir, started_wall)
    device = next((a.device for a in reversed(attempts) if a.device), None)
    if device is None and last is not None:
        if cuda is None and _torch_available():
            with contextlib.suppress(Exception):
                cuda = _cuda_available()
        device = None if cuda is None else ("cuda" if cuda else "cpu")
    resumed = last.resumed_from_step if last else None
    if resumed is None and isinstance(metrics.get("resumed_from_step"), int):
        resumed = metrics["resumed_from_step"]
    result = LocalRunResult(
        exit_code=exit_code,
        run_dir=run_path,
        duration_s=round(duration, 3),
        device=device,
        final_metrics=metrics,
        command=shell_text,
        launcher=launcher,
        nproc=n,
        distributed=distributed,
        resumed_from_step=resumed,
        preemption=rehearsal,
        attempts=attempts,
        warnings=warnings,
        interrupted=bool(sup.interrupted),
        time_limit_s=time_limit,
        timed_out=timed_out,
    )
    try:
        if last is not None:
            _explain(out, result, strict_device, sup.interrupted)
        (run_path / "run.json").write_text(
            json.dumps(result.to_dict(), indent=2, default=str) + "\n", encoding="utf-8"
        )
    finally:
        log.close()
    return result


def _explain(out: _Console, result: LocalRunResult, strict_device: bool, interrupted: int) -> None:
    code = result.exit_code
    last = result.attempts[-1]
    if last.exit_code == EXIT_NO_GPU:
        if strict_device:
            out.note(
                f"the script exited {EXIT_NO_GPU}: use_gpu is true and no CUDA device is visible here "
                "(--strict-device) — the cloud fails the same way on a node without a GPU. Drop "
                "--strict-device to train on the CPU, or run with --cpu."
            )
        else:
            out.note(
                f"the script exited {EXIT_NO_GPU}: it requires a GPU (e.g. --device cuda) and no CUDA device "
                "is visible here"
            )
    elif last.timed_out:
        out.note(
            f"the job ran past its time limit ({result.time_limit_s:g}s) and was stopped; the script "
            f"exited {last.exit_code}"
            + (
                f" after a checkpoint: rerun with --output-dir {shlex.quote(str(result.run_dir))} to resume"
                if last.exit_code == EXIT_PREEMPTED
                else ""
            )
        )
    elif last.exit_code == EXIT_PREEMPTED and result.preemption is None:
        out.note(
            f"the script checkpointed and exited {EXIT_PREEMPTED} (preempted); resume with "
            f"--output-dir {shlex.quote(str(result.run_dir))}"
        )
    elif interrupted and code != EXIT_OK:
        out.note(f"interrupted; the job exited {code}")

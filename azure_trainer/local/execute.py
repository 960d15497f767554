"""Carry out a :class:`~.prepare.LocalLaunch`: write the run folder, start and watch the command (twice
for a preemption rehearsal), and record what happened in ``run.json``.

The child is supervised by :mod:`.supervisor` (its own session, signals forwarded, output teed to the
console and ``log.txt``); what the script reports about itself (device, resume step, preemption) comes
through the contract's status channel (:mod:`.status`); the rehearsal's verdict is :mod:`.rehearsal`'s;
the metrics come from the MLflow run created for it (:mod:`.tracking`, :mod:`.metrics`).

One check only a run can make: the cloud's GPU requirement. When the script was told a GPU is
required (``--strict-device`` on a machine without one) and still finished, it ignored the contract:
on Azure ML it would have trained on the CPU of a GPU node, so the run fails here.
"""

from __future__ import annotations

import json
import shlex
import time
from datetime import datetime
from typing import TextIO

from ..contract import EXIT_NO_GPU, EXIT_OK, EXIT_PREEMPTED
from ..errors import LocalRunError
from .metrics import collect_metrics
from .prepare import LocalLaunch
from .rehearsal import run_attempt, run_rehearsal
from .results import EXIT_GPU_REQUIREMENT_IGNORED, EXIT_TIMED_OUT, Attempt, LocalRunResult, Rehearsal
from .supervisor import Console, Supervisor
from .tracking import TrackedRun, end_run

EXIT_REHEARSAL_INCONCLUSIVE = 1


def execute(
    launch: LocalLaunch,
    *,
    tracked: TrackedRun | None = None,
    stream: bool = True,
    console: TextIO | None = None,
) -> LocalRunResult:
    """Run ``launch`` to its end and return the result (also written to ``RUN_DIR/run.json``).

    ``tracked`` is the MLflow run the script logs into (created by the caller). ``stream`` echoes the
    job's output (and run-local's notes) live; ``console`` sends all of it to one stream (e.g.
    sys.stderr) instead of stdout/stderr. log.txt gets it either way.
    """
    _write_run_folder(launch)
    log = (launch.run_dir / "log.txt").open("a", encoding="utf-8")
    out = Console(log, stream, console, launch.redact)
    sup = Supervisor(out, time_limit=launch.time_limit)
    extra_env = tracked.env() if tracked else {}
    started, started_wall = time.monotonic(), time.time() - 1.0
    try:
        _announce(out, launch)
        with sup.handling_signals():
            attempts = [run_attempt(1, sup, launch, extra_env)]
            rehearsal = None
            if launch.rehearsing and not sup.interrupted:
                rehearsal = run_rehearsal(attempts, sup, out, launch, extra_env)
        result = _result(launch, attempts, rehearsal, sup, time.monotonic() - started, started_wall, tracked)
        end_run(tracked, result.exit_code)
        _explain(out, result, launch.strict_device, sup.interrupted)
        (launch.run_dir / "run.json").write_text(
            json.dumps(result.to_dict(), indent=2, default=str) + "\n", encoding="utf-8"
        )
    finally:
        log.close()
    return result


def _write_run_folder(launch: LocalLaunch) -> None:
    try:
        for folder in launch.output_dirs:
            folder.mkdir(parents=True, exist_ok=True)
        for name, text in launch.files.items():
            (launch.run_dir / name).write_text(text, encoding="utf-8")
        (launch.run_dir / "command.sh").chmod(0o755)
    except OSError as exc:
        raise LocalRunError(f"cannot write the run folder {launch.run_dir}: {exc.strerror or exc}") from None


def _announce(out: Console, launch: LocalLaunch) -> None:
    out.note(f"{datetime.now():%Y-%m-%d %H:%M:%S} run folder {launch.run_dir}")
    for warning in launch.warnings:
        out.note(f"warning: {warning}")
    if launch.time_limit is not None:
        out.note(
            f"time limit {launch.time_limit:g}s ({launch.time_limit_origin}); --timeout 0 lifts it for a local run"
        )
    for agent in launch.agents:
        node = f"NODE_RANK={agent.env['NODE_RANK']} " if launch.nodes > 1 else ""
        out.note(f"in {launch.cwd}: {node}{' '.join(shlex.quote(a) for a in agent.shown)}")
    if launch.wrapped:
        per_node = launch.nproc // launch.nodes
        how = "torchrun" if launch.distributed else "the command once per node"
        out.note(f"{launch.nodes} node(s) x {per_node} process(es) on this machine ({how})")


def _result(
    launch: LocalLaunch,
    attempts: list[Attempt],
    rehearsal: Rehearsal | None,
    sup: Supervisor,
    duration: float,
    started_wall: float,
    tracked: TrackedRun | None,
) -> LocalRunResult:
    last = attempts[-1]
    exit_code = last.exit_code
    if rehearsal is not None and rehearsal.verdict != "passed" and exit_code == EXIT_OK:
        exit_code = EXIT_REHEARSAL_INCONCLUSIVE
    ignored = launch.gpu_required and launch.cuda is False and last.exit_code == EXIT_OK
    if ignored:
        exit_code = EXIT_GPU_REQUIREMENT_IGNORED
    if last.timed_out:
        exit_code = EXIT_TIMED_OUT
    metrics = collect_metrics(tracked, (a.status for a in attempts), launch.outputs_dir, started_wall)
    reported = next((a.device for a in reversed(attempts) if a.device), None)
    return LocalRunResult(
        exit_code=exit_code,
        run_dir=launch.run_dir,
        duration_s=round(duration, 3),
        device=reported,
        device_visible=None if launch.cuda is None else ("cuda" if launch.cuda else "cpu"),
        gpu_requirement_ignored=ignored,
        final_metrics=metrics.final,
        metric_history=metrics.history,
        metrics_source=metrics.source,
        mlflow_run_id=tracked.run_id if tracked else None,
        mlflow_store=str(launch.mlflow_store) if launch.mlflow_store else None,
        command=launch.shell_text,
        launcher=launch.launcher,
        nproc=launch.nproc,
        nodes=launch.nodes,
        distributed=launch.distributed,
        resumed_from_step=last.resumed_from_step,
        preemption=rehearsal,
        attempts=attempts,
        warnings=list(launch.warnings),
        interrupted=bool(sup.interrupted),
        time_limit_s=launch.time_limit,
        timed_out=any(a.timed_out for a in attempts),
    )


def _explain(out: Console, result: LocalRunResult, strict_device: bool, interrupted: int) -> None:
    """One note on how the run ended, when that needs saying (no GPU, timed out, preempted, stopped)."""
    last = result.attempts[-1]
    resume_hint = f"--run-dir {shlex.quote(str(result.run_dir))}"
    if result.gpu_requirement_ignored:
        out.note(
            "the script ignored the GPU requirement: it was told a GPU is required (AZURE_TRAINER_REQUIRE_GPU=1, "
            f"--strict-device) and none is visible, yet it finished (exit 0). On Azure ML it would train on the "
            f"CPU of a GPU node; make it stop with exit {EXIT_NO_GPU} (README: Your own script)"
        )
    elif last.exit_code == EXIT_NO_GPU:
        out.note(
            f"the script exited {EXIT_NO_GPU}: use_gpu is true and no CUDA device is visible here "
            "(--strict-device) — the cloud fails the same way on a node without a GPU. Drop "
            "--strict-device to train on the CPU, or run with --cpu."
            if strict_device
            else f"the script exited {EXIT_NO_GPU}: it requires a GPU (e.g. --device cuda) and no CUDA "
            "device is visible here"
        )
    elif last.timed_out:
        out.note(
            f"the job ran past its time limit ({result.time_limit_s:g}s) and was stopped; the script "
            f"exited {last.exit_code}"
            + (
                f" after a checkpoint: rerun with {resume_hint} to resume"
                if last.exit_code == EXIT_PREEMPTED
                else ""
            )
        )
    elif last.exit_code == EXIT_PREEMPTED and result.preemption is None:
        out.note(
            f"the script checkpointed and exited {EXIT_PREEMPTED} (preempted); resume with {resume_hint}"
        )
    elif interrupted and result.exit_code != EXIT_OK:
        out.note(f"interrupted; the job exited {result.exit_code}")

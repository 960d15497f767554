"""Carry out a :class:`~.prepare.LocalLaunch`: write the run folder, start and watch the command (twice
for a preemption rehearsal), and record what happened in ``run.json``.

The child is supervised by :mod:`.supervisor` (its own session, signals forwarded, output teed to the
console and ``log.txt``); what the script reports about itself (device, resume step, preemption) comes
through the contract's status channel (:mod:`.status`); the rehearsal's verdict is :mod:`.rehearsal`'s.
"""

from __future__ import annotations

import json
import shlex
import time
from datetime import datetime
from typing import TextIO

from ..contract import EXIT_NO_GPU, EXIT_OK, EXIT_PREEMPTED
from ..errors import LocalRunError
from .prepare import LocalLaunch
from .rehearsal import run_attempt, run_rehearsal
from .results import EXIT_TIMED_OUT, Attempt, LocalRunResult, Rehearsal
from .run_folder import last_metrics
from .supervisor import Console, Supervisor

EXIT_REHEARSAL_INCONCLUSIVE = 1


def execute(launch: LocalLaunch, *, stream: bool = True, console: TextIO | None = None) -> LocalRunResult:
    """Run ``launch`` to its end and return the result (also written to ``RUN_DIR/run.json``).

    ``stream`` echoes the job's output (and run-local's notes) live; ``console`` sends all of it to one
    stream (e.g. sys.stderr) instead of stdout/stderr. log.txt gets it either way.
    """
    _write_run_folder(launch)
    log = (launch.run_dir / "log.txt").open("a", encoding="utf-8")
    out = Console(log, stream, console)
    sup = Supervisor(out, time_limit=launch.time_limit)
    started, started_wall = time.monotonic(), time.time() - 1.0
    try:
        _announce(out, launch)
        with sup.handling_signals():
            attempts = [run_attempt(1, sup, launch)]
            rehearsal = None
            if launch.rehearsing and not sup.interrupted:
                rehearsal = run_rehearsal(attempts, sup, out, launch)
        result = _result(launch, attempts, rehearsal, sup, time.monotonic() - started, started_wall)
        if attempts:
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
    out.note(
        f"in {launch.cwd}: {' '.join(shlex.quote(a) for a in launch.launcher)}"
        + (f"  ({launch.nproc} processes, torchrun)" if launch.distributed else "")
    )


def _result(
    launch: LocalLaunch,
    attempts: list[Attempt],
    rehearsal: Rehearsal | None,
    sup: Supervisor,
    duration: float,
    started_wall: float,
) -> LocalRunResult:
    last = attempts[-1]
    exit_code = last.exit_code
    if rehearsal is not None and rehearsal.verdict != "passed" and exit_code == EXIT_OK:
        exit_code = EXIT_REHEARSAL_INCONCLUSIVE
    if last.timed_out:
        exit_code = EXIT_TIMED_OUT
    metrics = last_metrics(launch.outputs_dir, started_wall)
    device = next((a.device for a in reversed(attempts) if a.device), None)
    if device is None and launch.cuda is not None:
        device = "cuda" if launch.cuda else "cpu"
    resumed = last.resumed_from_step
    if resumed is None and isinstance(metrics.get("resumed_from_step"), int):
        resumed = metrics["resumed_from_step"]
    return LocalRunResult(
        exit_code=exit_code,
        run_dir=launch.run_dir,
        duration_s=round(duration, 3),
        device=device,
        final_metrics=metrics,
        command=launch.shell_text,
        launcher=launch.launcher,
        nproc=launch.nproc,
        distributed=launch.distributed,
        resumed_from_step=resumed,
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
    if last.exit_code == EXIT_NO_GPU:
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

"""The attempts of a local run and the preemption rehearsal.

The rehearsal sends SIGTERM mid-run (after N seconds, or at step N via
``AZURE_TRAINER_PREEMPT_AT_STEP``), reruns the same command and checks that it resumed and finished.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Mapping

from ..contract import EXIT_OK, EXIT_PREEMPTED, PREEMPT_AT_STEP_ENV
from .metrics import collect_metrics
from .prepare import LocalLaunch, status_file
from .results import Attempt, Rehearsal
from .status import read_status
from .supervisor import Console, Supervisor


def run_attempt(
    number: int, sup: Supervisor, launch: LocalLaunch, extra_env: Mapping[str, str] = ()
) -> Attempt:
    """Start the command once (``number`` 1, or 2 for a rehearsal's restart) and record how it went;
    ``extra_env`` is added to the launch's environment (e.g. the MLflow run to log into)."""
    path = status_file(launch.run_dir, number)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # a reused run folder: not an old run's report
    rehearsing = number == 1
    t0 = time.monotonic()
    env = launch.attempt_env(number, extra_env)
    code, sigterm_at = sup.run(
        [(agent.argv, {**env, **agent.env}) for agent in launch.agents],
        launch.cwd,
        sigterm_after=launch.preempt_after if rehearsing else None,
        wrapped=launch.wrapped,
        ranks=launch.nproc if launch.distributed else None,
        collective_timeout=launch.collective_timeout,
    )
    status = read_status(path)
    return Attempt(
        number=number,
        exit_code=code,
        duration_s=round(time.monotonic() - t0, 3),
        sigterm_at_s=None if sigterm_at is None else round(sigterm_at, 3),
        preempt_at_step=launch.preempt_at_step if rehearsing else None,
        preempted_at_step=status.preempted_at_step,
        resumed_from_step=status.resumed_from_step,
        device=status.device,
        interrupted=bool(sup.interrupted),
        timed_out=sup.timed_out,
        hung_ranks=list(sup.hung),
        status=status,
    )


def run_rehearsal(
    attempts: list[Attempt],
    sup: Supervisor,
    out: Console,
    launch: LocalLaunch,
    extra_env: Mapping[str, str] = (),
) -> Rehearsal:
    """The preemption rehearsal after attempt 1 (which got SIGTERM): restart, and judge the resume."""
    preempt_after, preempt_at_step = launch.preempt_after, launch.preempt_at_step
    first = attempts[0]
    trigger = f"after {preempt_after:g}s" if preempt_after is not None else f"at step {preempt_at_step}"
    not_preempted = _judge_first_attempt(first, sup, preempt_at_step, trigger)
    if not_preempted is not None:
        return _verdict(out, not_preempted)
    stopped = first.preempted_at_step
    out.note(
        f"preemption rehearsal: attempt 1 exited {EXIT_PREEMPTED}"
        + (f" after a checkpoint at step {stopped}" if stopped is not None else "")
        + "; restarting the same command with the same outputs and checkpoints"
    )
    second = run_attempt(2, sup, launch, extra_env)
    attempts.append(second)
    if sup.interrupted:
        return _verdict(out, Rehearsal("inconclusive", "interrupted during the restart", trigger, stopped))
    return _verdict(out, _judge_restart(second, sup, launch, trigger, stopped))


def _judge_first_attempt(
    first: Attempt, sup: Supervisor, preempt_at_step: int | None, trigger: str
) -> Rehearsal | None:
    """Why attempt 1 makes the rehearsal inconclusive or failed; None when it checkpointed after SIGTERM
    (exit 75), so the restart can be tried."""
    if first.timed_out:
        why = (
            f"the job's time limit ({sup.time_limit:g}s) passed before the rehearsal's SIGTERM; "
            "raise it with --timeout SECONDS (0: none)"
        )
        return Rehearsal("inconclusive", why, trigger)
    if first.exit_code == EXIT_OK:
        if preempt_at_step is not None:
            why = (
                f"the run finished without stopping at step {preempt_at_step}: either it has fewer steps, or "
                f"the script does not implement {PREEMPT_AT_STEP_ENV} (use --preempt-after SECONDS instead)"
            )
        elif first.sigterm_at_s is None:
            why = (
                f"the run finished in {first.duration_s:.1f}s, before SIGTERM was due; "
                "use a smaller --preempt-after"
            )
        else:
            why = (
                "SIGTERM landed but the run still finished with exit 0 "
                "(too late, or the script ignores SIGTERM)"
            )
        return Rehearsal("inconclusive", why, trigger)
    if first.exit_code != EXIT_PREEMPTED:
        if first.exit_code == 128 + signal.SIGTERM:
            why = (
                "the script was killed by SIGTERM without handling it (exit 143): no checkpoint. Install a "
                "SIGTERM handler that checkpoints and exits 75 — or SIGTERM came before the script set its "
                "handler up (try a larger --preempt-after)"
            )
        else:
            why = f"expected exit {EXIT_PREEMPTED} (checkpointed after SIGTERM), got {first.exit_code}"
        return Rehearsal("failed", why, trigger, first.preempted_at_step)
    return None


def _judge_restart(
    second: Attempt, sup: Supervisor, launch: LocalLaunch, trigger: str, stopped: int | None
) -> Rehearsal:
    """The rehearsal's verdict from the restarted attempt: it must finish, resuming where SIGTERM's
    checkpoint (at step ``stopped``) left off."""
    resumed = second.resumed_from_step
    acc = collect_metrics(None, [second.status], launch.outputs_dir).final.get("test_accuracy")
    acc_text = f", test_accuracy {acc:.4f}" if isinstance(acc, (int, float)) else ""
    if second.exit_code != EXIT_OK:
        why = f"the restarted run exited {second.exit_code}" + (
            f" after the job's time limit ({sup.time_limit:g}s) passed" if second.timed_out else ""
        )
        return Rehearsal("failed", why, trigger, stopped, resumed)
    if not resumed and stopped == 0:
        why = (
            "SIGTERM landed before the first training step (checkpoint at step 0), so there "
            "was nothing to resume; use a larger --preempt-after / --preempt-at-step"
        )
        return Rehearsal("inconclusive", why, trigger, stopped, resumed)
    if not resumed:
        why = (
            "the restarted run started again from step 0 instead of resuming: does the script load the "
            "newest checkpoint from the same --checkpoint-dir (an output of the job)?"
        )
        return Rehearsal("failed", why, trigger, stopped, resumed)
    if stopped is not None and resumed != stopped:
        why = (
            f"SIGTERM at step {stopped} wrote a checkpoint, but the restart resumed at step {resumed}: "
            f"{abs(stopped - resumed)} steps lost"
        )
        return Rehearsal("failed", why, trigger, stopped, resumed)
    at = f"at step {stopped}" if stopped is not None else trigger  # trigger: "after 5s" or "at step N"
    why = f"SIGTERM {at} → checkpoint → resumed at step {resumed} → finished{acc_text}"
    return Rehearsal("passed", why, trigger, stopped, resumed)


def _verdict(out: Console, rehearsal: Rehearsal) -> Rehearsal:
    """Say the rehearsal's verdict on the console and return it."""
    out.note(f"preemption rehearsal: {rehearsal.verdict.upper()} — {rehearsal.message}")
    return rehearsal

"""The preemption rehearsal's verdicts, one per branch, from recorded attempts (no processes).

The slow tests in test_run_local.py run real rehearsals end to end (passed, exit 143, an inconclusive
early finish); these pin down every other verdict the restart can get, which real scripts rarely hit
on purpose: nothing to resume, a restart from step 0, steps lost, a failing or timed-out restart.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from azure_trainer.contract import EXIT_OK, EXIT_PREEMPTED
from azure_trainer.local.rehearsal import _judge_first_attempt, _judge_restart
from azure_trainer.local.results import Attempt

SUP = SimpleNamespace(time_limit=600.0)


def attempt(number: int = 2, exit_code: int = EXIT_OK, **fields) -> Attempt:
    return Attempt(number=number, exit_code=exit_code, duration_s=3.0, **fields)


@pytest.fixture
def launch(tmp_path: Path):
    return SimpleNamespace(outputs_dir=tmp_path)  # no metrics.jsonl: no accuracy in the message


@pytest.mark.parametrize(
    "second, stopped, verdict, words",
    [
        (attempt(resumed_from_step=40), 40, "passed", "SIGTERM at step 40 → checkpoint → resumed at step 40"),
        (attempt(resumed_from_step=None), 0, "inconclusive", "nothing to resume"),
        (attempt(resumed_from_step=None), 40, "failed", "started again from step 0 instead of resuming"),
        (attempt(resumed_from_step=30), 40, "failed", "resumed at step 30: 10 steps lost"),
        (attempt(exit_code=1, resumed_from_step=40), 40, "failed", "the restarted run exited 1"),
        (
            attempt(exit_code=124, resumed_from_step=40, timed_out=True),
            40,
            "failed",
            "exited 124 after the job's time limit (600s) passed",
        ),
        (attempt(resumed_from_step=12), None, "passed", "SIGTERM after 5s → checkpoint → resumed at step 12"),
    ],
    ids=["passed", "nothing-to-resume", "from-zero", "steps-lost", "restart-failed", "restart-timed-out",
         "no-step-reported"],
)  # fmt: skip
def test_restart_verdicts(second, stopped, verdict, words, launch):
    result = _judge_restart(second, SUP, launch, "after 5s", stopped)
    assert (result.verdict, result.preempted_at_step, result.resumed_from_step) == (
        verdict,
        stopped,
        second.resumed_from_step,
    )
    assert words in result.message, result.message


@pytest.mark.parametrize(
    "first, at_step, verdict, words",
    [
        (attempt(1, timed_out=True, exit_code=124), None, "inconclusive", "raise it with --timeout"),
        (attempt(1), 25, "inconclusive", "without stopping at step 25"),
        (attempt(1), None, "inconclusive", "before SIGTERM was due"),
        (attempt(1, sigterm_at_s=1.0), None, "inconclusive", "still finished with exit 0"),
        (attempt(1, exit_code=143, sigterm_at_s=1.0), None, "failed", "without handling it (exit 143)"),
        (attempt(1, exit_code=3, sigterm_at_s=1.0), None, "failed", f"expected exit {EXIT_PREEMPTED}"),
    ],
    ids=["timed-out", "no-stop-at-step", "finished-first", "sigterm-ignored", "killed", "other-exit"],
)
def test_first_attempt_verdicts(first, at_step, verdict, words):
    result = _judge_first_attempt(first, SUP, at_step, "at step 25" if at_step else "after 5s")
    assert result is not None and result.verdict == verdict
    assert words in result.message, result.message


def test_a_checkpointed_first_attempt_goes_on_to_the_restart():
    first = attempt(1, exit_code=EXIT_PREEMPTED, sigterm_at_s=1.0, preempted_at_step=40)
    assert _judge_first_attempt(first, SUP, None, "after 5s") is None

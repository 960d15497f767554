"""Every exit code azure-trainer (and the scripts it runs) can end with, in one table.

README's exit-code table is this table (a test keeps them equal); ``run-local``'s summary, the
report and ``--json`` errors explain codes with :func:`explain`. Standard library only.
"""

from __future__ import annotations

import signal

EXIT_CODES: dict[int, str] = {
    0: "success: the command did what it says; run-local: the script finished (and a preemption rehearsal passed)",
    1: "failure: Azure ML or preflight refused; the job did not complete (logs, submit --stream); run-local: the script "
    "failed, ignored the GPU requirement, or exited 0 while the preemption rehearsal was inconclusive or "
    "failed; a local sweep in which no trial produced the objective",
    2: "bad input: config, arguments, job name, input path, report folder; the reference script's bad command line",
    75: "the script was preempted: it got SIGTERM, wrote a checkpoint and stopped; rerun with the same "
    "--run-dir to resume",
    78: "the script needs a GPU and none is visible (AZURE_TRAINER_REQUIRE_GPU=1, --strict-device)",
    124: "run-local stopped the job after its time limit (the job's limits.timeout, or --timeout), or stopped ranks "
    "hung in a collective after another rank exited (AZURE_TRAINER_COLLECTIVE_TIMEOUT_S)",
    130: "interrupted by Ctrl-C; logs: stopped watching (the job keeps running)",
    137: "the script was killed by SIGKILL (it did not stop within 30 s of SIGTERM, or ran out of memory)",
    143: "the script was killed by SIGTERM without a handler: no checkpoint (install one that checkpoints "
    "and exits 75)",
}
"""Exit code -> what it means. Codes a script itself chooses (anything else) are passed through."""


def explain(code: object) -> str:
    """A short meaning of exit ``code`` (the first clause of its table entry, or the signal's name)."""
    if isinstance(code, bool) or not isinstance(code, int):
        return "unknown"
    if code in EXIT_CODES:
        return EXIT_CODES[code].split(":")[0]
    if 128 < code < 128 + 65:
        try:
            return f"killed by {signal.Signals(code - 128).name}"
        except ValueError:
            pass
    return "the script's own exit code"

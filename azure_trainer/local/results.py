"""What a local run returns: :class:`LocalRunResult` (also ``RUN_DIR/run.json``), with one
:class:`Attempt` per start of the command and the preemption :class:`Rehearsal`'s verdict; and the exit
codes explained.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..contract import EXIT_NO_GPU, EXIT_OK, EXIT_PREEMPTED
from .status import ScriptStatus

__all__ = ["EXIT_TIMED_OUT", "Attempt", "LocalRunResult", "Rehearsal"]

EXIT_TIMED_OUT = 124
"""run-local's exit code when the job ran past its timeout and was stopped (as timeout(1) has it)."""
EXIT_GPU_REQUIREMENT_IGNORED = 1
"""run-local's exit code when the script was told a GPU is required, none was visible, and it finished."""


@dataclass
class Attempt:
    """One start of the job's command (a preemption rehearsal has two)."""

    number: int
    exit_code: int
    duration_s: float
    sigterm_at_s: float | None = None
    """Seconds after the start when SIGTERM was sent (rehearsal or Ctrl-C), None if never."""
    preempt_at_step: int | None = None
    """The AZURE_TRAINER_PREEMPT_AT_STEP this attempt ran with."""
    preempted_at_step: int | None = None
    """The global step the script says it checkpointed at when it stopped on SIGTERM."""
    resumed_from_step: int | None = None
    """The global step the script says it resumed from (log line, else metrics.jsonl)."""
    device: str | None = None
    interrupted: bool = False
    """Stopped by Ctrl-C / SIGTERM to run-local."""
    timed_out: bool = False
    """Stopped because it ran past the time limit (the job's ``limits.timeout`` or ``--timeout``)."""
    hung_ranks: list[str] = field(default_factory=list)
    """Ranks stopped because they hung in a collective after another rank exited."""
    status: ScriptStatus | None = field(default=None, repr=False)
    """What the script reported through the contract's status channel (None: not read)."""


@dataclass
class Rehearsal:
    """The verdict of a preemption rehearsal."""

    verdict: str  # "passed" | "failed" | "inconclusive"
    message: str
    trigger: str  # e.g. "after 5s", "at step 40"
    preempted_at_step: int | None = None
    resumed_from_step: int | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


@dataclass
class LocalRunResult:
    """What :func:`run_local` did; also written to ``RUN_DIR/run.json``."""

    exit_code: int
    run_dir: Path
    duration_s: float
    device: str | None
    """The device the script reported training on (the contract's status channel); None if it said none."""
    final_metrics: dict[str, Any]
    """The latest value of each metric the script logged (MLflow, else the status channel, else metrics.jsonl)."""
    command: str
    """The shell text run with ``bash -c`` (placeholders as ``"${AZT_...}"`` references)."""
    launcher: list[str] = field(default_factory=list)
    """The argv started (bash -c ..., or torchrun ... bash -c ...)."""
    nproc: int = 1
    nodes: int = 1
    distributed: bool = False
    resumed_from_step: int | None = None
    """Step the (last) attempt resumed from, if it resumed from a checkpoint."""
    preemption: Rehearsal | None = None
    attempts: list[Attempt] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False
    time_limit_s: float | None = None
    """The limit each start of the command had (the job's ``limits.timeout`` or ``--timeout``), None for none."""
    timed_out: bool = False
    device_visible: str | None = None
    """What this machine offered: "cuda" or "cpu" (None when the job did not need to know)."""
    gpu_requirement_ignored: bool = False
    metric_history: list[dict[str, Any]] = field(default_factory=list)
    """Every logged value: ``{"metric": NAME, "step": N, "value": X}``, in order."""
    metrics_source: str | None = None
    """Where the metrics came from: "mlflow", "status" or "metrics.jsonl" (None: nothing was logged)."""
    mlflow_run_id: str | None = None
    mlflow_store: str | None = None

    @property
    def test_accuracy(self) -> float | None:
        value = self.final_metrics.get("test_accuracy")
        return value if isinstance(value, (int, float)) else None

    @property
    def resumed(self) -> bool:
        return bool(self.resumed_from_step)

    @property
    def script_exit_code(self) -> int | None:
        """What the script itself exited with (its last start); :attr:`exit_code` is run-local's verdict,
        which differs when a rehearsal was not passed, the GPU requirement was ignored or time ran out."""
        return self.attempts[-1].exit_code if self.attempts else None

    def metrics_frame(self) -> Any:
        """:attr:`metric_history` as a pandas DataFrame (columns metric, step, value; needs pandas)."""
        return data_frame(self.metric_history)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for attempt in data["attempts"]:
            attempt.pop("status", None)  # its metrics are metric_history
        data["run_dir"] = str(self.run_dir)
        data["test_accuracy"] = self.test_accuracy
        data["resumed"] = self.resumed
        data["script_exit_code"] = self.script_exit_code
        return data

    def summary(self) -> str:
        """A few lines for the end of ``run-local``."""
        lines = [
            f"run folder: {self.run_dir}",
            f"exit code:  {self.exit_code}{self._exit_text()}",
            f"duration:   {self.duration_s:.1f}s" + self._layout_text(),
            f"device:     {self._device_text()}",
        ]
        if self.gpu_requirement_ignored:
            lines.append(
                "GPU:        the script ignored the GPU requirement (told a GPU is required, none visible, it "
                "finished anyway)"
            )
        hung = sorted({r for a in self.attempts for r in a.hung_ranks})
        if hung:
            lines.append(
                f"hung:       rank(s) {', '.join(hung)} waited in a collective for a rank that had exited; "
                "stopped (AZURE_TRAINER_COLLECTIVE_TIMEOUT_S)"
            )
        if self.timed_out:
            lines.append(
                f"timed out:  stopped after the time limit of {self.time_limit_s:g}s (the job's `limits.timeout`, "
                "or --timeout); Azure ML would cancel it too. Raise it, or --timeout 0 for no limit here"
            )
        if self.final_metrics:
            names = self._recent_metric_names()
            shown = ", ".join(f"{name} {_number(self.final_metrics[name])}" for name in names[-6:])
            more = len(names) - 6
            lines.append(
                f"metrics:    {shown}"
                + (f" (+{more} more)" if more > 0 else "")
                + f" [{self.metrics_source}]"
            )
        if self.resumed_from_step and self.preemption is None:
            lines.append(f"resumed from a checkpoint at step {self.resumed_from_step}")
        if self.preemption is not None:
            lines.append(
                f"preemption rehearsal: {self.preemption.verdict.upper()} — {self.preemption.message}"
            )
        return "\n".join(lines)

    def _layout_text(self) -> str:
        if self.nodes > 1:
            return f", {self.nodes} nodes x {self.nproc // self.nodes} process(es)"
        return f", {self.nproc} processes" if self.distributed else ""

    def _exit_text(self) -> str:
        """Why run-local exits with :attr:`exit_code`, saying so when it is not the script's own code."""
        script = self.script_exit_code
        if script is None or script == self.exit_code:
            return _explain_exit(self.exit_code)
        if any(a.hung_ranks for a in self.attempts):
            why = "ranks hung in a collective and were stopped"
        elif self.timed_out:
            why = "the job ran past its time limit"
        elif self.gpu_requirement_ignored:
            why = "the script ignored the GPU requirement"
        elif self.preemption is not None and not self.preemption.passed:
            why = f"the preemption rehearsal was {self.preemption.verdict}"
        else:
            why = "see above"
        return f" (run-local's verdict: {why}; the script exited {script}{_explain_exit(script)})"

    def _recent_metric_names(self) -> list[str]:
        """Metric names, least recently logged first (the final test metrics come last)."""
        last = {row["metric"]: i for i, row in enumerate(self.metric_history)}
        return sorted(self.final_metrics, key=lambda name: last.get(name, -1))

    def _device_text(self) -> str:
        if self.device is not None:
            text = f"{self.device} (reported by the script)"
            if self.device != "cuda" and self.device_visible == "cuda":
                text += "; a GPU is visible here and it was not used"
            return text
        here = f" (this machine offers {self.device_visible})" if self.device_visible else ""
        # 78 is the contract's "GPU required, none visible": the script stopped before choosing a device
        if self.exit_code == 78:
            return f"none: the script stopped before training, a GPU was required{here}"
        return f"not reported by the script{here}; see README: Your own script, for the status channel"


def data_frame(rows: list[dict[str, Any]]) -> Any:
    """``rows`` as a pandas DataFrame; pandas is optional, so its absence is one clear error."""
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "metrics_frame() needs pandas (pip install pandas); metric_history is the same data as a list of dicts"
        ) from None
    return pandas.DataFrame(rows, columns=list(rows[0]) if rows else ["metric", "step", "value"])


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _explain_exit(code: int) -> str:
    if code == EXIT_OK:
        return " (finished)"
    if code == EXIT_PREEMPTED:
        return " (preempted: checkpoint written; rerun with the same --run-dir to resume)"
    if code == EXIT_NO_GPU:
        return " (a GPU was required and no CUDA device is visible)"
    if code == EXIT_TIMED_OUT:
        return " (timed out)"
    if code > 128 and code - 128 < 65:
        with contextlib.suppress(ValueError):
            return f" (killed by {signal.Signals(code - 128).name})"
    return ""

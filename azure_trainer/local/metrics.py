"""Where a local run's metrics come from, best source first.

1. the MLflow run run-local created for the job (what Azure ML reads, for any script using MLflow);
2. the ``metrics`` events of the contract's status channel (scripts using the drop-in helper);
3. ``metrics.jsonl`` files under the outputs (the reference script's own record).

Each gives the latest value of every metric (``final``) and every value in order (``history``); a
sweep's objective is the trial's final value of its metric.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .status import ScriptStatus, json_records
from .tracking import Metrics, TrackedRun, read_mlflow


def collect_metrics(
    run: TrackedRun | None, statuses: Iterable[ScriptStatus | None], outputs_dir: Path, since: float = 0.0
) -> Metrics:
    """The run's metrics from the best source that has any (see the module docstring)."""
    for metrics in (read_mlflow(run), from_status(statuses), from_jsonl(outputs_dir, since)):
        if metrics.final:
            return metrics
    return Metrics()


def from_status(statuses: Iterable[ScriptStatus | None]) -> Metrics:
    """The metrics events of every attempt, in order (a resumed run continues its first attempt's)."""
    rows = [
        {"metric": name, "step": event.get("step"), "value": value}
        for status in statuses
        if status is not None
        for event in status.metrics
        for name, value in event["values"].items()
        if _is_number(value)
    ]
    return _from_rows(rows, "status")


def from_jsonl(outputs_dir: Path, since: float = 0.0) -> Metrics:
    """Every numeric value in the newest ``metrics.jsonl`` under ``outputs_dir`` written after ``since``
    (one JSON object a line; the reference script's last line holds the test metrics)."""
    files = [p for p in outputs_dir.rglob("metrics.jsonl") if p.is_file()] if outputs_dir.is_dir() else []
    files = [p for p in files if p.stat().st_mtime >= since]  # a reused run folder: not an old run's
    if not files:
        return Metrics()
    newest = max(files, key=lambda p: p.stat().st_mtime)
    rows = []
    for record in json_records(newest):
        step = record.get("step")
        rows += [
            {"metric": k, "step": step, "value": v}
            for k, v in record.items()
            if k not in ("step", "epoch", "final", "resumed_from_step") and _is_number(v)
        ]
    return _from_rows(rows, "metrics.jsonl")


def _from_rows(rows: list[dict[str, Any]], source: str) -> Metrics:
    final = {row["metric"]: row["value"] for row in rows}
    return Metrics(final, rows, source) if final else Metrics()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

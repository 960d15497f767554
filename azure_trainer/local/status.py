"""The reader side of the script contract's status channel.

run-local sets ``AZURE_TRAINER_STATUS_FILE`` for each start of the command; a script that honours the
contract (the reference script, or any script using train_scripts/contract.py's helper) appends one
JSON object per line there: ``device``, ``gpu_missing``, ``start``, ``metrics``, ``preempted``,
``finished`` (see :mod:`azure_trainer.contract`). This module reads that file back into a
:class:`ScriptStatus`. A script that writes nothing is fine: every field stays None.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import (
    EVENT_DEVICE,
    EVENT_FINISHED,
    EVENT_GPU_MISSING,
    EVENT_METRICS,
    EVENT_PREEMPTED,
    EVENT_START,
)


@dataclass
class ScriptStatus:
    """What the script said about one start of its command."""

    device: str | None = None
    """The device rank 0 (else any rank) reported training on: cuda, cpu or mps."""
    gpu_required: bool | None = None
    gpu_missing: bool = False
    resumed_from_step: int | None = None
    preempted_at_step: int | None = None
    finished_at_step: int | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    """Every ``metrics`` event: ``{"step": N, "values": {...}}``, in order."""

    @property
    def reported(self) -> bool:
        """Whether the script wrote any status at all (scripts outside the contract write none)."""
        return (
            self.device is not None
            or self.resumed_from_step is not None
            or bool(self.metrics)
            or (self.finished_at_step is not None or self.preempted_at_step is not None or self.gpu_missing)
        )


def json_records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file written by a script (the status file, ``metrics.jsonl``): a
    file that cannot be read has none, and a line that is not a JSON object is skipped, never fatal."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_status(path: Path) -> ScriptStatus:
    """Parse the status file at ``path``; a missing file or a malformed line is skipped, never fatal."""
    status = ScriptStatus()
    device_rank: int | None = None
    for record in json_records(path):
        event, rank = record.get("event"), record.get("rank", 0)
        if event == EVENT_DEVICE and isinstance(record.get("device"), str):
            if device_rank is None or (rank == 0 and device_rank != 0):
                status.device, device_rank = record["device"], rank
                status.gpu_required = record.get("gpu_required")
        elif event == EVENT_GPU_MISSING:
            status.gpu_missing = True
        elif event == EVENT_START and _is_int(record.get("resumed_from_step")):
            status.resumed_from_step = record["resumed_from_step"]
        elif event == EVENT_METRICS and isinstance(record.get("values"), dict):
            status.metrics.append({"step": record.get("step"), "values": record["values"]})
        elif event == EVENT_PREEMPTED and _is_int(record.get("step")):
            status.preempted_at_step = record["step"]
        elif event == EVENT_FINISHED and _is_int(record.get("step")):
            status.finished_at_step = record["step"]
    return status


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

"""The contract between azure-trainer (the submitter) and this script, and the script's side of it.

A copy of azure_trainer/contract.py's constants: this folder is uploaded as the job's code snapshot on
its own and cannot import azure_trainer. A test in the repository keeps the two copies equal.

The status channel: when ``AZURE_TRAINER_STATUS_FILE`` is set, :func:`write_status` appends one JSON
object per line to that file, so the runner learns the device, the resume step and a preemption
without reading the human-readable log. See azure_trainer/contract.py for the record format.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

REQUIRE_GPU_ENV = "AZURE_TRAINER_REQUIRE_GPU"
PREEMPT_AT_STEP_ENV = "AZURE_TRAINER_PREEMPT_AT_STEP"
OBJECTIVE_METRIC_ENV = "AZURE_TRAINER_OBJECTIVE_METRIC"
STATUS_FILE_ENV = "AZURE_TRAINER_STATUS_FILE"

EVENT_DEVICE = "device"
EVENT_GPU_MISSING = "gpu_missing"
EVENT_START = "start"
EVENT_METRICS = "metrics"
EVENT_PREEMPTED = "preempted"
EVENT_FINISHED = "finished"
STATUS_EVENTS = (EVENT_DEVICE, EVENT_GPU_MISSING, EVENT_START, EVENT_METRICS, EVENT_PREEMPTED, EVENT_FINISHED)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PREEMPTED = 75
EXIT_NO_GPU = 78

DISTRIBUTED_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")


_status_warned = False


def _global_rank() -> int:
    try:
        return int(os.environ.get("RANK", "0") or 0)
    except ValueError:
        return 0


def finite_values(values: dict) -> dict[str, float]:
    """The entries of ``values`` that are finite real numbers, as floats (JSON has no NaN)."""
    out = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "item"):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[str(name)] = number
    return out


def write_status(event: str, **fields) -> None:
    """Append one status record (``event``, ``rank``, ``time`` and ``fields``) to the status file.

    One ``os.write`` of one line on an ``O_APPEND`` descriptor, so the records of several ranks never
    interleave. A failure to write is one warning on stderr, never an error: training goes on.
    """
    global _status_warned
    path = os.environ.get(STATUS_FILE_ENV)
    if not path:
        return
    record = {"event": event, "rank": _global_rank(), "time": time.time(), **fields}
    line = (json.dumps(record, allow_nan=False) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except (OSError, ValueError) as exc:
        if not _status_warned:
            _status_warned = True
            print(
                f"WARNING: cannot write the status file {path} ({STATUS_FILE_ENV}): {exc}; "
                f"training goes on, but the runner will not see this run's status",
                file=sys.stderr,
                flush=True,
            )

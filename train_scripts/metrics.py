"""The reference script's metric names, and its own record of them: OUTPUT_DIR/metrics.jsonl.

MLflow (where Azure ML and ``run-local`` read metrics) and the status channel get the same numbers
through ``contract.MetricsLogger``; metrics.jsonl is a convenience for people and the benchmarks, not
something the runner needs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

EPOCH_KEYS = (
    "epoch",
    "step",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "samples_per_second",
    "epoch_time_s",
    "lr",
    "resumed_from_step",
)
FINAL_KEYS = ("final", "test_loss", "test_accuracy", "compile_time_s", "step", "resumed_from_step")
# The names MLflow receives (numbers only; "step" is MLflow's own step).
MLFLOW_METRICS = tuple(k for k in EPOCH_KEYS if k != "step") + (
    "test_loss",
    "test_accuracy",
    "compile_time_s",
)
# What a sweep objective may name: metrics every run logs with a number. Not resumed_from_step (null
# unless the run resumed), nor epoch (a counter, not a measure of quality or speed), nor compile_time_s
# (logged once, and only a cost).
OBJECTIVE_METRICS = tuple(
    k for k in MLFLOW_METRICS if k not in ("epoch", "resumed_from_step", "compile_time_s")
)
OUTPUT_FILES = ("model.pt", "metrics.jsonl")  # what this script writes into OUTPUT_DIR


class MetricsFile:
    """A ``contract.MetricsLogger`` sink: one JSON object per record, appended to ``path``.

    Called from the logger's thread with the values already read; the file is opened once and fsynced
    only when it is closed (each epoch's fsync cost a blobfuse round trip on Azure ML).
    """

    __name__ = "metrics.jsonl"

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def __call__(self, step: int, record: dict) -> None:  # noqa: ARG002 - the step is in the record
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

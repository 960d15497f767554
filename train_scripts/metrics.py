"""Metrics: one JSON object per line in OUTPUT_DIR/metrics.jsonl, and MLflow when it is importable."""

from __future__ import annotations

import json
import os
from pathlib import Path

from contract import EVENT_METRICS, finite_values, write_status

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
FINAL_KEYS = ("final", "test_loss", "test_accuracy", "step", "resumed_from_step")
# The names MLflow receives (numbers only; "step" is MLflow's own step).
MLFLOW_METRICS = tuple(k for k in EPOCH_KEYS if k != "step") + ("test_loss", "test_accuracy")
# What a sweep objective may name: metrics every run logs with a number. Not resumed_from_step (null
# unless the run resumed) nor epoch (a counter, not a measure of quality or speed).
OBJECTIVE_METRICS = tuple(k for k in MLFLOW_METRICS if k not in ("epoch", "resumed_from_step"))


class MetricsLogger:
    """Appends records to metrics.jsonl (rank 0 only); mirrors numbers to MLflow under the same names."""

    def __init__(self, output_dir, enabled: bool, params: dict | None = None):
        self.enabled = enabled
        self.path = Path(output_dir) / "metrics.jsonl"
        self._mlflow = None
        self._mlflow_run = None
        self._owns_run = False
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if os.environ.get("TRAIN_DISABLE_MLFLOW", "0") == "1":
            return
        mlflow = _import_mlflow()
        if mlflow is None:
            return
        try:
            self._owns_run = mlflow.active_run() is None
            self._mlflow_run = mlflow.active_run() or mlflow.start_run()
            self._mlflow = mlflow
            if params:
                mlflow.log_params({k: v for k, v in params.items() if v is not None})
        except Exception as exc:  # noqa: BLE001 - tracking must never break training
            print(
                f"WARNING: MLflow logging disabled ({_one_line(exc)}); set MLFLOW_TRACKING_URI to enable it"
            )
            self.close()
            self._mlflow = self._mlflow_run = None

    def log(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        step = int(record.get("step", 0))
        numeric = finite_values({k: v for k, v in record.items() if k != "step"})
        write_status(EVENT_METRICS, step=step, values=numeric)
        if self._mlflow_run is not None:
            try:
                self._mlflow.log_metrics(numeric, step=step)
            except Exception as exc:  # noqa: BLE001
                print(f"WARNING: MLflow log_metrics failed: {_one_line(exc)}")

    def close(self) -> None:
        if self._mlflow_run is not None and self._owns_run:
            try:
                self._mlflow.end_run()
            except Exception:  # noqa: BLE001
                pass


def _import_mlflow():
    """mlflow when it is installed, else None. Imported here, not at the top: it takes seconds, and only
    rank 0 with tracking enabled needs it. Inside Azure ML the service sets MLFLOW_TRACKING_URI; elsewhere
    mlflow's own default store applies (./mlruns before mlflow 3, ./mlflow.db from mlflow 3 on)."""
    try:
        import mlflow
    except ImportError:
        return None
    return mlflow


def _one_line(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."

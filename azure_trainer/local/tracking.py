"""Local runs log where Azure ML runs log: an MLflow store, one run per job, a parent run per sweep.

On Azure ML the service creates the job's MLflow run and hands it to the script through
``MLFLOW_TRACKING_URI`` and ``MLFLOW_RUN_ID``, so a plain ``mlflow.log_metric`` lands in it; a sweep is
a parent run with a child run per trial. run-local does the same against a local file store
(``RUN_DIR/mlruns``, or the sweep folder's for every trial): it creates the run (named after the run
folder, in the job's experiment) before the script starts, passes its id, and reads the metrics back
from it afterwards. That is how the final metrics and a sweep's objective come from what the script
logged, for any script that uses MLflow. ``mlflow ui --backend-store-uri RUN_DIR/mlruns`` shows them.

mlflow is optional (``pip install 'azure-trainer[mlflow]'``): without it nothing is created here, and
the script cannot log to MLflow either (it runs on this interpreter); metrics then come from the
contract's status channel or the reference script's metrics.jsonl.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PARENT_RUN_TAG = "mlflow.parentRunId"
"""MLflow's own tag for a nested run (what Azure ML's sweep children carry)."""

_log = logging.getLogger(__name__)


def mlflow_available() -> bool:
    """Whether mlflow can be imported here (looked up, not imported: that costs a second)."""
    return importlib.util.find_spec("mlflow") is not None


@dataclass(frozen=True)
class TrackedRun:
    """An MLflow run created for a local run (or a local sweep's parent)."""

    store: Path
    experiment: str
    run_id: str

    @property
    def uri(self) -> str:
        return self.store.as_uri()

    def env(self) -> dict[str, str]:
        """What the script needs to log into this run (as on Azure ML)."""
        return {"MLFLOW_TRACKING_URI": self.uri, "MLFLOW_RUN_ID": self.run_id}


@dataclass
class Metrics:
    """What a run logged: the latest value of each metric, and every value in order."""

    final: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    """One row per logged value: ``{"metric": NAME, "step": N, "value": X}``."""
    source: str | None = None
    """Where they came from: "mlflow", "status" (the contract's channel) or "metrics.jsonl"."""


def start_run(
    store: Path,
    experiment: str,
    run_name: str,
    *,
    parent: TrackedRun | None = None,
    tags: Mapping[str, str] = (),
) -> TrackedRun | None:
    """Create an MLflow run in ``store`` (a file store folder); None when mlflow is not installed or the
    store cannot be written (the run goes on without it)."""
    if not mlflow_available():
        return None
    try:
        client = _client(store)
        existing = client.get_experiment_by_name(experiment)
        experiment_id = existing.experiment_id if existing else client.create_experiment(experiment)
        all_tags = dict(tags)
        if parent is not None:
            all_tags[PARENT_RUN_TAG] = parent.run_id
        run = client.create_run(experiment_id, run_name=run_name, tags=all_tags)
    except Exception as exc:  # mlflow raises many types; a local run must not fail for its bookkeeping
        _log.warning("cannot create an MLflow run in %s: %s", store, exc)
        return None
    return TrackedRun(store, experiment, run.info.run_id)


def end_run(run: TrackedRun | None, exit_code: int) -> None:
    """Mark ``run`` finished (exit 0) or failed, as Azure ML marks a job's run."""
    if run is None:
        return
    try:
        _client(run.store).set_terminated(run.run_id, "FINISHED" if exit_code == 0 else "FAILED")
    except Exception as exc:
        _log.warning("cannot close MLflow run %s: %s", run.run_id, exc)


def read_mlflow(run: TrackedRun | None) -> Metrics:
    """The metrics the script logged into ``run`` (empty when there is no run or nothing was logged)."""
    if run is None:
        return Metrics()
    try:
        client = _client(run.store)
        latest = client.get_run(run.run_id).data.metrics
        logged = [m for name in latest for m in client.get_metric_history(run.run_id, name)]
        logged.sort(key=lambda m: (m.timestamp, m.step))  # in the order the script logged them
        history = [{"metric": m.key, "step": m.step, "value": m.value} for m in logged]
    except Exception as exc:
        _log.warning("cannot read MLflow run %s: %s", run.run_id, exc)
        return Metrics()
    return Metrics(dict(latest), history, "mlflow") if latest else Metrics()


def _client(store: Path) -> Any:
    # mlflow >= 3 refuses a file store unless told; the child process gets the same switch (prepare)
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store.as_uri())

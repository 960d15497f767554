"""The workspace's MLflow tracking API in the fake (``<region>.api.azureml.ms/mlflow/v1.0/<workspace>/
api/2.0/mlflow/...``), read side only: ``runs/get``, ``metrics/get-history`` (paged) and ``runs/search``
by parent run, the calls a report makes. Bodies follow MLflow's REST API (``Run``, ``RunInfo``,
``RunData``, ``Metric`` objects, ``next_page_token``); an Azure ML job's name is its MLflow run id.

Tests seed runs with :meth:`MlflowService.log_run` (``FakeAzureML.log_mlflow_run``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from ._http import FakeResponse, RecordedRequest
from ._state import FakeState

_PARENT_FILTER = re.compile(r"^\s*tags\.[`\"]?mlflow\.parentRunId[`\"]?\s*=\s*'([^']+)'\s*$")


def _mlflow_error(status: int, code: str, message: str) -> FakeResponse:
    """MLflow's error body: ``{"error_code", "message"}``."""
    return FakeResponse(status, {"error_code": code, "message": message})


class MlflowService:
    """MLflow runs by id: info, params, tags and every logged metric value."""

    page_size = 1000
    """Values per page of ``metrics/get-history`` and runs per page of ``runs/search``."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        """Run id -> the run; kept in the state, so an offline workspace's folder keeps them too."""
        return self.state.mlflow_runs

    def install(self, add: Any, ws: str) -> None:
        base = r"/mlflow/v1\.0" + ws + r"/api/2\.0/mlflow"
        add("GET", base + "/runs/get", self.get_run)
        add("GET", base + "/metrics/get-history", self.get_history)
        add("POST", base + "/runs/search", self.search)

    def log_run(
        self,
        run_id: str,
        rows: Iterable[Mapping[str, Any]] = (),
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        parent: str | None = None,
        name: str | None = None,
        status: str = "FINISHED",
    ) -> None:
        """Record run ``run_id`` with metric ``rows`` (``{"metric", "step", "value"}``), as a job's script
        would have logged them; ``parent`` makes it a child run (a sweep trial)."""
        start = int(time.time() * 1000)
        all_tags = dict(tags or {})
        if parent is not None:
            all_tags["mlflow.parentRunId"] = parent
        experiment = (
            self.runs[parent]["info"]["experiment_id"]
            if parent in self.runs
            else str(uuid.uuid5(uuid.NAMESPACE_URL, run_id))
        )
        metrics = [
            {
                "key": str(r["metric"]),
                "value": r["value"],
                "step": int(r.get("step") or 0),
                "timestamp": start + i,
            }
            for i, r in enumerate(rows)
        ]
        self.runs[run_id] = {
            "info": {
                "run_id": run_id,
                "run_uuid": run_id,
                "experiment_id": experiment,
                "run_name": name or run_id,
                "status": status,
                "start_time": start,
                "end_time": start + len(metrics) + 1,
                "lifecycle_stage": "active",
            },
            "params": [{"key": k, "value": str(v)} for k, v in (params or {}).items()],
            "tags": [{"key": k, "value": v} for k, v in all_tags.items()],
            "metrics": metrics,
        }

    def _run_body(self, run_id: str) -> dict[str, Any]:
        run = self.runs[run_id]
        latest: dict[str, dict[str, Any]] = {}
        for m in run["metrics"]:
            latest[m["key"]] = m
        return {
            "info": run["info"],
            "data": {"metrics": list(latest.values()), "params": run["params"], "tags": run["tags"]},
        }

    def _missing(self, run_id: str) -> FakeResponse:
        return _mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' not found.")

    def get_run(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        run_id = rec.query.get("run_id") or rec.query.get("run_uuid") or ""
        if run_id not in self.runs:
            return self._missing(run_id)
        return FakeResponse(200, {"run": self._run_body(run_id)})

    def get_history(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        run_id, key = rec.query.get("run_id", ""), rec.query.get("metric_key", "")
        if run_id not in self.runs:
            return self._missing(run_id)
        values = [m for m in self.runs[run_id]["metrics"] if m["key"] == key]
        start = int(rec.query.get("page_token") or 0)
        page = values[start : start + self.page_size]
        body: dict[str, Any] = {"metrics": page}
        if start + self.page_size < len(values):
            body["next_page_token"] = str(start + self.page_size)
        return FakeResponse(200, body)

    def search(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        query = rec.json or {}
        match = _PARENT_FILTER.match(str(query.get("filter") or ""))
        if not match:
            return _mlflow_error(
                400, "INVALID_PARAMETER_VALUE", "the fake serves runs/search by tags.mlflow.parentRunId only"
            )
        experiments = set(query.get("experiment_ids") or [])
        found = [
            rid
            for rid, run in self.runs.items()
            if {"key": "mlflow.parentRunId", "value": match.group(1)} in run["tags"]
            and (not experiments or run["info"]["experiment_id"] in experiments)
        ]
        start = int(query.get("page_token") or 0)
        body: dict[str, Any] = {"runs": [self._run_body(r) for r in found[start : start + self.page_size]]}
        if start + self.page_size < len(found):
            body["next_page_token"] = str(start + self.page_size)
        return FakeResponse(200, body)

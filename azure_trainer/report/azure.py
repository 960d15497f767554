"""Report data for a finished Azure ML job, from its MLflow metrics (where Azure ML keeps them).

The job's facts come from ``ml_client.jobs.get``; its metrics come through a :class:`MetricsReader`,
the one interface the report needs: metric rows per run, and a sweep's child runs. The real reader,
:class:`MlflowRestReader`, speaks the MLflow REST API that every Azure ML workspace serves (the
``mlflow_tracking_uri`` of the workspace, ``azureml://`` read as ``https://``; the job's name is its
MLflow run id), through azure-core with the MLClient's own credential and transport, so it needs
neither mlflow nor azureml-mlflow, and the tests feed it from the fake Azure ML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import AzureMLError
from .data import MetricRow, RunData, SweepData, TrialData, final_values
from .svg import is_number

TOKEN_SCOPE = "https://management.azure.com/.default"
"""The audience Azure ML's data plane (run history, MLflow) accepts, as azureml-mlflow uses it."""
PARENT_TAG = "mlflow.parentRunId"
HYPERPARAMETERS_TAG = "hyperparameters"
"""Tag of an Azure ML sweep trial: its sampled values as a JSON object."""


@dataclass
class ChildRun:
    """A sweep trial as MLflow lists it."""

    run_id: str
    name: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)


class MetricsReader(Protocol):
    """Where a report reads an Azure ML job's metrics from."""

    def metric_rows(self, run_id: str) -> list[MetricRow]:
        """Every value the run logged, ``{"metric", "step", "value"}``, in logging order."""
        ...

    def child_runs(self, run_id: str) -> list[ChildRun]:
        """The run's child runs (a sweep's trials)."""
        ...


def azure_job_data(ml_client: Any, name: str, reader: MetricsReader | None = None) -> RunData | SweepData:
    """A report of job ``name``: RunData for a command job, SweepData for a sweep job."""
    from ..azureml.errors import JOB_NOT_FOUND, translated
    from ..azureml.lifecycle import job_summary
    from ..azureml.naming import check_job_name

    check_job_name(name)
    with translated(f"getting job {name}", not_found=JOB_NOT_FOUND):
        job = ml_client.jobs.get(name)
    summary = job_summary(job)
    facts = [(k.replace("_", " "), str(v)) for k, v in summary.items() if v is not None and k != "name"]
    reader = reader or MlflowRestReader(ml_client)
    if getattr(job, "type", None) == "sweep":
        return _sweep(job, name, facts, reader)
    return RunData(name, facts, reader.metric_rows(name))


def _sweep(job: Any, name: str, facts: list[tuple[str, str]], reader: MetricsReader) -> SweepData:
    objective = getattr(job, "objective", None)
    metric = str(getattr(objective, "primary_metric", None) or "objective")
    goal = str(getattr(objective, "goal", None) or "maximize").lower()
    searched = list(getattr(job, "search_space", None) or {})
    trials = []
    for child in reader.child_runs(name):
        rows = reader.metric_rows(child.run_id)
        value = final_values(rows).get(metric)
        params = {k: child.params[k] for k in searched if k in child.params} or child.params
        status = "finished" if value is not None else f"{child.status.lower()}, no {metric} logged"
        trials.append(TrialData(child.name or child.run_id, params, value, status, rows))
    facts = [*facts, ("objective", f"{goal} {metric}"), ("trials", str(len(trials)))]
    return SweepData(name, metric, goal, trials, facts)


class MlflowRestReader:
    """:class:`MetricsReader` over the workspace's MLflow REST API (``/api/2.0/mlflow/...``)."""

    def __init__(self, ml_client: Any) -> None:
        self.ml_client = ml_client
        self._pipeline: Any = None
        self._base: str | None = None

    def metric_rows(self, run_id: str) -> list[MetricRow]:
        run = self._get("runs/get", {"run_id": run_id}).get("run") or {}
        keys = [m.get("key") for m in (run.get("data") or {}).get("metrics") or []]
        logged = [m for key in keys if key for m in self._history(run_id, key)]
        logged.sort(key=lambda m: (int(m.get("timestamp") or 0), int(m.get("step") or 0)))
        return [
            {"metric": m["key"], "step": int(m.get("step") or 0), "value": float(m["value"])}
            for m in logged
            if is_number(_number(m.get("value")))
        ]

    def child_runs(self, run_id: str) -> list[ChildRun]:
        parent = self._get("runs/get", {"run_id": run_id}).get("run") or {}
        experiment = (parent.get("info") or {}).get("experiment_id")
        body = {
            "experiment_ids": [experiment] if experiment else [],
            "filter": f"tags.{PARENT_TAG} = '{run_id}'",
            "max_results": 1000,
        }
        children, token = [], None
        while True:
            page = self._post("runs/search", {**body, **({"page_token": token} if token else {})})
            children += [_child(r) for r in page.get("runs") or []]
            token = page.get("next_page_token")
            if not token:
                return children

    def _history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        out, token = [], None
        while True:
            query = {"run_id": run_id, "metric_key": key, **({"page_token": token} if token else {})}
            page = self._get("metrics/get-history", query)
            out += page.get("metrics") or []
            token = page.get("next_page_token")
            if not token:
                return out

    # -- HTTP --
    def _get(self, route: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._send("GET", route, params=params)

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", route, json=body)

    def _send(self, method: str, route: str, **kwargs: Any) -> dict[str, Any]:
        from azure.core.rest import HttpRequest

        from ..azureml.errors import translated

        with translated(f"reading MLflow {route} for the report"):
            pipeline, base = self._connect()
            response = pipeline.send_request(HttpRequest(method, f"{base}/api/2.0/mlflow/{route}", **kwargs))
            response.raise_for_status()
            try:
                data = response.json()
            except ValueError:
                raise AzureMLError(
                    f"reading MLflow {route}: the service answered with something that is not JSON"
                ) from None
        return data if isinstance(data, dict) else {}

    def _connect(self) -> tuple[Any, str]:
        if self._pipeline is None:
            from azure.core import PipelineClient
            from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy, UserAgentPolicy

            from .. import __version__
            from ..azureml.workspace import credential_and_transport

            credential, transport = credential_and_transport(self.ml_client)
            workspace = self.ml_client.workspaces.get(self.ml_client.workspace_name)
            uri = str(getattr(workspace, "mlflow_tracking_uri", "") or "")
            if not uri:
                raise AzureMLError(
                    "the workspace names no MLflow tracking URI; cannot read the job's metrics"
                )
            self._base = "https://" + uri.split("://", 1)[-1].split("?", 1)[0].rstrip("/")
            policies = [
                UserAgentPolicy(f"azure-trainer/{__version__}"),
                RetryPolicy(),
                BearerTokenCredentialPolicy(credential, TOKEN_SCOPE),
            ]
            self._pipeline = PipelineClient(self._base, policies=policies, transport=transport)
        return self._pipeline, self._base  # type: ignore[return-value]


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _child(run: dict[str, Any]) -> ChildRun:
    info, data = run.get("info") or {}, run.get("data") or {}
    tags = {t.get("key"): t.get("value") for t in data.get("tags") or []}
    params: dict[str, Any] = {p.get("key"): _typed(p.get("value")) for p in data.get("params") or []}
    try:
        sampled = json.loads(tags.get(HYPERPARAMETERS_TAG) or "{}")
    except ValueError:
        sampled = {}
    if isinstance(sampled, dict):
        params.update(sampled)
    name = info.get("run_name") or tags.get("mlflow.runName") or info.get("run_id", "")
    return ChildRun(str(info.get("run_id", "")), str(name), str(info.get("status", "")), params)


def _typed(value: Any) -> Any:
    """MLflow params are strings: "0.01" -> 0.01, "64" -> 64, anything else stays text."""
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if is_number(parsed) else value

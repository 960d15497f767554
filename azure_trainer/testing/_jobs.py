"""Jobs of the fake: create (PUT), get, list, cancel and the cancel's operation result (ARM).

On the wire azure-ai-ml 1.35 sends a command job's PUT at 2025-01-01-preview, a sweep job's PUT and
every GET / list at 2024-01-01-preview, and the cancel at 2023-04-01-preview. The bodies follow those
api-versions' published examples (``Job/CommandJob/createOrUpdate.json``, ``get.json``, ``list.json``,
``Job/SweepJob/createOrUpdate.json``, ``Job/cancel.json``):

* a created job answers 201 with the request's properties plus ``status`` (``NotStarted`` at
  2025-01-01-preview, ``Preparing`` at 2024-01-01-preview, as the examples' 201 bodies say), ``services``
  (Studio, Tracking), ``parameters``; the service's own ``properties`` (``_azureml.ComputeTargetType``,
  ``_azureml.ClusterName``, ``ContentSnapshotId``) and the ``default`` output (the job's artifact folder,
  where logs and ``./outputs`` go) are what ``az ml job show`` / ``New-AzMLWorkspaceJob`` show of a real job;
* ``StartTimeUtc`` / ``EndTimeUtc`` appear in ``properties`` once the job runs / ends (``az ml job show``);
* lists page with ``nextLink``;
* a cancel answers 202 with a ``Location`` header only; polling it answers 200 once the request is done.
"""

from __future__ import annotations

import copy
import datetime as _dt
import uuid
from collections.abc import Callable
from typing import Any

from ._http import FakeResponse, RecordedRequest, azure_error
from ._paging import page
from ._state import TENANT_ID, TERMINAL, FakeState, system_data

STATUS_ON_CREATE = {"2025-01-01-preview": "NotStarted", "2024-01-01-preview": "Preparing"}
"""A new job's status in the create response, by api-version (the published 201 examples)."""

RUNNING = frozenset({"Running", "Finalizing"})


def utc_stamp() -> str:
    """``StartTimeUtc`` / ``EndTimeUtc`` as the service writes them: ``2026-03-31 18:14:56``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class JobService:
    """``workspaces/{ws}/jobs`` and the ``mfeOperationResults`` of a cancel."""

    def __init__(self, state: FakeState, page_size: int, initial_status: str | None = None) -> None:
        self.state = state
        self.page_size = page_size
        self.initial_status = initial_status
        self.on_created: Callable[[str], None] | None = None
        """Called with a new job's name (the offline workspace starts its simulated run here)."""
        self.on_cancel: Callable[[str], bool] | None = None
        """Called when a cancel is requested; True if the job will be stopped asynchronously."""
        self.studio_url: Callable[[str], str] | None = None
        """A job's Studio link (default: ml.azure.com's); the offline workspace points at its run folder."""

    def install(self, add: Any, ws: str, sub: str, mls: str, seg: Any) -> None:
        add("GET", ws + "/jobs", self.list_jobs)
        add("GET", ws + "/jobs/" + seg("name"), self.get_job)
        add("PUT", ws + "/jobs/" + seg("name"), self.put_job)
        add("POST", ws + "/jobs/" + seg("name") + "/cancel", self.cancel_job)
        operations = sub + mls + "/locations/" + seg("loc")
        add("GET", operations + "/mfeOperationResults/" + seg("op"), self.operation_result)

    # -- state changes --
    def set_status(self, name: str, status: str) -> None:
        """Move job ``name`` to ``status``, stamping its start and end times as the service does."""
        props = self.state.jobs[name]["properties"]
        props["status"] = status
        extra = props.setdefault("properties", {})
        if (status in RUNNING or status in TERMINAL) and "StartTimeUtc" not in extra and status != "Canceled":
            extra["StartTimeUtc"] = utc_stamp()
        if status in TERMINAL:
            extra.setdefault("EndTimeUtc", utc_stamp())
            self.state.status_scripts.pop(name, None)
        self.state.jobs[name]["systemData"]["lastModifiedAt"] = system_data()["lastModifiedAt"]

    def advance(self, name: str) -> None:
        """One GET of a job with a scripted status moves it to the next status."""
        script = self.state.status_scripts.get(name)
        if script:
            self.set_status(name, script.pop(0))

    def not_found(self, name: str) -> FakeResponse:
        return azure_error(
            404,
            "UserError",
            f"The specified resource was not found: {self.state.workspace_arm_id}/jobs/{name}",
        )

    # -- handlers --
    def put_job(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        err = self.state.scope_error(sub, rg, ws)
        if err:
            return err
        body = copy.deepcopy(rec.json or {})
        props = body.setdefault("properties", {})
        compute_name = (props.get("computeId") or "").rstrip("/").split("/")[-1] or None
        if compute_name and compute_name not in self.state.computes:
            return azure_error(
                400,
                "UserError",
                f"Compute '{compute_name}' not found in workspace '{self.state.workspace_name}'.",
            )
        existing = self.state.jobs.get(name)
        if existing is not None:
            # the service lets a PUT to an existing job change only a few fields (tags, description...);
            # the job itself, its status and times stay
            for key in ("tags", "description", "displayName"):
                if key in props:
                    existing["properties"][key] = props[key]
            return FakeResponse(200, existing)
        api_version = rec.query.get("api-version", "")
        props["status"] = self.initial_status or STATUS_ON_CREATE.get(api_version, "NotStarted")
        props.setdefault("experimentName", "Default")
        props.setdefault("displayName", name)
        props.setdefault("tags", {})
        props.setdefault("isArchived", False)
        props.setdefault("parameters", {})
        service_props = props.setdefault("properties", {})
        if (
            compute_name
            and self.state.computes[compute_name]["properties"].get("computeType") == "AmlCompute"
        ):
            service_props.setdefault("_azureml.ComputeTargetType", "amlctrain")
            service_props.setdefault("_azureml.ClusterName", compute_name)
        service_props.setdefault("ContentSnapshotId", str(uuid.uuid4()))
        outputs = props.get("outputs") or {}
        outputs.setdefault(
            "default",
            {
                "jobOutputType": "uri_folder",
                "mode": "ReadWriteMount",
                "uri": f"azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.{name}",
            },
        )
        props["outputs"] = outputs
        props["services"] = self._services(name)
        res = {
            "id": f"{self.state.workspace_arm_id}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": props,
            "systemData": system_data(),
        }
        self.state.jobs[name] = res
        if self.on_created is not None:
            self.on_created(name)
        return FakeResponse(201, res)

    def _services(self, name: str) -> dict[str, Any]:
        arm = self.state.workspace_arm_id
        studio = (
            self.studio_url(name)
            if self.studio_url
            else f"https://ml.azure.com/runs/{name}?wsid={arm}&tid={TENANT_ID}"
        )
        endpoints = {
            "Tracking": f"azureml://{self.state.location}.api.azureml.ms/mlflow/v1.0{arm}?",
            "Studio": studio,
        }
        return {
            kind: {
                "jobServiceType": kind,
                "port": None,
                "endpoint": endpoint,
                "status": None,
                "errorMessage": None,
                "properties": None,
                "nodes": None,
            }
            for kind, endpoint in endpoints.items()
        }

    def get_job(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        err = self.state.scope_error(sub, rg, ws)
        if err:
            return err
        if name not in self.state.jobs:
            return self.not_found(name)
        self.advance(name)
        return FakeResponse(200, self.state.jobs[name])

    def list_jobs(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        err = self.state.scope_error(sub, rg, ws)
        if err:
            return err
        jobs = list(self.state.jobs.values())
        query = rec.query
        view = query.get("listViewType", "ActiveOnly")
        if view == "ActiveOnly":
            jobs = [j for j in jobs if not j["properties"].get("isArchived")]
        elif view == "ArchivedOnly":
            jobs = [j for j in jobs if j["properties"].get("isArchived")]
        if query.get("jobType"):
            jobs = [j for j in jobs if j["properties"].get("jobType", "").lower() == query["jobType"].lower()]
        if query.get("tag"):
            jobs = [j for j in jobs if query["tag"] in (j["properties"].get("tags") or {})]
        jobs.sort(key=lambda j: j["systemData"]["createdAt"], reverse=True)  # newest first
        return FakeResponse(200, page(rec, jobs, self.page_size))

    def cancel_job(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        err = self.state.scope_error(sub, rg, ws)
        if err:
            return err
        if name not in self.state.jobs:
            return self.not_found(name)
        status = self.state.jobs[name]["properties"]["status"]
        if status in TERMINAL:
            return azure_error(400, "UserError", f"Cannot cancel job {name} in terminal state {status}.")
        self.set_status(name, "CancelRequested")
        stops_later = self.on_cancel is not None and self.on_cancel(name)
        self.state.runs.setdefault(name, {})["cancel_stops_later"] = stops_later
        operation = f"jc:{self.state.workspace_id}:{name}"
        location = (
            f"https://management.azure.com/subscriptions/{self.state.subscription_id}/providers/"
            f"Microsoft.MachineLearningServices/locations/{self.state.location}/mfeOperationResults/"
            f"{operation}?api-version={rec.query.get('api-version', '2023-04-01-preview')}"
        )
        return FakeResponse(202, None, {"Location": location})

    def operation_result(self, rec: RecordedRequest, sub: str, loc: str, op: str) -> FakeResponse:
        name = op.rsplit(":", 1)[-1]
        job = self.state.jobs.get(name)
        if job is not None and job["properties"]["status"] == "CancelRequested":
            if not self.state.runs.get(name, {}).get("cancel_stops_later"):
                self.set_status(name, "Canceled")
        return FakeResponse(200, None)

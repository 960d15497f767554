"""Jobs of the fake: create (PUT), get, list, cancel and the cancel operation's polling (ARM)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from ._http import FakeResponse, RecordedRequest, azure_error
from ._state import TENANT_ID, TERMINAL, FakeState, system_data


class JobService:
    """``workspaces/{ws}/jobs`` and the ``mfeOperationResults`` / ``mfeOperationsStatus`` of a cancel."""

    def __init__(self, state: FakeState, initial_status: str = "Queued") -> None:
        self.state = state
        self.initial_status = initial_status

    def install(self, add: Any, ws: str, sub: str, mls: str, seg: Any) -> None:
        add("GET", ws + "/jobs", self.list_jobs)
        add("GET", ws + "/jobs/" + seg("name"), self.get_job)
        add("PUT", ws + "/jobs/" + seg("name"), self.put_job)
        add("POST", ws + "/jobs/" + seg("name") + "/cancel", self.cancel_job)
        operations = sub + mls + "/locations/" + seg("loc")
        add("GET", operations + "/mfeOperationResults/" + seg("op"), self.operation_result)
        add("GET", operations + "/mfeOperationsStatus/" + seg("op"), self.operation_status)

    # -- state changes the tests drive --
    def set_status(self, name: str, status: str) -> None:
        self.state.jobs[name]["properties"]["status"] = status
        if status in TERMINAL:
            self.state.status_scripts.pop(name, None)

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
        compute_id = props.get("computeId")
        if compute_id:
            cname = compute_id.rstrip("/").split("/")[-1]
            if cname not in self.state.computes:
                return azure_error(
                    400,
                    "UserError",
                    f"Compute '{cname}' not found in workspace '{self.state.workspace_name}'.",
                )
        existed = name in self.state.jobs
        if existed and self.state.jobs[name]["properties"].get("status") not in TERMINAL:
            # the real service only lets you patch a few fields of a live job; we just keep the status
            status = self.state.jobs[name]["properties"]["status"]
        else:
            status = self.initial_status
        props["status"] = status
        props.setdefault("experimentName", "Default")
        props.setdefault("displayName", name)
        props.setdefault("tags", {})
        props.setdefault("properties", {})
        props.setdefault("isArchived", False)
        props["properties"].setdefault("_azureml.ComputeTargetType", "amlctrain")
        props["properties"].setdefault("ContentSnapshotId", str(uuid.uuid4()))
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
            "systemData": system_data(),
            "properties": props,
        }
        self.state.jobs[name] = res
        return FakeResponse(200 if existed else 201, res)

    def _services(self, name: str) -> dict[str, Any]:
        arm = self.state.workspace_arm_id
        endpoints = {
            "Tracking": f"azureml://{self.state.location}.api.azureml.ms/mlflow/v1.0{arm}?",
            "Studio": f"https://ml.azure.com/runs/{name}?wsid={arm}&tid={TENANT_ID}",
        }
        return {
            kind: {
                "jobServiceType": kind,
                "endpoint": endpoint,
                "status": None,
                "errorMessage": None,
                "properties": None,
                "nodes": None,
                "port": None,
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
        jobs = list(self.state.jobs.values())
        query = rec.query
        view = query.get("listViewType", "ActiveOnly")
        if view == "ActiveOnly":
            jobs = [j for j in jobs if not j["properties"].get("isArchived")]
        elif view == "ArchivedOnly":
            jobs = [j for j in jobs if j["properties"].get("isArchived")]
        if query.get("experimentName"):
            jobs = [j for j in jobs if j["properties"].get("experimentName") == query["experimentName"]]
        if query.get("jobType"):
            jobs = [j for j in jobs if j["properties"].get("jobType", "").lower() == query["jobType"].lower()]
        if query.get("tag"):
            jobs = [j for j in jobs if query["tag"] in (j["properties"].get("tags") or {})]
        return FakeResponse(200, {"value": list(reversed(jobs)), "nextLink": None})

    def cancel_job(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        if name not in self.state.jobs:
            return self.not_found(name)
        status = self.state.jobs[name]["properties"]["status"]
        if status in TERMINAL:
            return azure_error(400, "UserError", f"Cannot cancel job {name} in terminal state {status}.")
        self.set_status(name, "CancelRequested")
        operation = f"jc:{self.state.workspace_id}:{name}"
        base = (
            f"https://management.azure.com/subscriptions/{self.state.subscription_id}/providers/"
            f"Microsoft.MachineLearningServices/locations/{self.state.location}"
        )
        api = rec.query.get("api-version", "2023-04-01-preview")
        return FakeResponse(
            202,
            None,
            {
                "Location": f"{base}/mfeOperationResults/{operation}?api-version={api}",
                "Azure-AsyncOperation": f"{base}/mfeOperationsStatus/{operation}?api-version={api}",
                "Retry-After": "1",
            },
        )

    def _finish_cancel(self, operation: str) -> None:
        name = operation.rsplit(":", 1)[-1]
        if name in self.state.jobs and self.state.jobs[name]["properties"]["status"] == "CancelRequested":
            self.set_status(name, "Canceled")

    def operation_result(self, rec: RecordedRequest, sub: str, loc: str, op: str) -> FakeResponse:
        self._finish_cancel(op)
        return FakeResponse(200, None)

    def operation_status(self, rec: RecordedRequest, sub: str, loc: str, op: str) -> FakeResponse:
        from ._state import now

        self._finish_cancel(op)
        return FakeResponse(
            200, {"id": rec.path, "name": op, "status": "Succeeded", "startTime": now(), "endTime": now()}
        )

"""Run history of the fake (``<region>.api.azureml.ms``): workspace discovery, runs, their details and
log files, and the data-plane look-ups ``jobs.stream`` and ``jobs.download`` make.

The run-history API has no published examples; the bodies follow its definitions (``Run``, ``RunDetails``
in ``data-plane/Microsoft.MachineLearningServices.RunHistory/stable/v1.0/run-history.json``), the subset
azure-ai-ml reads.
"""

from __future__ import annotations

import uuid
from typing import Any

from ._http import FakeResponse, RecordedRequest
from ._state import ARTIFACT_CONTAINER, STORAGE_ACCOUNT, TERMINAL, FakeState

LOG_PREFIX = "ExperimentRun/dcid.{name}/"
"""Where a job's logs and outputs live in the artifact container (the ``default`` output's path)."""


class RunService:
    """Discovery, ``history/v1.0`` runs and the ``dataset`` / ``modelmanagement`` look-ups."""

    def __init__(self, state: FakeState, jobs: Any, blobs: Any) -> None:
        self.state = state
        self.jobs = jobs
        self.blobs = blobs

    def install(self, add: Any, ws: str, seg: Any) -> None:
        add("GET", r"/discovery", self.discovery)
        add("GET", r"/discovery/workspaces/" + seg("wsid"), self.discovery)
        history = r"/history/v1\.0" + ws
        add("GET", history + "/runs/" + seg("run") + "/details", self.run_details)
        add("GET", history + "/runs/" + seg("run"), self.get_run)
        add("POST", history + "/rundata", self.run_data)
        add("GET", history + "/runs/" + seg("run") + "/children", self.run_children)
        experiment_run = history + "/experiments/" + seg("exp") + "/runs/" + seg("run")
        add("POST", experiment_run, self.patch_run)
        add("PATCH", experiment_run, self.patch_run)
        add("POST", r"/dataset/v1\.0" + ws + "/data/queryById", self.dataset_query)
        add("POST", r"/dataset/v1\.0" + ws + "/dataversion/batchGetResolvedURIs", self.dataset_query)
        add("POST", r"/modelmanagement/v1\.0" + ws + "/models/batchGetResolvedURIs", self.dataset_query)

    def discovery(self, rec: RecordedRequest, **_: str) -> FakeResponse:
        api = f"https://{self.state.location}.api.azureml.ms"
        services = ("api", "catalog", "experimentation", "gallery", "history", "hyperdrive", "labeling")
        body: dict[str, str] = {service: api for service in services}
        body.update(modelmanagement=api, pipelines=api, studio="https://ml.azure.com")
        return FakeResponse(200, body)

    def log_files(self, name: str) -> list[str]:
        """The job's log files (paths below its folder in the artifact container)."""
        prefix = LOG_PREFIX.format(name=name)
        return [
            n[len(prefix) :]
            for n in self.blobs.names(STORAGE_ACCOUNT, ARTIFACT_CONTAINER)
            if n.startswith(prefix) and n[len(prefix) :].startswith(("user_logs/", "azureml-logs/", "logs/"))
        ]

    def _run(self, name: str) -> dict[str, Any]:
        job = self.state.jobs[name]
        props = job["properties"]
        extra = props.get("properties") or {}
        return {
            "runId": name,
            "runUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "rootRunId": name,
            "experimentId": str(uuid.uuid5(uuid.NAMESPACE_URL, props.get("experimentName", "Default"))),
            "displayName": props.get("displayName"),
            "status": props.get("status"),
            "runType": "azureml.scriptrun",
            "target": (props.get("computeId") or "").split("/")[-1] or None,
            "tags": props.get("tags") or {},
            "properties": props.get("properties") or {},
            "createdUtc": job["systemData"]["createdAt"],
            "startTimeUtc": _iso(extra.get("StartTimeUtc")),
            "endTimeUtc": _iso(extra.get("EndTimeUtc")) if props.get("status") in TERMINAL else None,
            "error": None,
            "warnings": None,
            "hidden": False,
        }

    def get_run(self, rec: RecordedRequest, sub: str, rg: str, ws: str, run: str) -> FakeResponse:
        if run not in self.state.jobs:
            return self.jobs.not_found(run)
        return FakeResponse(200, self._run(run))

    def run_details(self, rec: RecordedRequest, sub: str, rg: str, ws: str, run: str) -> FakeResponse:
        if run not in self.state.jobs:
            return self.jobs.not_found(run)
        self.jobs.advance(run)
        details = self._run(run)
        prefix = LOG_PREFIX.format(name=run)
        details["logFiles"] = {
            f: f"https://{STORAGE_ACCOUNT}.blob.core.windows.net/{ARTIFACT_CONTAINER}/{prefix}{f}?sv=fake"
            for f in self.log_files(run)
        }
        details["services"] = {}
        return FakeResponse(200, details)

    def run_data(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        run = (rec.json or {}).get("runId")
        if run not in self.state.jobs:
            return self.jobs.not_found(str(run))
        meta = self._run(run)
        # named outputs are not modelled; `jobs.download` uses the ARM job's default output
        meta["outputs"] = {}
        meta["inputs"] = {}
        return FakeResponse(200, {"runMetadata": meta, "runDefinition": None, "jobSpecification": None})

    def run_children(self, rec: RecordedRequest, sub: str, rg: str, ws: str, run: str) -> FakeResponse:
        return FakeResponse(200, {"value": [], "continuationToken": None, "nextLink": None})

    def patch_run(self, rec: RecordedRequest, sub: str, rg: str, ws: str, exp: str, run: str) -> FakeResponse:
        return FakeResponse(200, {"runId": run})

    def dataset_query(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        return FakeResponse(200, {"values": {}})


def _iso(stamp: str | None) -> str | None:
    """``2026-03-31 18:14:56`` (a job's StartTimeUtc) -> ``2026-03-31T18:14:56Z`` (run history's form)."""
    return f"{stamp.replace(' ', 'T')}Z" if stamp else None

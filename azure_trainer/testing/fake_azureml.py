"""``FakeAzureML``: an in-process Azure ML (ARM + data plane + blob storage) behind an azure-core transport.

Usage::

    fake = FakeAzureML()
    ml_client = fake.ml_client()            # == MLClient(FakeCredential(), sub, rg, ws, transport=fake)
    with fake.patch_sdk():                  # route blob uploads/downloads through `fake`, no polling sleeps
        ml_client.jobs.create_or_update(job)
    assert fake.requests_matching("PUT", r"/jobs/") and not fake.unhandled

Everything the SDK sends goes through :meth:`FakeAzureML.send`; nothing touches the network. Requests nobody
serves are answered ``501`` with an explanatory Azure error body and recorded in
:attr:`FakeAzureML.unhandled`.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as _dt
import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from azure.core.pipeline.transport import HttpTransport
from requests.structures import CaseInsensitiveDict

from ._blobstore import FakeBlobStore
from ._http import FakeResponse, RecordedRequest, Router, build_azure_response
from .credentials import FakeCredential

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "rg-fake"
DEFAULT_WORKSPACE = "ws-fake"
DEFAULT_LOCATION = "eastus"
STORAGE_ACCOUNT = "fakestorageacct"
BLOB_CONTAINER = "azureml-blobstore-00000000-0000-0000-0000-000000000000"
ARTIFACT_CONTAINER = "azureml"
FAKE_ACCOUNT_KEY = base64.b64encode(b"fake-storage-account-key-0123456789").decode()

_MLS = r"/providers/Microsoft\.MachineLearningServices"
_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_WS = _SUB + r"/resourceGroups/(?P<rg>[^/]+)" + _MLS + r"/workspaces/(?P<ws>[^/]+)"
_REG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)" + _MLS + r"/registries/(?P<reg>[^/]+)"
_SEG = r"(?P<{}>[^/]+)"

# Real Azure specs (learn.microsoft.com/azure/virtual-machines/sizes):
# name -> (vCPUs, GPUs, memoryGB, quota family)
KNOWN_VM_SIZES: dict[str, tuple] = {
    "Standard_DS3_v2": (4, 0, 14.0, "standardDSv2Family"),
    "Standard_D4s_v3": (4, 0, 16.0, "standardDSv3Family"),
    "Standard_E4ds_v4": (4, 0, 32.0, "standardEDSv4Family"),
    "Standard_NC6s_v3": (6, 1, 112.0, "standardNCSv3Family"),
    "Standard_NC4as_T4_v3": (4, 1, 28.0, "standardNCASv3_T4Family"),
    "Standard_NC24ads_A100_v4": (24, 1, 220.0, "standardNCADSA100v4Family"),
    "Standard_NC48ads_A100_v4": (48, 2, 440.0, "standardNCADSA100v4Family"),
    "Standard_NC40ads_H100_v5": (40, 1, 320.0, "standardNCADSH100v5Family"),
    "Standard_NC80adis_H100_v5": (80, 2, 640.0, "standardNCADSH100v5Family"),
    "Standard_ND96asr_v4": (96, 8, 900.0, "standardNDASv4_A100Family"),
    "Standard_ND96isr_H100_v5": (96, 8, 1900.0, "standardNDSH100v5Family"),
}

TERMINAL = {"Completed", "Failed", "Canceled", "NotResponding", "Paused"}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _system_data() -> dict[str, Any]:
    t = _now()
    return {
        "createdAt": t,
        "createdBy": "Fake User",
        "createdByType": "User",
        "lastModifiedAt": t,
        "lastModifiedBy": "Fake User",
        "lastModifiedByType": "User",
    }


def azure_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> FakeResponse:
    """An ARM-style error response (``{"error": {"code", "message", ...}}``)."""
    return FakeResponse(
        status,
        {"error": {"code": code, "message": message, "details": [], "additionalInfo": []}},
        {"x-ms-failure-cause": "service", **(headers or {})},
    )


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    headers: dict[str, str]
    body: Any


class FakeAzureML(HttpTransport):
    """An azure-core ``HttpTransport`` that *is* an Azure ML workspace (plus its blob storage and the
    ``azureml`` registry), in memory.

    State you can inspect / seed:

    * :attr:`requests` – every :class:`RecordedRequest` (method, url, headers, body, json, status).
    * :attr:`unhandled` – requests no route served (answered 501); assert it is empty.
    * :attr:`jobs` – job name -> ARM job resource dict (as the service would return it).
    * :attr:`computes`, :attr:`environments`, :attr:`registry_environments`, :attr:`codes`,
      :attr:`vm_sizes`, :attr:`usages`, :attr:`datastores`, :attr:`blobs` (a :class:`FakeBlobStore`).
    * :attr:`sleeps` – durations azure-core asked the transport to sleep (retry backoff, LRO polling).
      They are recorded, not slept, so retries and pollers are instant.
    """

    def __init__(
        self,
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        resource_group: str = DEFAULT_RESOURCE_GROUP,
        workspace_name: str = DEFAULT_WORKSPACE,
        location: str = DEFAULT_LOCATION,
        *,
        defaults: bool = True,
        initial_job_status: str = "Queued",
        real_sleep: bool = False,
    ) -> None:
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace_name = workspace_name
        self.location = location
        self.workspace_id = str(uuid.UUID(int=0x1234))
        self.initial_job_status = initial_job_status
        self.real_sleep = real_sleep

        self.requests: list[RecordedRequest] = []
        self.unhandled: list[RecordedRequest] = []
        self.sleeps: list[float] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.computes: dict[str, dict[str, Any]] = {}
        self.environments: dict[str, dict[str, dict[str, Any]]] = {}  # name -> version -> resource
        self.registry_environments: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}  # reg -> name -> ver
        self.codes: dict[str, dict[str, dict[str, Any]]] = {}  # name -> version -> resource
        self.datastores: dict[str, dict[str, Any]] = {}
        self.vm_sizes: dict[str, dict[str, Any]] = {}
        self.usages: dict[str, dict[str, Any]] = {}
        self.blobs = FakeBlobStore()
        self.job_logs: dict[str, dict[str, str]] = {}
        self._status_script: dict[str, list[str]] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._router = Router()
        self._install_routes()

        self.add_datastore("workspaceblobstore", BLOB_CONTAINER, default=True)
        self.add_datastore("workspaceartifactstore", ARTIFACT_CONTAINER)
        if defaults:
            for name, (vcpus, gpus, mem, family) in KNOWN_VM_SIZES.items():
                self.add_vm_size(name, gpus=gpus, vcpus=vcpus, family=family, memory_gb=mem)
            self.set_usage("standardDSv2Family", 8, 100)
            self.set_usage("standardNCADSA100v4Family", 0, 48)
            self.set_usage("standardNCADSH100v5Family", 0, 40)
            self.set_usage("standardNCSv3Family", 0, 0)
            self.add_compute("gpu-cluster", "Standard_NC24ads_A100_v4", max_nodes=2)
            self.add_compute("cpu-cluster", "Standard_DS3_v2", max_nodes=4)
            self.add_environment(
                "acpt-pytorch-2.2-cuda12.1",
                version="23",
                image="mcr.microsoft.com/azureml/curated/acpt-pytorch-2.2-cuda12.1:23",
                registry="azureml",
                description="Azure Container for PyTorch (ACPT) with PyTorch 2.2 and CUDA 12.1",
            )
            self.add_environment(
                "pytorch-cpu",
                version="1",
                image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
                conda_file={
                    "name": "pytorch-cpu",
                    "channels": ["conda-forge"],
                    "dependencies": ["python=3.11", "pip", {"pip": ["torch==2.2.2", "numpy"]}],
                },
            )

    # =========================================================================================
    # HttpTransport
    # =========================================================================================
    def __enter__(self) -> FakeAzureML:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def sleep(self, duration: float) -> None:  # azure-core retry/polling sleeps go through the transport
        self.sleeps.append(duration)
        if self.real_sleep:
            super().sleep(duration)

    def send(self, request: Any, **kwargs: Any):
        body = _request_body(request)
        rec = RecordedRequest(
            method=request.method.upper(),
            url=request.url,
            headers=CaseInsensitiveDict(dict(request.headers)),
            body=body,
        )
        try:
            rec.json = json.loads(body) if body and body[:1] in (b"{", b"[") else None
        except ValueError:
            rec.json = None
        with self._lock:
            self.requests.append(rec)
            resp = self._injected_failure(rec) or self._dispatch(rec)
            rec.status = resp.status
        return build_azure_response(request, resp, stream=bool(kwargs.get("stream")))

    # =========================================================================================
    # test API
    # =========================================================================================
    def ml_client(self, *, registry_name: str | None = None, credential: Any = None, **kwargs: Any):
        """The real ``azure.ai.ml.MLClient`` wired to this fake (``transport=self``)."""
        from azure.ai.ml import MLClient

        if registry_name:
            return MLClient(
                credential or FakeCredential(), registry_name=registry_name, transport=self, **kwargs
            )
        return MLClient(
            credential or FakeCredential(),
            self.subscription_id,
            self.resource_group,
            self.workspace_name,
            transport=self,
            **kwargs,
        )

    @contextlib.contextmanager
    def patch_sdk(self) -> Iterator[FakeAzureML]:
        """Route what azure-ai-ml does *not* send through ``transport=`` into this fake, for the duration.

        1. Blob storage: ``azure.ai.ml._artifacts._blob_storage_helper`` builds its ``BlobServiceClient`` /
           ``ContainerClient`` without forwarding the MLClient's kwargs, so code uploads and log/output
           downloads would hit ``<account>.blob.core.windows.net``. We swap those two names, in that module
           only, for factories that add ``transport=self`` (azure-storage-blob's documented kwarg).
        2. ``jobs.stream`` sleeps with ``time.sleep`` between polls (min 2 s,
           ``AZUREML_RUN_POLLING_INTERVAL_MIN``, read at import time); we set the min/max to 0.
        """
        from azure.ai.ml._artifacts import _blob_storage_helper as bsh
        from azure.ai.ml.operations._run_history_constants import RunHistoryConstants
        from azure.storage.blob import BlobServiceClient, ContainerClient

        fake = self

        class _BSC(BlobServiceClient):
            def __init__(self, *a: Any, **kw: Any) -> None:
                kw.setdefault("transport", fake)
                super().__init__(*a, **kw)

        class _CC(ContainerClient):
            def __init__(self, *a: Any, **kw: Any) -> None:
                kw.setdefault("transport", fake)
                super().__init__(*a, **kw)

        saved = (
            bsh.BlobServiceClient,
            bsh.ContainerClient,
            RunHistoryConstants._WAIT_COMPLETION_POLLING_INTERVAL_MIN,
            RunHistoryConstants._WAIT_COMPLETION_POLLING_INTERVAL_MAX,
        )
        bsh.BlobServiceClient, bsh.ContainerClient = _BSC, _CC
        RunHistoryConstants._WAIT_COMPLETION_POLLING_INTERVAL_MIN = 0
        RunHistoryConstants._WAIT_COMPLETION_POLLING_INTERVAL_MAX = 0
        try:
            yield self
        finally:
            (
                bsh.BlobServiceClient,
                bsh.ContainerClient,
                RunHistoryConstants._WAIT_COMPLETION_POLLING_INTERVAL_MIN,
                RunHistoryConstants._WAIT_COMPLETION_POLLING_INTERVAL_MAX,
            ) = saved

    def requests_matching(self, method: str | None = None, url_regex: str = "") -> list[RecordedRequest]:
        """Recorded requests whose method equals ``method`` (any if None) and whose URL matches ``url_regex``
        (``re.search``)."""
        rx = re.compile(url_regex)
        return [
            r for r in self.requests if (method is None or r.method == method.upper()) and rx.search(r.url)
        ]

    def fail_next(
        self,
        method: str,
        url_regex: str,
        status: int = 503,
        times: int = 1,
        *,
        retry_after: float | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching (method, url_regex) with ``status`` (an ARM error
        body unless ``body`` is given), before they reach the fake's state. ``retry_after`` adds a
        ``Retry-After`` header (azure-core honours it; the sleep is recorded in :attr:`sleeps`)."""
        h = dict(headers or {})
        if retry_after is not None:
            h["Retry-After"] = str(retry_after)
        self._failures.append(_Failure(method.upper(), re.compile(url_regex), status, times, h, body))

    # ---- seeding ----------------------------------------------------------------------------
    @property
    def _rg_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    @property
    def workspace_arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}"
        )

    def add_vm_size(
        self, name: str, gpus: int = 0, vcpus: int = 4, family: str | None = None, memory_gb: float = 16.0
    ) -> dict[str, Any]:
        family = family or ("standard" + re.sub(r"^Standard_|_", "", name) + "Family")
        self.vm_sizes[name] = {
            "name": name,
            "family": family,
            "vCPUs": vcpus,
            "gpus": gpus,
            "osVhdSizeMB": 1047552,
            "maxResourceVolumeMB": 65536 if gpus == 0 else 1474560,
            "memoryGB": memory_gb,
            "lowPriorityCapable": True,
            "premiumIO": True,
            "supportedComputeTypes": ["ComputeInstance", "AmlCompute"],
        }
        return self.vm_sizes[name]

    def set_usage(self, family: str, current: int, limit: int, *, unit: str = "Count") -> None:
        self.usages[family] = {
            "id": f"/subscriptions/{self.subscription_id}/providers/Microsoft.MachineLearningServices"
            f"/locations/{self.location}/usages/{family}",
            "amlWorkspaceLocation": self.location,
            "type": "Microsoft.MachineLearningServices/vmFamily/usages",
            "unit": unit,
            "currentValue": current,
            "limit": limit,
            "name": {"value": family, "localizedValue": _localized_family(family)},
        }

    def add_compute(
        self,
        name: str,
        vm_size: str,
        max_nodes: int = 4,
        min_nodes: int = 0,
        *,
        priority: str = "Dedicated",
        idle_seconds: int = 1800,
        state: str = "Succeeded",
        current_nodes: int = 0,
    ) -> dict[str, Any]:
        res = {
            "id": f"{self.workspace_arm_id}/computes/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/computes",
            "location": self.location,
            "tags": {},
            "identity": {"type": "None"},
            "systemData": _system_data(),
            "properties": {
                "computeType": "AmlCompute",
                "computeLocation": self.location,
                "provisioningState": state,
                "description": None,
                "createdOn": _now(),
                "modifiedOn": _now(),
                "isAttachedCompute": False,
                "disableLocalAuth": True,
                "properties": {
                    "osType": "Linux",
                    "vmSize": vm_size.upper(),  # the service upper-cases vm sizes
                    "vmPriority": priority,
                    "isolatedNetwork": False,
                    "scaleSettings": {
                        "maxNodeCount": max_nodes,
                        "minNodeCount": min_nodes,
                        "nodeIdleTimeBeforeScaleDown": f"PT{idle_seconds}S",
                    },
                    "remoteLoginPortPublicAccess": "Disabled",
                    "allocationState": "Steady",
                    "allocationStateTransitionTime": _now(),
                    "errors": None,
                    "currentNodeCount": current_nodes,
                    "targetNodeCount": current_nodes,
                    "nodeStateCounts": {
                        "idleNodeCount": current_nodes,
                        "runningNodeCount": 0,
                        "preparingNodeCount": 0,
                        "unusableNodeCount": 0,
                        "leavingNodeCount": 0,
                        "preemptedNodeCount": 0,
                    },
                    "enableNodePublicIp": True,
                },
            },
        }
        self.computes[name] = res
        return res

    def add_environment(
        self,
        name: str,
        version: str = "1",
        *,
        image: str | None = None,
        conda_file: None | str | dict[str, Any] = None,
        registry: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A workspace environment version, or (``registry="azureml"``) a registry one."""
        if isinstance(conda_file, dict):
            import yaml  # azure-ai-ml depends on PyYAML

            conda_file = yaml.safe_dump(conda_file, sort_keys=False)
        if registry:
            rid = f"azureml://registries/{registry}/environments/{name}/versions/{version}"
        else:
            rid = f"{self.workspace_arm_id}/environments/{name}/versions/{version}"
        res = {
            "id": rid,
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/environments/versions"
            if not registry
            else "Microsoft.MachineLearningServices/registries/environments/versions",
            "systemData": _system_data(),
            "properties": {
                "description": description,
                "tags": dict(tags or {}),
                "properties": {},
                "isArchived": False,
                "isAnonymous": False,
                "environmentType": "Curated" if registry else "UserCreated",
                "image": image,
                "condaFile": conda_file,
                "osType": "Linux",
                "autoRebuild": "Disabled",
                "provisioningState": "Succeeded",
            },
        }
        if registry:
            self.registry_environments.setdefault(registry, {}).setdefault(name, {})[version] = res
        else:
            self.environments.setdefault(name, {})[version] = res
        return res

    def add_datastore(
        self, name: str, container: str, *, default: bool = False, account: str = STORAGE_ACCOUNT
    ) -> None:
        if default:
            for ds in self.datastores.values():
                ds["properties"]["isDefault"] = False
        self.datastores[name] = {
            "id": f"{self.workspace_arm_id}/datastores/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/datastores",
            "systemData": _system_data(),
            "properties": {
                "description": None,
                "tags": {},
                "properties": {},
                "isDefault": default,
                "credentials": {"credentialsType": "AccountKey"},
                "datastoreType": "AzureBlob",
                "accountName": account,
                "containerName": container,
                "endpoint": "core.windows.net",
                "protocol": "https",
                "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
            },
        }

    # ---- jobs -------------------------------------------------------------------------------
    def set_job_status(self, name: str, status: str) -> None:
        """Set a job's status now (``Queued``, ``Running``, ``Completed``, ``Failed``, ``Canceled`` ...)."""
        job = self.jobs[name]
        job["properties"]["status"] = status
        if status in TERMINAL:
            self._status_script.pop(name, None)

    def script_job_status(self, name: str, *statuses: str) -> None:
        """Each subsequent GET of the job (ARM ``jobs/{name}`` or run history) advances to the next status.
        E.g. ``script_job_status("j", "Running", "Running", "Completed")``."""
        self._status_script[name] = list(statuses)

    def add_job_log(self, name: str, text: str, file: str = "user_logs/std_log.txt") -> None:
        """Put a log file where the service writes them (``azureml`` artifact container,
        ``ExperimentRun/dcid.<job>/<file>``). ``jobs.stream`` prints it, ``jobs.download`` saves it."""
        self.job_logs.setdefault(name, {})[file] = text
        self.blobs.put(STORAGE_ACCOUNT, ARTIFACT_CONTAINER, f"ExperimentRun/dcid.{name}/{file}", text)

    def add_job_output_file(self, name: str, relpath: str, data: bytes | str) -> None:
        """A file in the job's default artifact store (``outputs/model.pt`` ...), for ``jobs.download``."""
        self.blobs.put(STORAGE_ACCOUNT, ARTIFACT_CONTAINER, f"ExperimentRun/dcid.{name}/{relpath}", data)

    def job_body(self, name: str) -> dict[str, Any] | None:
        """The body of the last PUT for job ``name`` as the SDK sent it."""
        puts = [r for r in self.requests_matching("PUT", rf"/jobs/{re.escape(name)}\?") if r.status < 300]
        return puts[-1].json if puts else None

    # =========================================================================================
    # dispatch
    # =========================================================================================
    def _injected_failure(self, rec: RecordedRequest) -> FakeResponse | None:
        for f in self._failures:
            if f.remaining > 0 and (f.method in ("*", rec.method)) and f.pattern.search(rec.url):
                f.remaining -= 1
                code = {429: "TooManyRequests", 503: "ServiceUnavailable", 500: "InternalServerError"}.get(
                    f.status, "InjectedFailure"
                )
                if f.body is not None:
                    return FakeResponse(f.status, f.body, dict(f.headers))
                return azure_error(
                    f.status, code, f"Injected failure {f.status} by FakeAzureML.fail_next", f.headers
                )
        return None

    def _dispatch(self, rec: RecordedRequest) -> FakeResponse:
        host = rec.host.lower()
        blob_host = re.match(r"^([a-z0-9]+)\.blob\.core\.windows\.net$", host)
        if blob_host:
            resp = self.blobs.handle(rec, blob_host.group(1))
            if resp.status == 501:
                self.unhandled.append(rec)
            return resp
        handler, params = self._router.match(rec.method, host, unquote(rec.path))
        if handler is None:
            self.unhandled.append(rec)
            return azure_error(
                501,
                "FakeAzureMLNotImplemented",
                f"FakeAzureML has no route for {rec.method} {rec.url}. "
                "Add one in azure_trainer/testing/fake_azureml.py",
            )
        return handler(rec, **params)

    def _install_routes(self) -> None:
        add = self._router.add
        seg = _SEG.format
        # -- ARM / MFE (management.azure.com) --
        add("GET", _WS, self._get_workspace)
        add("GET", _WS + "/computes", self._list_computes)
        add("GET", _WS + "/computes/" + seg("name"), self._get_compute)
        add("GET", _SUB + _MLS + "/locations/" + seg("loc") + "/vmSizes", self._list_vm_sizes)
        add("GET", _SUB + _MLS + "/locations/" + seg("loc") + "/usages", self._list_usages)
        add("GET", _WS + "/environments/" + seg("name") + "/versions", self._list_env_versions)
        add(
            "GET", _WS + "/environments/" + seg("name") + "/versions/" + seg("version"), self._get_env_version
        )
        add(
            "PUT", _WS + "/environments/" + seg("name") + "/versions/" + seg("version"), self._put_env_version
        )
        add("GET", _WS + "/datastores", self._list_datastores)
        add("GET", _WS + "/datastores/" + seg("name"), self._get_datastore)
        add("POST", _WS + "/datastores/" + seg("name") + "/listSecrets", self._list_secrets)
        add("GET", _WS + "/codes/" + seg("name") + "/versions", self._list_code_versions)
        add("GET", _WS + "/codes/" + seg("name") + "/versions/" + seg("version"), self._get_code_version)
        add("PUT", _WS + "/codes/" + seg("name") + "/versions/" + seg("version"), self._put_code_version)
        add(
            "POST",
            _WS + "/codes/" + seg("name") + "/versions/" + seg("version") + "/startPendingUpload",
            self._start_pending_upload,
        )
        add("GET", _WS + "/jobs", self._list_jobs)
        add("GET", _WS + "/jobs/" + seg("name"), self._get_job)
        add("PUT", _WS + "/jobs/" + seg("name"), self._put_job)
        add("POST", _WS + "/jobs/" + seg("name") + "/cancel", self._cancel_job)
        add(
            "GET",
            _SUB + _MLS + "/locations/" + seg("loc") + "/mfeOperationResults/" + seg("op"),
            self._op_result,
        )
        add(
            "GET",
            _SUB + _MLS + "/locations/" + seg("loc") + "/mfeOperationsStatus/" + seg("op"),
            self._op_status,
        )
        # -- registry discovery + registry MFE (data plane) --
        add(
            "GET",
            r"/registrymanagement/v1\.0/registries/" + seg("reg") + "/discovery",
            self._registry_discovery,
        )
        add(
            "GET",
            r"/mferp/managementfrontend" + _REG + "/environments/" + seg("name") + "/versions",
            self._list_registry_env_versions,
        )
        add(
            "GET",
            r"/mferp/managementfrontend"
            + _REG
            + "/environments/"
            + seg("name")
            + "/versions/"
            + seg("version"),
            self._get_registry_env_version,
        )
        # -- workspace discovery + run history (<region>.api.azureml.ms) --
        add("GET", r"/discovery", self._discovery)
        add("GET", r"/discovery/workspaces/" + seg("wsid"), self._discovery)
        add("GET", r"/history/v1\.0" + _WS + "/runs/" + seg("run") + "/details", self._run_details)
        add("GET", r"/history/v1\.0" + _WS + "/runs/" + seg("run"), self._get_run)
        add("POST", r"/history/v1\.0" + _WS + "/rundata", self._run_data)
        add("GET", r"/history/v1\.0" + _WS + "/runs/" + seg("run") + "/children", self._run_children)
        add(
            "POST",
            r"/history/v1\.0" + _WS + "/experiments/" + seg("exp") + "/runs/" + seg("run"),
            self._patch_run,
        )
        add(
            "PATCH",
            r"/history/v1\.0" + _WS + "/experiments/" + seg("exp") + "/runs/" + seg("run"),
            self._patch_run,
        )
        add("POST", r"/dataset/v1\.0" + _WS + "/data/queryById", self._dataset_query)
        add("POST", r"/dataset/v1\.0" + _WS + "/dataversion/batchGetResolvedURIs", self._dataset_query)
        add("POST", r"/modelmanagement/v1\.0" + _WS + "/models/batchGetResolvedURIs", self._dataset_query)

    # =========================================================================================
    # handlers
    # =========================================================================================
    def _check_scope(self, sub: str, rg: str, ws: str, kind: str) -> FakeResponse | None:
        if sub != self.subscription_id:
            return azure_error(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        if rg.lower() != self.resource_group.lower():
            return azure_error(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        if ws.lower() != self.workspace_name.lower():
            return azure_error(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.MachineLearningServices/workspaces/{ws}' "
                f"under resource group '{rg}' "
                "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return None

    def _get_workspace(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        err = self._check_scope(sub, rg, ws, "workspace")
        if err:
            return err
        loc = self.location
        arm = self.workspace_arm_id
        return FakeResponse(
            200,
            {
                "id": arm,
                "name": self.workspace_name,
                "type": "Microsoft.MachineLearningServices/workspaces",
                "location": loc,
                "kind": "Default",
                "tags": {},
                "sku": {"name": "Basic", "tier": "Basic"},
                "identity": {
                    "type": "SystemAssigned",
                    "principalId": str(uuid.UUID(int=1)),
                    "tenantId": str(uuid.UUID(int=2)),
                },
                "systemData": _system_data(),
                "properties": {
                    "friendlyName": self.workspace_name,
                    "description": "FakeAzureML workspace",
                    "workspaceId": self.workspace_id,
                    "storageAccount": f"{self._rg_id}"
                    f"/providers/Microsoft.Storage/storageAccounts/{STORAGE_ACCOUNT}",
                    "keyVault": f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                    "/providers/Microsoft.KeyVault/vaults/fakekeyvault",
                    "applicationInsights": f"{self._rg_id}"
                    "/providers/Microsoft.insights/components/fakeappinsights",
                    "discoveryUrl": f"https://{loc}.api.azureml.ms/discovery",
                    "mlFlowTrackingUri": f"azureml://{loc}.api.azureml.ms/mlflow/v1.0{arm}",
                    "provisioningState": "Succeeded",
                    "hbiWorkspace": False,
                    "publicNetworkAccess": "Enabled",
                    "v1LegacyMode": False,
                    "enableDataIsolation": False,
                    "storageHnsEnabled": False,
                    "managedNetwork": {"isolationMode": "Disabled", "outboundRules": {}},
                    "workspaceHubConfig": None,
                },
            },
        )

    def _list_computes(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        return self._check_scope(sub, rg, ws, "") or FakeResponse(
            200, {"value": list(self.computes.values())}
        )

    def _get_compute(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        err = self._check_scope(sub, rg, ws, "")
        if err:
            return err
        if name not in self.computes:
            return azure_error(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.MachineLearningServices/workspaces/{ws}/computes/{name}' "
                "under resource "
                f"group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return FakeResponse(200, self.computes[name])

    def _list_vm_sizes(self, rec: RecordedRequest, sub: str, loc: str) -> FakeResponse:
        return FakeResponse(200, {"value": list(self.vm_sizes.values())})

    def _list_usages(self, rec: RecordedRequest, sub: str, loc: str) -> FakeResponse:
        return FakeResponse(200, {"value": list(self.usages.values()), "nextLink": None})

    # -- environments --
    def _env_404(self, name: str, version: str, where: str) -> FakeResponse:
        return azure_error(
            404,
            "UserError",
            f"Could not find asset with ID: {where}/environments/{name}/versions/{version}",
            {"x-ms-failure-cause": "user"},
        )

    def _list_env_versions(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        versions = self.environments.get(name, {})
        return FakeResponse(200, {"value": _order_versions(versions, rec), "nextLink": None})

    def _get_env_version(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str, version: str
    ) -> FakeResponse:
        res = self.environments.get(name, {}).get(version)
        return FakeResponse(200, res) if res else self._env_404(name, version, self.workspace_arm_id)

    def _put_env_version(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str, version: str
    ) -> FakeResponse:
        props = (rec.json or {}).get("properties", {})
        res = self.add_environment(
            name,
            version,
            image=props.get("image"),
            conda_file=props.get("condaFile"),
            description=props.get("description") or "",
            tags=props.get("tags"),
        )
        return FakeResponse(201, res)

    def _registry_discovery(self, rec: RecordedRequest, reg: str) -> FakeResponse:
        loc = self.location
        return FakeResponse(
            200,
            {
                "registryName": reg,
                "primaryRegion": loc,
                "regions": [loc],
                "subscriptionId": self.subscription_id,
                "resourceGroup": f"registry-{reg}-rg",
                "primaryRegionResourceProviderUri": f"https://cert-{loc}.experiments.azureml.net/",
                "registryFqdns": {loc: {"api": f"https://{loc}.api.azureml.ms"}},
                "registryId": str(uuid.UUID(int=0xABC)),
            },
        )

    def _list_registry_env_versions(
        self, rec: RecordedRequest, sub: str, rg: str, reg: str, name: str
    ) -> FakeResponse:
        versions = self.registry_environments.get(reg, {}).get(name, {})
        return FakeResponse(200, {"value": _order_versions(versions, rec), "nextLink": None})

    def _get_registry_env_version(
        self, rec: RecordedRequest, sub: str, rg: str, reg: str, name: str, version: str
    ) -> FakeResponse:
        res = self.registry_environments.get(reg, {}).get(name, {}).get(version)
        return FakeResponse(200, res) if res else self._env_404(name, version, f"azureml://registries/{reg}")

    # -- datastores --
    def _list_datastores(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        vals = list(self.datastores.values())
        if rec.query.get("isDefault", "").lower() == "true":
            vals = [d for d in vals if d["properties"]["isDefault"]]
        return FakeResponse(200, {"value": vals, "nextLink": None})

    def _get_datastore(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        if name not in self.datastores:
            return azure_error(404, "UserError", f"Datastore {name} not found in workspace {ws}.")
        return FakeResponse(200, self.datastores[name])

    def _list_secrets(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        return FakeResponse(200, {"secretsType": "AccountKey", "key": FAKE_ACCOUNT_KEY})

    # -- code assets --
    def _list_code_versions(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str
    ) -> FakeResponse:
        h = rec.query.get("hash")
        if h:
            # The service dedupes snapshots by content hash across *all* code assets (the SDK names anonymous
            # code with a fresh uuid and parses name/version back from the returned id).
            versions = [
                v
                for by_ver in self.codes.values()
                for v in by_ver.values()
                if str(v["properties"].get("properties", {}).get("hash_sha256")) == h
            ]
        else:
            versions = list(self.codes.get(name, {}).values())
        return FakeResponse(200, {"value": versions, "nextLink": None})

    def _get_code_version(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str, version: str
    ) -> FakeResponse:
        res = self.codes.get(name, {}).get(version)
        if not res:
            return azure_error(
                404,
                "UserError",
                f"Could not find asset with ID: {self.workspace_arm_id}/codes/{name}/versions/{version}",
            )
        return FakeResponse(200, res)

    def _put_code_version(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str, version: str
    ) -> FakeResponse:
        body = copy.deepcopy(rec.json or {})
        props = body.setdefault("properties", {})
        props.setdefault("isAnonymous", False)
        props.setdefault("isArchived", False)
        props["provisioningState"] = "Succeeded"
        res = {
            "id": f"{self.workspace_arm_id}/codes/{name}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/codes/versions",
            "systemData": _system_data(),
            "properties": props,
        }
        existed = version in self.codes.get(name, {})
        self.codes.setdefault(name, {})[version] = res
        return FakeResponse(200 if existed else 201, res)

    def _start_pending_upload(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str, version: str
    ) -> FakeResponse:
        upload_id = uuid.uuid4().hex
        # a fresh container per upload with a container SAS, as the service does
        blob_uri = f"https://{STORAGE_ACCOUNT}.blob.core.windows.net/{upload_id}"
        sas = "sv=2021-10-04&se=2099-01-01T00%3A00%3A00Z&sr=c&sp=rcwl&sig=ZmFrZQ%3D%3D"
        return FakeResponse(
            200,
            {
                "pendingUploadId": upload_id,
                "pendingUploadType": "TemporaryBlobReference",
                "blobReferenceForConsumption": {
                    "blobUri": blob_uri,
                    "storageAccountArmId": f"{self._rg_id}"
                    f"/providers/Microsoft.Storage/storageAccounts/{STORAGE_ACCOUNT}",
                    "credential": {"credentialType": "SAS", "sasUri": f"{blob_uri}?{sas}"},
                },
            },
        )

    # -- jobs --
    def _advance(self, name: str) -> None:
        script = self._status_script.get(name)
        if script:
            self.set_job_status(name, script.pop(0))

    def _job_404(self, name: str) -> FakeResponse:
        return azure_error(
            404,
            "UserError",
            f"The specified resource was not found: {self.workspace_arm_id}/jobs/{name}",
            {"x-ms-failure-cause": "user"},
        )

    def _put_job(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        err = self._check_scope(sub, rg, ws, "")
        if err:
            return err
        body = copy.deepcopy(rec.json or {})
        props = body.setdefault("properties", {})
        compute_id = props.get("computeId")
        if compute_id:
            cname = compute_id.rstrip("/").split("/")[-1]
            if cname not in self.computes:
                return azure_error(
                    400,
                    "UserError",
                    f"Compute '{cname}' not found in workspace '{self.workspace_name}'.",
                    {"x-ms-failure-cause": "user"},
                )
        existed = name in self.jobs
        if existed and self.jobs[name]["properties"].get("status") not in TERMINAL:
            # the real service only lets you patch a few fields of a live job; we just keep the status
            status = self.jobs[name]["properties"]["status"]
        else:
            status = self.initial_job_status
        loc = self.location
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
        props["services"] = {
            "Tracking": {
                "jobServiceType": "Tracking",
                "endpoint": f"azureml://{loc}.api.azureml.ms/mlflow/v1.0{self.workspace_arm_id}?",
                "status": None,
                "errorMessage": None,
                "properties": None,
                "nodes": None,
                "port": None,
            },
            "Studio": {
                "jobServiceType": "Studio",
                "endpoint": f"https://ml.azure.com/runs/{name}?wsid={self.workspace_arm_id}&tid={uuid.UUID(int=2)}",
                "status": None,
                "errorMessage": None,
                "properties": None,
                "nodes": None,
                "port": None,
            },
        }
        res = {
            "id": f"{self.workspace_arm_id}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "systemData": _system_data(),
            "properties": props,
        }
        self.jobs[name] = res
        return FakeResponse(200 if existed else 201, res)

    def _get_job(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        err = self._check_scope(sub, rg, ws, "")
        if err:
            return err
        if name not in self.jobs:
            return self._job_404(name)
        self._advance(name)
        return FakeResponse(200, self.jobs[name])

    def _list_jobs(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        jobs = list(self.jobs.values())
        q = rec.query
        view = q.get("listViewType", "ActiveOnly")
        if view == "ActiveOnly":
            jobs = [j for j in jobs if not j["properties"].get("isArchived")]
        elif view == "ArchivedOnly":
            jobs = [j for j in jobs if j["properties"].get("isArchived")]
        if q.get("experimentName"):
            jobs = [j for j in jobs if j["properties"].get("experimentName") == q["experimentName"]]
        if q.get("jobType"):
            jobs = [j for j in jobs if j["properties"].get("jobType", "").lower() == q["jobType"].lower()]
        if q.get("tag"):
            jobs = [j for j in jobs if q["tag"] in (j["properties"].get("tags") or {})]
        return FakeResponse(200, {"value": list(reversed(jobs)), "nextLink": None})

    def _cancel_job(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        if name not in self.jobs:
            return self._job_404(name)
        status = self.jobs[name]["properties"]["status"]
        if status in TERMINAL:
            return azure_error(
                400,
                "UserError",
                f"Cannot cancel job {name} in terminal state {status}.",
                {"x-ms-failure-cause": "user"},
            )
        self.set_job_status(name, "CancelRequested")
        op = f"jc:{self.workspace_id}:{name}"
        base = (
            f"https://management.azure.com/subscriptions/{self.subscription_id}/providers/"
            f"Microsoft.MachineLearningServices/locations/{self.location}"
        )
        api = rec.query.get("api-version", "2023-04-01-preview")
        return FakeResponse(
            202,
            None,
            {
                "Location": f"{base}/mfeOperationResults/{op}?api-version={api}",
                "Azure-AsyncOperation": f"{base}/mfeOperationsStatus/{op}?api-version={api}",
                "Retry-After": "1",
            },
        )

    def _finish_cancel(self, op: str) -> None:
        name = op.rsplit(":", 1)[-1]
        if name in self.jobs and self.jobs[name]["properties"]["status"] == "CancelRequested":
            self.set_job_status(name, "Canceled")

    def _op_result(self, rec: RecordedRequest, sub: str, loc: str, op: str) -> FakeResponse:
        self._finish_cancel(op)
        return FakeResponse(200, None)

    def _op_status(self, rec: RecordedRequest, sub: str, loc: str, op: str) -> FakeResponse:
        self._finish_cancel(op)
        return FakeResponse(
            200, {"id": rec.path, "name": op, "status": "Succeeded", "startTime": _now(), "endTime": _now()}
        )

    # -- discovery / run history --
    def _discovery(self, rec: RecordedRequest, **_: str) -> FakeResponse:
        api = f"https://{self.location}.api.azureml.ms"
        return FakeResponse(
            200,
            {
                "api": api,
                "catalog": api,
                "experimentation": api,
                "gallery": api,
                "history": api,
                "hyperdrive": api,
                "labeling": api,
                "modelmanagement": api,
                "pipelines": api,
                "studio": "https://ml.azure.com",
            },
        )

    def _run_dict(self, name: str) -> dict[str, Any]:
        job = self.jobs[name]
        p = job["properties"]
        return {
            "runId": name,
            "runUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "rootRunId": name,
            "experimentId": str(uuid.uuid5(uuid.NAMESPACE_URL, p.get("experimentName", "Default"))),
            "displayName": p.get("displayName"),
            "status": p.get("status"),
            "runType": "azureml.scriptrun",
            "target": (p.get("computeId") or "").split("/")[-1] or None,
            "tags": p.get("tags") or {},
            "properties": p.get("properties") or {},
            "createdUtc": job["systemData"]["createdAt"],
            "startTimeUtc": job["systemData"]["createdAt"],
            "endTimeUtc": job["systemData"]["lastModifiedAt"] if p.get("status") in TERMINAL else None,
            "error": None,
            "warnings": None,
            "hidden": False,
        }

    def _get_run(self, rec: RecordedRequest, sub: str, rg: str, ws: str, run: str) -> FakeResponse:
        if run not in self.jobs:
            return self._job_404(run)
        return FakeResponse(200, self._run_dict(run))

    def _run_details(self, rec: RecordedRequest, sub: str, rg: str, ws: str, run: str) -> FakeResponse:
        if run not in self.jobs:
            return self._job_404(run)
        self._advance(run)
        d = self._run_dict(run)
        d["logFiles"] = {
            f: f"https://{STORAGE_ACCOUNT}.blob.core.windows.net/{ARTIFACT_CONTAINER}/ExperimentRun/dcid.{run}/{f}?sv=fake"
            for f in self.job_logs.get(run, {})
        }
        d["services"] = {}
        d["revision"] = len(self.requests)
        return FakeResponse(200, d)

    def _run_data(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        run = (rec.json or {}).get("runId")
        if run not in self.jobs:
            return self._job_404(str(run))
        meta = self._run_dict(run)
        meta[
            "outputs"
        ] = {}  # named outputs are not modelled; `jobs.download` uses the ARM job's default output
        meta["inputs"] = {}
        return FakeResponse(200, {"runMetadata": meta, "runDefinition": None, "jobSpecification": None})

    def _run_children(self, rec: RecordedRequest, sub: str, rg: str, ws: str, run: str) -> FakeResponse:
        return FakeResponse(200, {"value": [], "continuationToken": None, "nextLink": None})

    def _patch_run(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, exp: str, run: str
    ) -> FakeResponse:
        return FakeResponse(200, {"runId": run})

    def _dataset_query(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        return FakeResponse(200, {"values": {}})


# ---------------------------------------------------------------------------------------------
def _request_body(request: Any) -> bytes:
    for attr in ("content", "body", "data"):
        val = getattr(request, attr, None)
        if val is None:
            continue
        if isinstance(val, bytes):
            return val
        if isinstance(val, str):
            return val.encode("utf-8")
        if hasattr(val, "read"):
            data = val.read()
            try:
                val.seek(0)
            except Exception:  # noqa: BLE001
                pass
            return data if isinstance(data, bytes) else str(data).encode()
        if isinstance(val, (bytearray, memoryview)):
            return bytes(val)
        if isinstance(val, (dict, list)):
            return json.dumps(val).encode()
        try:  # generators/iterables of chunks
            return b"".join(bytes(c) for c in val)
        except TypeError:
            continue
    return b""


def _order_versions(versions: dict[str, dict[str, Any]], rec: RecordedRequest) -> list[dict[str, Any]]:
    vals = list(versions.values())
    if "desc" in rec.query.get("$orderBy", rec.query.get("$orderby", "")).lower() or True:
        vals.sort(key=lambda r: (r["systemData"]["createdAt"], _vkey(r["name"])), reverse=True)
    top = rec.query.get("$top")
    return vals[: int(top)] if top else vals


def _vkey(v: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.\-]", v))


def _localized_family(family: str) -> str:
    core = family[len("standard") : -len("Family")] if family.startswith("standard") else family
    return f"Standard {core} Family Cluster Dedicated vCPUs"

"""``FakeAzureML``: one in-process Azure ML (ARM, registry, run history, blob storage) behind an azure-core
transport, for the *real* ``azure.ai.ml.MLClient``.

Usage::

    fake = FakeAzureML()
    ml_client = fake.ml_client()            # == MLClient(FakeCredential(), sub, rg, ws, transport=fake)
    with fake.patch_sdk():                  # route blob uploads/downloads through `fake`, no polling sleeps
        ml_client.jobs.create_or_update(job)
    assert fake.requests_matching("PUT", r"/jobs/") and not fake.unhandled

Everything the SDK sends goes through :meth:`FakeAzureML.send`; nothing touches the network. The fake is
split by resource: ``_state`` (what it holds), ``_compute`` (clusters, VM sizes, usages), ``_assets``
(workspace, environments, registries, datastores, code), ``_jobs``, ``_runs`` (run history),
``_mlflow`` (the tracking API a report reads), ``_blobstore``, ``_paging`` and ``_http`` (plumbing); this module routes requests to them and adds the test API
(seeding, failure injection, recorded requests). Requests nobody serves are answered ``501`` with an
explanatory Azure error body and recorded in :attr:`FakeAzureML.unhandled`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from azure.core.pipeline.transport import HttpTransport
from requests.structures import CaseInsensitiveDict

from ._assets import AssetService, datastore_body, environment_body
from ._blobstore import FakeBlobStore
from ._compute import (
    DEFAULT_QUOTA,
    KNOWN_VM_SIZES,
    ComputeService,
    aml_compute_body,
    compute_instance_body,
    kubernetes_compute_body,
    usage_body,
    usage_name,
    vm_size_body,
)
from ._http import FakeResponse, RecordedRequest, Router, azure_error, build_azure_response, request_body
from ._jobs import JobService
from ._mlflow import MlflowService
from ._runs import LOG_PREFIX, RunService
from ._state import (
    ARTIFACT_CONTAINER,
    BLOB_CONTAINER,
    DEFAULT_LOCATION,
    DEFAULT_RESOURCE_GROUP,
    DEFAULT_SUBSCRIPTION,
    DEFAULT_WORKSPACE,
    STORAGE_ACCOUNT,
    FakeState,
)
from ._store import FolderStore
from .credentials import FakeCredential

_MLS = r"/providers/Microsoft\.MachineLearningServices"
_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_WS = _SUB + r"/resourceGroups/(?P<rg>[^/]+)" + _MLS + r"/workspaces/(?P<ws>[^/]+)"
_REG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)" + _MLS + r"/registries/(?P<reg>[^/]+)"


def _segment(name: str) -> str:
    return f"(?P<{name}>[^/]+)"


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    headers: dict[str, str]
    body: Any
    error: BaseException | None = None
    after_dispatch: bool = False


def connection_reset() -> BaseException:
    """What azure-core's RequestsTransport raises when the server resets the connection mid-request:
    a ``ServiceResponseError`` around requests' ``('Connection aborted.', ConnectionResetError(...))``."""
    import requests
    from azure.core.exceptions import ServiceResponseError
    from urllib3.exceptions import ProtocolError

    err = requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    )
    return ServiceResponseError(err, error=err)


def host_unreachable(host: str) -> BaseException:
    """What azure-core's RequestsTransport raises when the host's name does not resolve: a
    ``ServiceRequestError`` (azure-core retries those for every method)."""
    import requests
    from azure.core.exceptions import ServiceRequestError
    from urllib3.exceptions import NewConnectionError

    err = requests.exceptions.ConnectionError(
        NewConnectionError(
            None,  # type: ignore[arg-type]
            f"HTTPSConnection(host='{host}', port=443): Failed to establish a new connection: "
            "[Errno -2] Name or service not known",
        )
    )
    return ServiceRequestError(err, error=err)


class FakeAzureML(HttpTransport):
    """An azure-core ``HttpTransport`` that *is* an Azure ML workspace (plus its blob storage and the
    ``azureml`` registry), in memory.

    State you can inspect / seed:

    * :attr:`requests` – every :class:`RecordedRequest` (method, url, headers, body, json, status).
    * :attr:`unhandled` – requests no route served (answered 501); assert it is empty.
    * :attr:`state` – the resources (:class:`FakeState`); :attr:`jobs`, :attr:`computes`, ... are its dicts.
    * :attr:`blobs` – the storage account (:class:`FakeBlobStore`).
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
        initial_job_status: str | None = None,
        real_sleep: bool = False,
        page_size: int = 20,
        store: FolderStore | None = None,
    ) -> None:
        """``initial_job_status`` overrides the status a new job answers with (by default what the
        api-version's published example says: ``NotStarted`` or ``Preparing``); ``page_size`` is how many
        items a list answers before its ``nextLink``. With ``store`` the fake lives in a folder (shared by
        processes: see :meth:`transaction`); one created there is seeded and saved, an existing one loaded."""
        self.state = FakeState(subscription_id, resource_group, workspace_name, location)
        self.store = store
        self.real_sleep = real_sleep
        self.requests: list[RecordedRequest] = []
        self.unhandled: list[RecordedRequest] = []
        self.sleeps: list[float] = []
        self.client_workspaces: list[Any] = []
        self.before_request: Any = None
        """``callback()`` run before each request is served, inside its transaction."""
        self.blobs = FakeBlobStore()
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self.page_size = page_size
        self._jobs = JobService(self.state, page_size, initial_job_status)
        self.mlflow = MlflowService(self.state)
        self._router = Router()
        self._install_routes()
        if store is not None and store.exists:
            with store.locked():
                store.load(self.state, self.blobs)
            return
        self.add_datastore("workspaceblobstore", BLOB_CONTAINER, default=True)
        self.add_datastore("workspaceartifactstore", ARTIFACT_CONTAINER)
        if defaults:
            self._add_defaults()
        if store is not None:
            with store.locked():
                store.create(self.state, self.blobs)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[FakeAzureML]:
        """Hold the fake for a change: with a store, its lock, the state reloaded first and saved after
        (what every request does; a simulated run does it too, to move its job along)."""
        with self._lock:
            if self.store is None:
                yield self
                return
            with self.store.locked():
                self.store.load(self.state, self.blobs)
                yield self
                self.store.save(self.state, self.blobs)

    @property
    def on_job_created(self) -> Any:
        """``callback(name)`` called when a job is created (inside the request's transaction)."""
        return self._jobs.on_created

    @on_job_created.setter
    def on_job_created(self, callback: Any) -> None:
        self._jobs.on_created = callback

    @property
    def on_job_cancel(self) -> Any:
        """``callback(name) -> bool`` called when a cancel is requested; True: the job stops by itself
        later (its status stays CancelRequested until then), False: the cancel completes at once."""
        return self._jobs.on_cancel

    @on_job_cancel.setter
    def on_job_cancel(self, callback: Any) -> None:
        self._jobs.on_cancel = callback

    @property
    def studio_url(self) -> Any:
        """``callback(name) -> str``: a new job's Studio link (default: ml.azure.com's)."""
        return self._jobs.studio_url

    @studio_url.setter
    def studio_url(self, callback: Any) -> None:
        self._jobs.studio_url = callback

    def _add_defaults(self) -> None:
        for name, (vcpus, gpus, mem, family, dedicated, low) in KNOWN_VM_SIZES.items():
            prices = {"Standard": dedicated, **({"LowPriority": low} if low is not None else {})}
            self.add_vm_size(name, gpus=gpus, vcpus=vcpus, family=family, memory_gb=mem, prices=prices)
        self.set_regional_usage("Dedicated", 8, 350)
        self.set_regional_usage("LowPriority", 0, 100)
        for family, (current, limit) in DEFAULT_QUOTA.items():
            self.set_usage(family, current, limit)
            self.set_usage(family, 0, -1, tier="LowPriority")
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

    # -- the resources, as the tests read them --
    subscription_id = property(lambda self: self.state.subscription_id)
    resource_group = property(lambda self: self.state.resource_group)
    workspace_name = property(lambda self: self.state.workspace_name)
    location = property(lambda self: self.state.location)
    workspace_id = property(lambda self: self.state.workspace_id)
    workspace_arm_id = property(lambda self: self.state.workspace_arm_id)
    jobs = property(lambda self: self.state.jobs)
    computes = property(lambda self: self.state.computes)
    environments = property(lambda self: self.state.environments)
    registry_environments = property(lambda self: self.state.registry_environments)
    codes = property(lambda self: self.state.codes)
    datastores = property(lambda self: self.state.datastores)
    vm_sizes = property(lambda self: self.state.vm_sizes)
    usages = property(lambda self: self.state.usages)

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
        body = request_body(request)
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
        with self.transaction():
            self.requests.append(rec)
            if self.before_request is not None:
                self.before_request()
            failure = self._matching_failure(rec)
            if failure is not None and failure.error is not None:
                if failure.after_dispatch:
                    rec.status = self._dispatch(rec).status  # stored by the server; the answer is lost
                raise failure.error
            resp = self._failure_response(failure) if failure is not None else self._dispatch(rec)
            rec.status, rec.response_headers = resp.status, dict(resp.headers)
            if isinstance(resp.body, (dict, list)):
                rec.response_json = copy.deepcopy(resp.body)
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
        """Route what azure-ai-ml does *not* send through ``transport=`` into this fake, for the duration:
        its blob clients (code upload, log and output download) and ``jobs.stream``'s polling sleeps
        (set to 0). Both go through :mod:`azure_trainer.azureml._sdk`, the one home of SDK internals."""
        from ..azureml import _sdk

        with _sdk.blob_storage_through(self), _sdk.stream_polling_interval(0):
            yield self

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
        error: BaseException | str | None = None,
        lost_response: bool = False,
    ) -> None:
        """Fail the next ``times`` requests matching (method, url_regex) (``"*"`` matches any method).

        By default they are answered with ``status`` (an ARM error body unless ``body`` is given) before
        they reach the fake's state; ``retry_after`` adds a ``Retry-After`` header (azure-core honours it;
        the sleep is recorded in :attr:`sleeps`). With ``error`` the transport raises instead of
        answering: ``"reset"`` (:func:`connection_reset`), ``"unreachable"`` (:func:`host_unreachable`) or
        any exception instance. ``lost_response=True`` applies the request first (the server stored it)
        and then raises ``error``: the client cannot tell whether it landed.
        """
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        if error == "reset":
            error = connection_reset()
        elif error == "unreachable":
            error = host_unreachable("management.azure.com")
        elif isinstance(error, str):
            raise ValueError(f"fail_next(error=...): 'reset', 'unreachable' or an exception, not {error!r}")
        if lost_response and error is None:
            error = connection_reset()
        self._failures.append(
            _Failure(method.upper(), re.compile(url_regex), status, times, extra, body, error, lost_response)
        )

    def clear_failures(self) -> None:
        """Forget the failures :meth:`fail_next` set up and that have not happened yet."""
        self._failures.clear()

    def client_factory(self, credential: Any = None) -> Any:
        """``factory(workspace) -> MLClient`` for ``azure_trainer.cli.main(argv, client_factory=...)``: the
        real MLClient for the workspace the CLI resolved, over this fake. The workspaces it was asked for
        are appended to :attr:`client_workspaces`."""
        from azure.ai.ml import MLClient

        def factory(workspace: Any) -> Any:
            self.client_workspaces.append(workspace)
            return MLClient(
                credential or FakeCredential(),
                workspace.subscription_id,
                workspace.resource_group,
                workspace.name,
                transport=self,
            )

        return factory

    # ---- seeding ----------------------------------------------------------------------------
    def add_vm_size(
        self,
        name: str,
        gpus: int = 0,
        vcpus: int = 4,
        family: str | None = None,
        memory_gb: float = 16.0,
        *,
        prices: dict[str, float] | None = None,
        currency: str = "USD",
    ) -> dict[str, Any]:
        """A VM size of the region; ``prices`` maps vmTier (``Standard``, ``LowPriority``, ``Spot``) to the
        Linux price per hour (left out: no ``estimatedVMPrices``, as for sizes without a published price)."""
        self.vm_sizes[name] = vm_size_body(
            name, gpus, vcpus, family, memory_gb, prices=prices, currency=currency
        )
        return self.vm_sizes[name]

    def set_usage(
        self,
        family: str,
        current: int,
        limit: int,
        *,
        tier: str = "Dedicated",
        scope: str = "subscription",
        compute: str | None = None,
    ) -> dict[str, Any]:
        """A VM family's core usage, as the service names it ("Standard DSv2 Family Cluster Dedicated
        vCPUs"), at ``scope`` subscription, workspace or compute (``compute=NAME``); ``tier`` Dedicated or
        LowPriority; ``limit=-1`` is no limit. ``family`` is the VM size list's id (``standardDSv2Family``)."""
        entry = usage_body(self.state, usage_name(family, tier), current, limit, scope=scope, compute=compute)
        return self._put_usage(entry)

    def set_regional_usage(self, tier: str, current: int, limit: int) -> dict[str, Any]:
        """The region's total of ``tier`` (Dedicated or LowPriority) vCPUs over all families."""
        kind = "dedicatedCores/usages" if tier == "Dedicated" else "lowPriorityCores/usages"
        name = f"Total Cluster {tier} Regional vCPUs"
        return self._put_usage(usage_body(self.state, name, current, limit, kind=kind))

    def _put_usage(self, entry: dict[str, Any]) -> dict[str, Any]:
        key = (entry["id"], entry["name"]["value"])
        self.state.usages[:] = [u for u in self.state.usages if (u["id"], u["name"]["value"]) != key]
        self.state.usages.append(entry)
        return entry

    def add_compute(
        self,
        name: str,
        vm_size: str,
        max_nodes: int = 4,
        min_nodes: int = 0,
        *,
        priority: str = "Dedicated",
        idle_seconds: int = 1800,
        current_nodes: int = 0,
    ) -> dict[str, Any]:
        """An AmlCompute cluster; ``priority`` Dedicated or LowPriority."""
        res = aml_compute_body(
            self.state,
            name,
            vm_size,
            max_nodes,
            min_nodes,
            priority=priority,
            idle_seconds=idle_seconds,
            current_nodes=current_nodes,
        )
        self.computes[name] = res
        return res

    def add_compute_instance(self, name: str, vm_size: str, *, running: bool = True) -> dict[str, Any]:
        """A compute instance (one VM)."""
        self.computes[name] = compute_instance_body(self.state, name, vm_size, running=running)
        return self.computes[name]

    def add_kubernetes_compute(
        self, name: str, instance_types: dict[str, int], default_instance_type: str | None = None
    ) -> dict[str, Any]:
        """An attached Kubernetes compute; ``instance_types`` maps each type to its GPUs (0: none)."""
        body = kubernetes_compute_body(self.state, name, instance_types, default_instance_type)
        self.computes[name] = body
        return body

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
        res = environment_body(
            self.state,
            name,
            version,
            image=image,
            conda_file=conda_file,
            registry=registry,
            description=description,
            tags=tags,
        )
        store = self.registry_environments.setdefault(registry, {}) if registry else self.environments
        store.setdefault(name, {})[version] = res
        return res

    def add_datastore(
        self, name: str, container: str, *, default: bool = False, account: str = STORAGE_ACCOUNT
    ) -> None:
        if default:
            for datastore in self.datastores.values():
                datastore["properties"]["isDefault"] = False
        self.datastores[name] = datastore_body(self.state, name, container, default=default, account=account)

    # ---- jobs -------------------------------------------------------------------------------
    def set_job_status(self, name: str, status: str) -> None:
        """Set a job's status now (``Queued``, ``Running``, ``Completed``, ``Failed``, ``Canceled`` ...)."""
        self._jobs.set_status(name, status)

    def script_job_status(self, name: str, *statuses: str) -> None:
        """Each subsequent GET of the job (ARM ``jobs/{name}`` or run history) advances to the next status.
        E.g. ``script_job_status("j", "Running", "Running", "Completed")``."""
        self.state.status_scripts[name] = list(statuses)

    def add_job_log(self, name: str, text: str, file: str = "user_logs/std_log.txt") -> None:
        """Put a log file where the service writes them (``azureml`` artifact container,
        ``ExperimentRun/dcid.<job>/<file>``). ``jobs.stream`` prints it, ``jobs.download`` saves it."""
        self.blobs.put(STORAGE_ACCOUNT, ARTIFACT_CONTAINER, LOG_PREFIX.format(name=name) + file, text)

    def append_job_log(self, name: str, text: str, file: str = "user_logs/std_log.txt") -> None:
        """Add ``text`` at the end of job ``name``'s log ``file`` (see :meth:`add_job_log`; a missing log
        is started)."""
        before = (
            self.blobs.get(STORAGE_ACCOUNT, ARTIFACT_CONTAINER, LOG_PREFIX.format(name=name) + file) or b""
        )
        self.add_job_log(name, before.decode("utf-8", "replace") + text, file)

    def add_job_output_file(self, name: str, relpath: str, data: bytes | str) -> None:
        """A file in the job's default artifact store (``outputs/model.pt`` ...), for ``jobs.download``."""
        self.blobs.put(STORAGE_ACCOUNT, ARTIFACT_CONTAINER, LOG_PREFIX.format(name=name) + relpath, data)

    def log_mlflow_run(self, run_id: str, rows: Any = (), **options: Any) -> None:
        """Metrics (``{"metric", "step", "value"}`` rows), params and tags of MLflow run ``run_id`` (a job's
        name, or a sweep trial's with ``parent=``), served by the workspace's MLflow API; see
        :meth:`MlflowService.log_run`."""
        self.mlflow.log_run(run_id, rows, **options)

    def job_body(self, name: str) -> dict[str, Any] | None:
        """The body of the last PUT for job ``name`` as the SDK sent it."""
        puts = [r for r in self.requests_matching("PUT", rf"/jobs/{re.escape(name)}\?") if r.status < 300]
        return puts[-1].json if puts else None

    # =========================================================================================
    # dispatch
    # =========================================================================================
    def _matching_failure(self, rec: RecordedRequest) -> _Failure | None:
        for failure in self._failures:
            if (
                failure.remaining > 0
                and failure.method in ("*", rec.method)
                and failure.pattern.search(rec.url)
            ):
                failure.remaining -= 1
                return failure
        return None

    @staticmethod
    def _failure_response(failure: _Failure) -> FakeResponse:
        if failure.body is not None:
            return FakeResponse(failure.status, failure.body, dict(failure.headers))
        code = {429: "TooManyRequests", 503: "ServiceUnavailable", 500: "InternalServerError"}.get(
            failure.status, "InjectedFailure"
        )
        message = f"Injected failure {failure.status} by FakeAzureML.fail_next"
        return azure_error(failure.status, code, message, failure.headers)

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
                "Add one in the resource's module of azure_trainer/testing/",
            )
        return handler(rec, **params)

    def _install_routes(self) -> None:
        add = self._router.add
        ComputeService(self.state, self.page_size).install(add, _WS, _SUB, _MLS, _segment)
        AssetService(self.state).install(add, _WS, _REG, _segment)
        self._jobs.install(add, _WS, _SUB, _MLS, _segment)
        RunService(self.state, self._jobs, self.blobs).install(add, _WS, _segment)
        self.mlflow.install(add, _WS)

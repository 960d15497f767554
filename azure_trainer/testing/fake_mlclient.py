"""``FakeMLClient``: a duck-typed stand-in for ``azure.ai.ml.MLClient`` for fast tests above the SDK.

It shares its state (and seeding API) with a :class:`FakeAzureML` (``client.fake``): ``add_compute``,
``add_environment``, ``add_vm_size``, ``set_usage``, ``set_job_status``, ``script_job_status``,
``add_job_log``,
``add_job_output_file`` all work for both. No HTTP, no azure-ai-ml import (except to raise the SDK's own
``ValidationException``/``JobException`` where the real client does).

Objects returned mirror the attributes azure-ai-ml 1.35.2 really exposes, *including its quirks*:
``VmSize.v_cp_us``/``memory_gb`` are ``None`` with the numbers under ``vCPUs``/``memoryGB``, and
``Usage.current_value`` is ``None`` with the number under ``currentValue`` and ``name`` a plain dict
(the SDK copies ``as_dict()`` of the REST model into ``__dict__``). Code that works against the fake should
work against the real SDK.
"""

from __future__ import annotations

import builtins
import copy
import pathlib
import sys
import types
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from azure.core import CaseInsensitiveEnumMeta
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from .fake_azureml import (
    ARTIFACT_CONTAINER,
    DEFAULT_LOCATION,
    DEFAULT_RESOURCE_GROUP,
    DEFAULT_SUBSCRIPTION,
    DEFAULT_WORKSPACE,
    STORAGE_ACCOUNT,
    TERMINAL,
    FakeAzureML,
    _now,
)


class JobStatus(str, Enum, metaclass=CaseInsensitiveEnumMeta):
    """Mirrors azure-ai-ml's ``JobStatus`` (a str Enum): ``== "Completed"`` works, but ``str()`` and
    f-strings give ``"JobStatus.COMPLETED"`` on Python 3.11, exactly like the real ``Job.status``.
    Use ``.value`` to print."""

    NOT_STARTED = "NotStarted"
    STARTING = "Starting"
    PROVISIONING = "Provisioning"
    PREPARING = "Preparing"
    QUEUED = "Queued"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    NOT_RESPONDING = "NotResponding"
    PAUSED = "Paused"
    UNKNOWN = "Unknown"


def _status(value: str) -> Any:
    try:
        return JobStatus(value)
    except ValueError:
        return value


class FakeEntity(types.SimpleNamespace):
    """Attribute bag standing in for an azure-ai-ml entity; ``type_name`` says which one."""

    def _to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Call:
    op: str  # e.g. "jobs.create_or_update"
    args: tuple
    kwargs: dict[str, Any]


class _Ops:
    def __init__(self, client: FakeMLClient, group: str) -> None:
        self._client = client
        self._group = group

    def _record(self, op: str, *args: Any, **kwargs: Any) -> None:
        full = f"{self._group}.{op}"
        self._client.calls.append(Call(full, args, kwargs))
        self._client._maybe_fail(full)

    @property
    def _fake(self) -> FakeAzureML:
        return self._client.fake


def _not_found(what: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(message=f"(ResourceNotFound) {what} was not found.")


class FakeComputeOperations(_Ops):
    def get(self, name: str) -> FakeEntity:
        self._record("get", name)
        res = self._fake.computes.get(name)
        if res is None:
            raise _not_found(
                f"The Resource 'Microsoft.MachineLearningServices/workspaces/{self._client.workspace_name}"
                f"/computes/{name}' under resource group '{self._client.resource_group_name}'"
            )
        return _compute_entity(res)

    def list(self, **kwargs: Any) -> builtins.list[FakeEntity]:
        self._record("list", **kwargs)
        return [_compute_entity(r) for r in self._fake.computes.values()]

    def list_sizes(
        self, *, location: str | None = None, compute_type: str | None = None
    ) -> builtins.list[FakeEntity]:
        self._record("list_sizes", location=location, compute_type=compute_type)
        return [_vm_size_entity(v) for v in self._fake.vm_sizes.values()]

    def list_usage(self, *, location: str | None = None) -> builtins.list[FakeEntity]:
        self._record("list_usage", location=location)
        return [_usage_entity(u) for u in self._fake.usages.values()]


class FakeEnvironmentOperations(_Ops):
    def get(
        self, name: str, version: str | None = None, label: str | None = None, **kwargs: Any
    ) -> FakeEntity:
        self._record("get", name, version=version, label=label, **kwargs)
        registry = self._client.registry_name
        store = self._fake.registry_environments.get(registry, {}) if registry else self._fake.environments
        versions = store.get(name, {})
        if version is None and label is None:
            from azure.ai.ml.exceptions import ValidationException

            raise ValidationException(
                message="Must provide either version or label.",
                no_personal_data_message="Must provide either version or label.",
            )
        if label is not None:
            if not versions:
                from azure.ai.ml.exceptions import ValidationException

                msg = f"Asset {name} does not exist in workspace {self._client.workspace_name}."
                raise ValidationException(message=msg, no_personal_data_message=msg)
            version = max(versions, key=lambda v: (versions[v]["systemData"]["createdAt"], v))
        res = versions.get(str(version))
        if res is None:
            where = f"azureml://registries/{registry}" if registry else self._fake.workspace_arm_id
            raise _not_found(
                f"Could not find asset with ID: {where}/environments/{name}/versions/{version}. It"
            )
        p = res["properties"]
        return FakeEntity(
            type_name="Environment",
            id=res["id"],
            name=name,
            version=res["name"],
            image=p.get("image"),
            conda_file=_yaml_load(p.get("condaFile")),
            description=p.get("description"),
            tags=dict(p.get("tags") or {}),
            os_type=p.get("osType"),
            build=None,
        )


class FakeDatastoreOperations(_Ops):
    def get_default(self, **kwargs: Any) -> FakeEntity:
        self._record("get_default", **kwargs)
        for ds in self._fake.datastores.values():
            if ds["properties"]["isDefault"]:
                return _datastore_entity(ds)
        raise _not_found("Default datastore")

    def get(self, name: str, **kwargs: Any) -> FakeEntity:
        self._record("get", name, **kwargs)
        if name not in self._fake.datastores:
            raise _not_found(f"Datastore {name}")
        return _datastore_entity(self._fake.datastores[name])

    def list(self, **kwargs: Any) -> builtins.list[FakeEntity]:
        self._record("list", **kwargs)
        return [_datastore_entity(d) for d in self._fake.datastores.values()]


class FakeJobOperations(_Ops):
    def __init__(self, client: FakeMLClient, group: str) -> None:
        super().__init__(client, group)
        self.submitted: list[Any] = []  # the job objects passed to create_or_update, as given

    def create_or_update(
        self,
        job: Any,
        *,
        description: str | None = None,
        compute: str | None = None,
        tags: dict[str, str] | None = None,
        experiment_name: str | None = None,
        skip_validation: bool = False,
        **kwargs: Any,
    ) -> FakeEntity:
        self._record(
            "create_or_update",
            job,
            description=description,
            compute=compute,
            tags=tags,
            experiment_name=experiment_name,
            skip_validation=skip_validation,
            **kwargs,
        )
        fake = self._fake
        name = getattr(job, "name", None) or _random_job_name()
        compute_name = compute or _short(getattr(job, "compute", None))
        if compute_name and compute_name not in fake.computes:
            raise HttpResponseError(
                message=f"(UserError) Compute '{compute_name}' not found in workspace "
                f"'{fake.workspace_name}'.",
            )
        env = getattr(job, "environment", None)
        env_str = (
            env
            if isinstance(env, str) or env is None
            else f"{getattr(env, 'name', None)}:{getattr(env, 'version', None)}"
        )
        props: dict[str, Any] = {
            "jobType": "Command",
            "command": getattr(job, "command", None),
            "computeId": f"{fake.workspace_arm_id}/computes/{compute_name}" if compute_name else None,
            "environmentId": env_str,
            "experimentName": experiment_name or getattr(job, "experiment_name", None) or "Default",
            "displayName": getattr(job, "display_name", None) or name,
            "description": description or getattr(job, "description", None),
            "tags": dict(tags or getattr(job, "tags", None) or {}),
            "environmentVariables": dict(getattr(job, "environment_variables", None) or {}),
            "properties": {},
            "isArchived": False,
        }
        existing = fake.jobs.get(name)
        props["status"] = (
            existing["properties"]["status"]
            if existing and existing["properties"]["status"] not in TERMINAL
            else fake.initial_job_status
        )
        props["services"] = {
            "Studio": {
                "jobServiceType": "Studio",
                "endpoint": f"https://ml.azure.com/runs/{name}?wsid={fake.workspace_arm_id}&tid={uuid.UUID(int=2)}",
            }
        }
        fake.jobs[name] = {
            "id": f"{fake.workspace_arm_id}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "systemData": {"createdAt": _now(), "lastModifiedAt": _now(), "createdBy": "Fake User"},
            "properties": props,
        }
        self.submitted.append(job)
        return _job_entity(fake.jobs[name])

    def get(self, name: str) -> FakeEntity:
        self._record("get", name)
        if name not in self._fake.jobs:
            raise _not_found(f"Job {name}")
        self._fake._advance(name)
        return _job_entity(self._fake.jobs[name])

    def list(self, *, parent_job_name: str | None = None, **kwargs: Any) -> Iterator[FakeEntity]:
        self._record("list", parent_job_name=parent_job_name, **kwargs)
        if parent_job_name:
            if parent_job_name not in self._fake.jobs:
                raise _not_found(f"Job {parent_job_name}")
            return iter([])
        return iter([_job_entity(j) for j in reversed(list(self._fake.jobs.values()))])

    def begin_cancel(self, name: str, **kwargs: Any) -> FakePoller:
        self._record("begin_cancel", name, **kwargs)
        if name not in self._fake.jobs:
            raise _not_found(f"Job {name}")
        status = self._fake.jobs[name]["properties"]["status"]
        if status in TERMINAL:
            raise HttpResponseError(
                message=f"(UserError) Cannot cancel job {name} in terminal state {status}."
            )
        self._fake.set_job_status(name, "Canceled")
        return FakePoller(None)

    def stream(self, name: str) -> None:
        """Prints like ``MLClient.jobs.stream``: header, the job's logs, summary; runs the status script to
        its
        end (or marks the job Completed) and raises the SDK's ``JobException`` if it ends Failed."""
        self._record("stream", name)
        fake = self._fake
        if name not in fake.jobs:
            raise _not_found(f"Job {name}")
        job = fake.jobs[name]
        studio = job["properties"]["services"]["Studio"]["endpoint"]
        out = sys.stdout
        out.write(f"RunId: {name}\nWeb View: {studio}\n")
        while fake._status_script.get(name):
            fake._advance(name)
        if job["properties"]["status"] not in TERMINAL:
            fake.set_job_status(name, "Completed")
        for fname, text in sorted(fake.job_logs.get(name, {}).items()):
            out.write(f"\nStreaming {fname}\n{'=' * (10 + len(fname))}\n\n{text}")
        out.write(f"\nExecution Summary\n=================\nRunId: {name}\nWeb View: {studio}\n\n")
        if job["properties"]["status"] == "Failed":
            from azure.ai.ml.exceptions import JobException

            msg = "Exception : \n {} ".format(
                job["properties"].get("error") or "Detailed error not set on the Run."
            )
            raise JobException(message=msg, no_personal_data_message="Exception raised on failed job.")

    def download(
        self,
        name: str,
        *,
        download_path: str | pathlib.Path = ".",
        output_name: str | None = None,
        all: bool = False,
    ) -> None:  # noqa: A002 - mirrors the SDK signature
        """Writes what the SDK would: ``<download_path>/artifacts/<logs and outputs>`` (from the fake
        blob store)."""
        self._record("download", name, download_path=download_path, output_name=output_name, all=all)
        fake = self._fake
        if name not in fake.jobs:
            raise _not_found(f"Job {name}")
        status = fake.jobs[name]["properties"]["status"]
        if status not in TERMINAL:
            from azure.ai.ml.exceptions import JobException

            msg = f"This job is in state {status}. Download is allowed only in states {sorted(TERMINAL)}"
            raise JobException(message=msg, no_personal_data_message=msg)
        prefix = f"ExperimentRun/dcid.{name}/"
        dest = pathlib.Path(download_path) / "artifacts"
        for blob_name, blob in fake.blobs.containers.get((STORAGE_ACCOUNT, ARTIFACT_CONTAINER), {}).items():
            if blob_name.startswith(prefix):
                target = dest / blob_name[len(prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(blob.data)


class FakePoller:
    """Enough of ``azure.core.polling.LROPoller`` for callers: result/wait/done/status."""

    def __init__(self, result: Any) -> None:
        self._result = result

    def result(self, timeout: float | None = None) -> Any:
        return self._result

    def wait(self, timeout: float | None = None) -> None:
        return None

    def done(self) -> bool:
        return True

    def status(self) -> str:
        return "Succeeded"


class FakeMLClient:
    """Duck-typed ``MLClient``: ``.compute``, ``.environments``, ``.jobs``, ``.datastores``, scope attributes,
    and :attr:`calls` (every operation, in order, as :class:`Call`). State lives in :attr:`fake`."""

    def __init__(
        self,
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        resource_group_name: str = DEFAULT_RESOURCE_GROUP,
        workspace_name: str | None = DEFAULT_WORKSPACE,
        *,
        registry_name: str | None = None,
        fake: FakeAzureML | None = None,
        credential: Any = None,
    ) -> None:
        self.fake = fake or FakeAzureML(
            subscription_id, resource_group_name, workspace_name or DEFAULT_WORKSPACE
        )
        self.subscription_id = subscription_id
        self.resource_group_name = resource_group_name
        self.workspace_name = None if registry_name else workspace_name
        self.registry_name = registry_name
        self.location = DEFAULT_LOCATION
        self.credential = credential
        self.calls: list[Call] = []
        self._failures: list[tuple] = []
        self.compute = FakeComputeOperations(self, "compute")
        self.environments = FakeEnvironmentOperations(self, "environments")
        self.jobs = FakeJobOperations(self, "jobs")
        self.datastores = FakeDatastoreOperations(self, "datastores")

    def fail_next(self, op: str, exc: BaseException | Callable[[], BaseException], times: int = 1) -> None:
        """Make the next ``times`` calls of ``op`` (e.g. ``"jobs.create_or_update"``) raise ``exc``."""
        self._failures.append([op, exc, times])

    def _maybe_fail(self, op: str) -> None:
        for f in self._failures:
            if f[0] == op and f[2] > 0:
                f[2] -= 1
                exc = f[1]
                raise exc() if callable(exc) and not isinstance(exc, BaseException) else exc

    def calls_to(self, op: str) -> list[Call]:
        return [c for c in self.calls if c.op == op]

    def for_registry(self, registry_name: str) -> FakeMLClient:
        """A client for an Azure ML registry over the same state (what a registry ``MLClient`` is)."""
        client = FakeMLClient(
            self.subscription_id,
            self.resource_group_name,
            registry_name=registry_name,
            fake=self.fake,
            credential=self.credential,
        )
        client.calls = self.calls
        return client


# ---------------------------------------------------------------------------------------------
def _short(ref: str | None) -> str | None:
    if not ref:
        return None
    ref = str(ref)
    if ref.startswith("azureml:") and not ref.startswith("azureml://"):
        ref = ref[len("azureml:") :]
    return ref.rstrip("/").split("/")[-1]


def _random_job_name() -> str:
    import random

    words = ["happy", "brave", "calm", "eager", "lucky"], ["river", "cloud", "stone", "tiger", "maple"]
    return f"{random.choice(words[0])}_{random.choice(words[1])}_{uuid.uuid4().hex[:10]}"


def _yaml_load(text: str | None) -> Any:
    if not text:
        return None
    import yaml

    return yaml.safe_load(text)


def _compute_entity(res: dict[str, Any]) -> FakeEntity:
    p = res["properties"]
    inner = p["properties"]
    scale = inner["scaleSettings"]
    idle = scale.get("nodeIdleTimeBeforeScaleDown", "PT0S")
    return FakeEntity(
        type_name="AmlCompute",
        type="amlcompute",
        id=res["id"],
        name=res["name"],
        location=res["location"],
        size=inner["vmSize"],  # upper-cased, as the service returns it
        min_instances=scale["minNodeCount"],
        max_instances=scale["maxNodeCount"],
        idle_time_before_scale_down=int(idle[2:-1]) if idle.startswith("PT") and idle.endswith("S") else None,
        tier=inner["vmPriority"].lower().replace("lowpriority", "low_priority"),
        provisioning_state=p["provisioningState"],
        tags=dict(res.get("tags") or {}),
    )


def _vm_size_entity(v: dict[str, Any]) -> FakeEntity:
    e = FakeEntity(
        type_name="VmSize",
        name=v["name"],
        family=v["family"],
        gpus=v["gpus"],
        v_cp_us=None,
        os_vhd_size_mb=None,
        max_resource_volume_mb=None,
        memory_gb=None,
        low_priority_capable=None,
        premium_io=None,
        supported_compute_types=None,
    )
    for k in (
        "vCPUs",
        "osVhdSizeMB",
        "maxResourceVolumeMB",
        "memoryGB",
        "lowPriorityCapable",
        "premiumIO",
        "supportedComputeTypes",
    ):
        setattr(e, k, copy.deepcopy(v[k]))
    return e


def _usage_entity(u: dict[str, Any]) -> FakeEntity:
    return FakeEntity(
        type_name="Usage",
        id=u["id"],
        aml_workspace_location=None,
        type=u["type"],
        unit=u["unit"],
        current_value=None,
        limit=u["limit"],
        name=copy.deepcopy(u["name"]),
        amlWorkspaceLocation=u["amlWorkspaceLocation"],
        currentValue=u["currentValue"],
    )


def _datastore_entity(ds: dict[str, Any]) -> FakeEntity:
    p = ds["properties"]
    return FakeEntity(
        type_name="AzureBlobDatastore",
        type="azure_blob",
        id=ds["id"],
        name=ds["name"],
        account_name=p["accountName"],
        container_name=p["containerName"],
        endpoint=p["endpoint"],
        protocol=p["protocol"],
        is_default=p["isDefault"],
    )


def _job_entity(res: dict[str, Any]) -> FakeEntity:
    p = res["properties"]
    services = {
        k: FakeEntity(type=v.get("jobServiceType"), endpoint=v.get("endpoint"))
        for k, v in p["services"].items()
    }
    return FakeEntity(
        type_name="Command",
        type="command",
        id=res["id"],
        name=res["name"],
        display_name=p.get("displayName"),
        description=p.get("description"),
        status=_status(p["status"]),
        experiment_name=p.get("experimentName"),
        compute=_short(p.get("computeId")),
        environment=p.get("environmentId"),
        command=p.get("command"),
        tags=dict(p.get("tags") or {}),
        properties=dict(p.get("properties") or {}),
        environment_variables=dict(p.get("environmentVariables") or {}),
        services=services,
        studio_url=services["Studio"].endpoint if "Studio" in services else None,
        creation_context=FakeEntity(created_at=res["systemData"]["createdAt"], created_by="Fake User"),
    )

"""What the fake Azure ML holds: every resource as the body the service returns, JSON-serialisable.

One :class:`FakeState` is one workspace (and the registries it can see). The resource modules
(``_compute``, ``_assets``, ``_jobs``, ``_runs``) read and write it; :meth:`FakeState.to_json` /
:meth:`FakeState.from_json` let an offline workspace keep it in a folder between CLI invocations.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from ._http import FakeResponse, azure_error

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "rg-fake"
DEFAULT_WORKSPACE = "ws-fake"
DEFAULT_LOCATION = "eastus"
STORAGE_ACCOUNT = "fakestorageacct"
BLOB_CONTAINER = "azureml-blobstore-00000000-0000-0000-0000-000000000000"
ARTIFACT_CONTAINER = "azureml"
TENANT_ID = str(uuid.UUID(int=2))

TERMINAL = frozenset({"Completed", "Failed", "Canceled", "NotResponding", "Paused"})
"""Job statuses after which nothing changes (azure-ai-ml's RunHistoryConstants.TERMINAL_STATUSES)."""


def now() -> str:
    """The current UTC time as ARM writes it (``2020-01-01T12:34:56.999Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def system_data() -> dict[str, Any]:
    """ARM's ``systemData`` block of a resource created now."""
    stamp = now()
    return {
        "createdAt": stamp,
        "createdBy": "Fake User",
        "createdByType": "User",
        "lastModifiedAt": stamp,
        "lastModifiedBy": "Fake User",
        "lastModifiedByType": "User",
    }


@dataclass
class FakeState:
    """One workspace's resources, keyed the way the service addresses them."""

    subscription_id: str = DEFAULT_SUBSCRIPTION
    resource_group: str = DEFAULT_RESOURCE_GROUP
    workspace_name: str = DEFAULT_WORKSPACE
    location: str = DEFAULT_LOCATION
    workspace_id: str = str(uuid.UUID(int=0x1234))
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    computes: dict[str, dict[str, Any]] = field(default_factory=dict)
    environments: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """name -> version -> EnvironmentVersion resource."""
    registry_environments: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    """registry -> name -> version -> EnvironmentVersion resource."""
    codes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    datastores: dict[str, dict[str, Any]] = field(default_factory=dict)
    vm_sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    usages: list[dict[str, Any]] = field(default_factory=list)
    status_scripts: dict[str, list[str]] = field(default_factory=dict)
    """job name -> the statuses its next GETs advance through (``FakeAzureML.script_job_status``)."""
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """job name -> bookkeeping of a simulated run (the offline workspace's runner)."""
    mlflow_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """MLflow run id (a job's name) -> the run the workspace's tracking API serves (``_mlflow``)."""

    @property
    def rg_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    @property
    def workspace_arm_id(self) -> str:
        return f"{self.rg_id}/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}"

    def scope_error(self, sub: str, rg: str, ws: str) -> FakeResponse | None:
        """The 404 ARM answers for a request addressed to another subscription, group or workspace."""
        if sub != self.subscription_id:
            return azure_error(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        if rg.lower() != self.resource_group.lower():
            return azure_error(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        if ws.lower() != self.workspace_name.lower():
            return azure_error(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.MachineLearningServices/workspaces/{ws}' under resource group "
                f"'{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FakeState:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

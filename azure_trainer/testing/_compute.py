"""Compute resources of the fake: clusters, compute instances, Kubernetes computes, the region's VM sizes
and core usage (ARM, ``management.azure.com``, api-version 2023-08-01-preview on the wire).

Bodies follow the published examples of that api-version (Azure/azure-rest-api-specs,
``.../preview/2023-08-01-preview/examples/``): ``Compute/get/AmlCompute.json``,
``Compute/get/ComputeInstance.json``, ``Compute/get/KubernetesCompute.json``, ``Compute/list.json`` (paged
with ``nextLink``), ``VirtualMachineSize/list.json`` (with ``estimatedVMPrices``) and ``Usage/list.json``
(usages named in words, per VM family and tier at subscription, workspace and compute scope, regional
totals, low-priority families with ``limit: -1``).
"""

from __future__ import annotations

import re
from typing import Any

from ._http import FakeResponse, RecordedRequest, azure_error
from ._paging import page
from ._state import FakeState, now

KNOWN_VM_SIZES: dict[str, tuple[int, int, float, str, float | None, float | None]] = {
    # name: (vCPUs, GPUs, memoryGB, family, Linux price/h dedicated, low-priority) - specs from
    # learn.microsoft.com/azure/virtual-machines/sizes; Standard_DS3_v2's prices are the published
    # example's, the others approximate eastus list prices in USD, for the fake only.
    "Standard_DS3_v2": (4, 0, 14.0, "standardDSv2Family", 0.29, 0.06),
    "Standard_D4s_v3": (4, 0, 16.0, "standardDSv3Family", 0.19, 0.04),
    "Standard_E4ds_v4": (4, 0, 32.0, "standardEDSv4Family", 0.29, 0.06),
    "Standard_NC6s_v3": (6, 1, 112.0, "standardNCSv3Family", 3.06, 0.61),
    "Standard_NC4as_T4_v3": (4, 1, 28.0, "standardNCASv3_T4Family", 0.53, 0.11),
    "Standard_NC24ads_A100_v4": (24, 1, 220.0, "standardNCADSA100v4Family", 3.67, 0.73),
    "Standard_NC48ads_A100_v4": (48, 2, 440.0, "standardNCADSA100v4Family", 7.35, 1.47),
    "Standard_NC40ads_H100_v5": (40, 1, 320.0, "standardNCADSH100v5Family", 6.98, None),
    "Standard_NC80adis_H100_v5": (80, 2, 640.0, "standardNCADSH100v5Family", 13.96, None),
    "Standard_ND96asr_v4": (96, 8, 900.0, "standardNDASv4_A100Family", 27.20, 5.44),
    "Standard_ND96isr_H100_v5": (96, 8, 1900.0, "standardNDSH100v5Family", 98.32, None),
}

DEFAULT_QUOTA: dict[str, tuple[int, int]] = {
    # family: (vCPUs in use, limit) at subscription scope, dedicated
    "standardDSv2Family": (8, 100),
    "standardDSv3Family": (0, 100),
    "standardEDSv4Family": (0, 100),
    "standardNCSv3Family": (0, 0),
    "standardNCASv3_T4Family": (0, 24),
    "standardNCADSA100v4Family": (0, 48),
    "standardNCADSH100v5Family": (0, 40),
    "standardNDASv4_A100Family": (0, 0),
    "standardNDSH100v5Family": (0, 0),
}


def vm_size_body(
    name: str,
    gpus: int = 0,
    vcpus: int = 4,
    family: str | None = None,
    memory_gb: float = 16.0,
    *,
    prices: dict[str, float] | None = None,
    currency: str = "USD",
) -> dict[str, Any]:
    """One entry of the region's VM size list. ``prices`` maps a vmTier (``Standard``, ``LowPriority``,
    ``Spot``) to the Linux price per hour; without it the entry has no ``estimatedVMPrices``."""
    body: dict[str, Any] = {
        "name": name,
        "family": family or ("standard" + re.sub(r"^Standard_|_", "", name) + "Family"),
        "vCPUs": vcpus,
        "gpus": gpus,
        "osVhdSizeMB": 1047552,
        "maxResourceVolumeMB": 65536 if gpus == 0 else 1474560,
        "memoryGB": memory_gb,
        "lowPriorityCapable": True,
        "premiumIO": True,
    }
    if prices:
        body["estimatedVMPrices"] = {
            "billingCurrency": currency,
            "unitOfMeasure": "OneHour",
            "values": [
                {"retailPrice": price, "osType": "Linux", "vmTier": tier} for tier, price in prices.items()
            ],
        }
    body["supportedComputeTypes"] = ["AmlCompute", "ComputeInstance"]
    return body


def usage_name(family: str, tier: str = "Dedicated") -> str:
    """``standardDSv2Family`` -> ``Standard DSv2 Family Cluster Dedicated vCPUs`` (the published name)."""
    core = family[len("standard") :] if family.startswith("standard") else family
    core = core[: -len("Family")] if core.endswith("Family") else core
    return f"Standard {core} Family Cluster {tier} vCPUs"


def usage_body(
    state: FakeState,
    name: str,
    current: int,
    limit: int,
    *,
    scope: str = "subscription",
    compute: str | None = None,
    kind: str = "vmFamily/usages",
) -> dict[str, Any]:
    """A usage entry named ``name`` at ``scope`` (subscription, workspace or compute)."""
    slug = name.replace(" ", "_")
    subscription = f"/subscriptions/{state.subscription_id}"
    if scope == "workspace":
        entry_id, kind = f"{state.workspace_arm_id}/usages/{slug}", "workspaces/usages"
    elif scope == "compute":
        entry_id, kind = (
            f"{state.workspace_arm_id}/computes/{compute}/usages/{slug}",
            "workspaces/computes/usages",
        )
    elif kind == "vmFamily/usages":
        entry_id = f"{subscription}/usages/{slug}"
    else:  # the regional totals and the cluster count carry the bare usages id
        entry_id = f"{subscription}/usages"
    return {
        "id": entry_id,
        "type": f"Microsoft.MachineLearningServices/{kind}",
        "currentValue": current,
        "limit": limit,
        "name": {"value": name, "localizedValue": name},
        "unit": "Count",
    }


def _compute_envelope(state: FakeState, name: str, kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    stamp = now()
    return {
        "id": f"{state.workspace_arm_id}/computes/{name}",
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "name": name,
        "location": state.location,
        "properties": {
            "description": None,
            "createdOn": stamp,
            "modifiedOn": stamp,
            "computeType": kind,
            "provisioningState": "Succeeded",
            "properties": properties,
        },
    }


def aml_compute_body(
    state: FakeState,
    name: str,
    vm_size: str,
    max_nodes: int = 4,
    min_nodes: int = 0,
    *,
    priority: str = "Dedicated",
    idle_seconds: int = 1800,
    current_nodes: int = 0,
) -> dict[str, Any]:
    """An AmlCompute cluster (``Compute/get/AmlCompute.json``); the service upper-cases ``vmSize``."""
    return _compute_envelope(
        state,
        name,
        "AmlCompute",
        {
            "vmSize": vm_size.upper(),
            "vmPriority": priority,
            "osType": "Linux",
            "virtualMachineImage": None,
            "isolatedNetwork": False,
            "subnet": None,
            "scaleSettings": {
                "maxNodeCount": max_nodes,
                "minNodeCount": min_nodes,
                "nodeIdleTimeBeforeScaleDown": f"PT{idle_seconds}S",
            },
            "remoteLoginPortPublicAccess": "Disabled",
            "allocationState": "Steady",
            "allocationStateTransitionTime": now(),
            "errors": None,
            "currentNodeCount": current_nodes,
            "targetNodeCount": current_nodes,
            "nodeStateCounts": {
                "preparingNodeCount": 0,
                "runningNodeCount": 0,
                "idleNodeCount": current_nodes,
                "unusableNodeCount": 0,
                "leavingNodeCount": 0,
                "preemptedNodeCount": 0,
            },
            "enableNodePublicIp": True,
        },
    )


def compute_instance_body(
    state: FakeState, name: str, vm_size: str, *, running: bool = True
) -> dict[str, Any]:
    """A compute instance (``Compute/get/ComputeInstance.json``, custom services left out)."""
    return _compute_envelope(
        state,
        name,
        "ComputeInstance",
        {
            "vmSize": vm_size.upper(),
            "subnet": None,
            "applicationSharingPolicy": "Personal",
            "sshSettings": {"sshPublicAccess": "Disabled", "adminUserName": "azureuser", "sshPort": 4001},
            "osImageMetadata": {
                "currentImageVersion": "24.03.01",
                "latestImageVersion": "24.03.01",
                "isLatestOsImageVersion": True,
            },
            "enableOSPatching": True,
            "releaseQuotaOnStop": False,
            "customServices": [],
            "computeInstanceAuthorizationType": "personal",
            "personalComputeInstanceSettings": {
                "assignedUser": {
                    "objectId": "00000000-0000-0000-0000-000000000001",
                    "tenantId": "00000000-0000-0000-0000-000000000002",
                }
            },
            "createdBy": {
                "userName": "fake.user@example.com",
                "userOrgId": "00000000-0000-0000-0000-000000000002",
                "userId": "00000000-0000-0000-0000-000000000001",
            },
            "connectivityEndpoints": {"publicIpAddress": "10.0.0.4", "privateIpAddress": "10.0.0.4"},
            "applications": [
                {
                    "displayName": "Jupyter",
                    "endpointUri": f"https://{name}.{state.location}.instances.azureml.ms/tree/",
                }
            ],
            "errors": None,
            "state": "Running" if running else "Stopped",
        },
    )


def kubernetes_compute_body(
    state: FakeState, name: str, instance_types: dict[str, int], default_instance_type: str | None = None
) -> dict[str, Any]:
    """An attached Kubernetes compute (``Compute/get/KubernetesCompute.json``); ``instance_types`` maps
    each instance type to the ``nvidia.com/gpu`` it requests (0: none)."""
    types = {}
    for type_name, gpus in instance_types.items():
        resources = {
            "cpu": str(max(1, 6 * gpus)),
            "memory": f"{max(4, 48 * gpus)}Gi",
            "nvidia.com/gpu": str(gpus) if gpus else None,
        }
        types[type_name] = {
            "nodeSelector": None,
            "resources": {"requests": dict(resources), "limits": dict(resources)},
        }
    body = _compute_envelope(
        state,
        name,
        "Kubernetes",
        {
            "relayConnectionString": None,
            "serviceBusConnectionString": None,
            "extensionPrincipalId": None,
            "extensionInstanceReleaseTrain": "stable",
            "vcName": None,
            "namespace": "default",
            "defaultInstanceType": default_instance_type or next(iter(instance_types), None),
            "instanceTypes": types,
        },
    )
    body["properties"]["resourceId"] = (
        f"{state.rg_id}/providers/Microsoft.ContainerService/managedClusters/{name}"
    )
    body["properties"]["isAttachedCompute"] = True
    return body


class ComputeService:
    """``workspaces/{ws}/computes``, ``locations/{loc}/vmSizes`` and ``locations/{loc}/usages``."""

    def __init__(self, state: FakeState, page_size: int) -> None:
        self.state = state
        self.page_size = page_size

    def install(self, add: Any, ws: str, sub: str, mls: str, seg: Any) -> None:
        add("GET", ws + "/computes", self.list_computes)
        add("GET", ws + "/computes/" + seg("name"), self.get_compute)
        add("GET", sub + mls + "/locations/" + seg("loc") + "/vmSizes", self.list_vm_sizes)
        add("GET", sub + mls + "/locations/" + seg("loc") + "/usages", self.list_usages)

    def list_computes(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        err = self.state.scope_error(sub, rg, ws)
        return err or FakeResponse(200, page(rec, list(self.state.computes.values()), self.page_size))

    def get_compute(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        err = self.state.scope_error(sub, rg, ws)
        if err:
            return err
        if name not in self.state.computes:
            return azure_error(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.MachineLearningServices/workspaces/{ws}/computes/{name}' under "
                f"resource group '{rg}' was not found. For more details please go to "
                "https://aka.ms/ARMResourceNotFoundFix",
            )
        return FakeResponse(200, self.state.computes[name])

    def list_vm_sizes(self, rec: RecordedRequest, sub: str, loc: str) -> FakeResponse:
        return FakeResponse(200, {"value": list(self.state.vm_sizes.values())})

    def list_usages(self, rec: RecordedRequest, sub: str, loc: str) -> FakeResponse:
        return FakeResponse(200, {"value": list(self.state.usages)})

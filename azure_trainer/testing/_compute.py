"""Compute resources of the fake: clusters, VM sizes and core usage (ARM, ``management.azure.com``)."""

from __future__ import annotations

import re
from typing import Any

from ._http import FakeResponse, RecordedRequest, azure_error
from ._state import FakeState, now, system_data

# Real Azure specs (learn.microsoft.com/azure/virtual-machines/sizes):
# name -> (vCPUs, GPUs, memoryGB, quota family)
KNOWN_VM_SIZES: dict[str, tuple[int, int, float, str]] = {
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


def vm_size_body(
    name: str, gpus: int = 0, vcpus: int = 4, family: str | None = None, memory_gb: float = 16.0
) -> dict[str, Any]:
    """One entry of the region's VM size list."""
    return {
        "name": name,
        "family": family or ("standard" + re.sub(r"^Standard_|_", "", name) + "Family"),
        "vCPUs": vcpus,
        "gpus": gpus,
        "osVhdSizeMB": 1047552,
        "maxResourceVolumeMB": 65536 if gpus == 0 else 1474560,
        "memoryGB": memory_gb,
        "lowPriorityCapable": True,
        "premiumIO": True,
        "supportedComputeTypes": ["ComputeInstance", "AmlCompute"],
    }


def usage_body(
    state: FakeState, family: str, current: int, limit: int, unit: str = "Count"
) -> dict[str, Any]:
    """A core-usage entry for a VM family."""
    return {
        "id": f"/subscriptions/{state.subscription_id}/providers/Microsoft.MachineLearningServices"
        f"/locations/{state.location}/usages/{family}",
        "amlWorkspaceLocation": state.location,
        "type": "Microsoft.MachineLearningServices/vmFamily/usages",
        "unit": unit,
        "currentValue": current,
        "limit": limit,
        "name": {"value": family, "localizedValue": _localized_family(family)},
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
    provisioning_state: str = "Succeeded",
    current_nodes: int = 0,
) -> dict[str, Any]:
    """An AmlCompute cluster resource."""
    return {
        "id": f"{state.workspace_arm_id}/computes/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "location": state.location,
        "tags": {},
        "identity": {"type": "None"},
        "systemData": system_data(),
        "properties": {
            "computeType": "AmlCompute",
            "computeLocation": state.location,
            "provisioningState": provisioning_state,
            "description": None,
            "createdOn": now(),
            "modifiedOn": now(),
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
                "allocationStateTransitionTime": now(),
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


class ComputeService:
    """``workspaces/{ws}/computes``, ``locations/{loc}/vmSizes`` and ``locations/{loc}/usages``."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def install(self, add: Any, ws: str, sub: str, mls: str, seg: Any) -> None:
        add("GET", ws + "/computes", self.list_computes)
        add("GET", ws + "/computes/" + seg("name"), self.get_compute)
        add("GET", sub + mls + "/locations/" + seg("loc") + "/vmSizes", self.list_vm_sizes)
        add("GET", sub + mls + "/locations/" + seg("loc") + "/usages", self.list_usages)

    def list_computes(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        return self.state.scope_error(sub, rg, ws) or FakeResponse(
            200, {"value": list(self.state.computes.values())}
        )

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
        return FakeResponse(200, {"value": list(self.state.usages), "nextLink": None})


def _localized_family(family: str) -> str:
    core = family[len("standard") : -len("Family")] if family.startswith("standard") else family
    return f"Standard {core} Family Cluster Dedicated vCPUs"

"""What the workspace says about where a job runs: its compute target and the region's VM sizes.

azure-ai-ml hands these back as entities shaped by the REST bodies (``Compute/get/*.json``,
``VirtualMachineSize/list.json`` of the 2023-08-01-preview API it calls); this module reads them once into
small frozen records, so preflight and the cost estimate never poke at SDK objects. It reads both
spellings where azure-ai-ml 1.35 copies a REST payload into ``__dict__`` unconverted (``VmSize.vCPUs``
beside an empty ``v_cp_us``; a Kubernetes compute's ``properties`` as the REST dict).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PriceTier = Literal["dedicated", "low_priority", "spot"]

_REST_TIERS: dict[str, PriceTier] = {"standard": "dedicated", "lowpriority": "low_priority", "spot": "spot"}
"""``estimatedVMPrices.values[].vmTier`` (Standard, LowPriority, Spot) -> our tier names."""


@dataclass(frozen=True)
class VmInfo:
    """One VM size of the region: what preflight checks and what it costs (Linux, per hour)."""

    name: str
    gpus: int
    vcpus: int | None
    family: str | None
    prices: Mapping[PriceTier, float] = field(default_factory=dict)
    currency: str | None = None


@dataclass(frozen=True)
class InstanceType:
    """A Kubernetes compute's instance type: the resources one job pod asks for."""

    name: str
    gpus: int
    cpu: str | None = None
    memory: str | None = None


@dataclass(frozen=True)
class ComputeInfo:
    """A compute target as preflight needs it."""

    name: str
    kind: str
    """``amlcompute``, ``computeinstance``, ``kubernetes``, or another type azure-ai-ml reports."""
    size: str | None = None
    max_nodes: int | None = None
    """The most nodes a job can get: a cluster's max node count, 1 for a compute instance."""
    low_priority: bool = False
    instance_types: Mapping[str, InstanceType] = field(default_factory=dict)
    default_instance_type: str | None = None

    @property
    def label(self) -> str:
        return {
            "amlcompute": "cluster",
            "computeinstance": "compute instance",
            "kubernetes": "Kubernetes compute",
        }.get(self.kind, f"{self.kind} compute")


def vm_sizes_table(sizes: Iterable[Any]) -> dict[str, VmInfo]:
    """The region's VM sizes by lower-cased name, from ``ml_client.compute.list_sizes()`` (or the REST
    ``VirtualMachineSize`` dicts, or :class:`VmInfo` records)."""
    table: dict[str, VmInfo] = {}
    for size in sizes:
        info = size if isinstance(size, VmInfo) else _vm_info(size)
        if info is not None:
            table[info.name.lower()] = info
    return table


def _vm_info(size: Any) -> VmInfo | None:
    name = first_field(size, "name")
    if not name:
        return None
    vcpus = first_field(size, "v_cp_us", "vCPUs")
    prices, currency = _prices(first_field(size, "estimated_vm_prices", "estimatedVMPrices"))
    return VmInfo(
        name=str(name),
        gpus=int(first_field(size, "gpus") or 0),
        vcpus=int(vcpus) if vcpus is not None else None,
        family=first_field(size, "family"),
        prices=prices,
        currency=currency,
    )


def _prices(estimated: Any) -> tuple[dict[PriceTier, float], str | None]:
    """Linux prices per hour by tier from ``estimatedVMPrices`` (none when it is missing or not hourly)."""
    if not estimated:
        return {}, None
    unit = first_field(estimated, "unit_of_measure", "unitOfMeasure")
    if unit is not None and str(unit) != "OneHour":
        return {}, None
    prices: dict[PriceTier, float] = {}
    for value in first_field(estimated, "values") or []:
        if str(first_field(value, "os_type", "osType") or "").lower() != "linux":
            continue
        tier = _REST_TIERS.get(str(first_field(value, "vm_tier", "vmTier") or "").lower())
        price = first_field(value, "retail_price", "retailPrice")
        if tier is not None and isinstance(price, (int, float)) and price >= 0:
            prices[tier] = float(price)
    currency = first_field(estimated, "billing_currency", "billingCurrency")
    return prices, str(currency) if currency else None


def compute_info(compute: Any) -> ComputeInfo:
    """A :class:`ComputeInfo` from what ``ml_client.compute.get(name)`` returned."""
    kind = str(first_field(compute, "type") or "unknown").lower()
    name = str(first_field(compute, "name") or "")
    if kind == "kubernetes":
        props = first_field(compute, "properties") or {}
        types = {
            type_name: _instance_type(type_name, body)
            for type_name, body in (first_field(props, "instanceTypes", "instance_types") or {}).items()
        }
        default = first_field(props, "defaultInstanceType", "default_instance_type")
        return ComputeInfo(name, kind, instance_types=types, default_instance_type=default)
    size = first_field(compute, "size")
    if kind == "computeinstance":
        return ComputeInfo(name, kind, size=str(size) if size else None, max_nodes=1)
    max_nodes = first_field(compute, "max_instances")
    tier = str(first_field(compute, "tier") or "").lower().replace("-", "_")
    return ComputeInfo(
        name,
        kind,
        size=str(size) if size else None,
        max_nodes=int(max_nodes) if max_nodes is not None else None,
        low_priority=tier in ("low_priority", "lowpriority"),
    )


def _instance_type(name: str, body: Any) -> InstanceType:
    resources = first_field(body, "resources") or {}
    gpus = 0
    for part in ("limits", "requests"):  # a pod gets its limit; a request alone is what it asks for
        value = (first_field(resources, part) or {}).get("nvidia.com/gpu")
        if value not in (None, ""):
            try:
                gpus = int(str(value))
            except ValueError:
                gpus = 0
            break
    requests = first_field(resources, "requests") or {}
    return InstanceType(name, gpus, requests.get("cpu"), requests.get("memory"))


def first_field(obj: Any, *names: str) -> Any:
    """The first non-None of ``obj``'s attributes (or, for a mapping, keys) ``names``: one reader for
    azure-ai-ml entities and the REST dicts that stand for them."""
    for name in names:
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value is not None:
            return value
    return None

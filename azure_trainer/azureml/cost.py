"""What a job will cost before it is paid for, and what a finished one cost: from published prices only.

The region's VM size list (``VirtualMachineSize/list.json``) carries ``estimatedVMPrices``: a retail
price per hour for each OS and tier (Standard = dedicated, LowPriority, Spot), in the billing currency.
The estimate is ``nodes x price`` per hour (a sweep: nodes per trial x concurrent trials), and the worst
case that price up to the job's time limit (``limits.timeout``; a sweep's timeout, or its trials'
timeouts one wave after another). Where no price is published for the size and tier, or the compute is
not billed per job (Kubernetes), the estimate says "price unknown" and why: it never guesses. List
prices leave out discounts, reservations, storage and network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..findings import Finding
from ..planning.spec import JobSpec
from .compute_info import ComputeInfo, PriceTier, VmInfo, vm_sizes_table

_TIER_TEXT = {"dedicated": "dedicated", "low_priority": "low-priority", "spot": "spot"}


@dataclass(frozen=True)
class CostEstimate:
    """Price per hour and worst case of a job (or, with :func:`billed_cost`, of a finished one)."""

    vm_size: str | None
    tier: PriceTier
    nodes: int
    price_per_node_hour: float | None
    currency: str | None
    hours: float | None
    """How long it can run (the worst case) or ran; None: no limit."""
    unknown_reason: str | None = None
    limit_source: str = "limits.timeout"

    @property
    def per_hour(self) -> float | None:
        return None if self.price_per_node_hour is None else self.nodes * self.price_per_node_hour

    @property
    def worst_case(self) -> float | None:
        return None if self.per_hour is None or self.hours is None else self.per_hour * self.hours

    def to_dict(self) -> dict[str, Any]:
        return {
            "vm_size": self.vm_size,
            "tier": self.tier,
            "nodes": self.nodes,
            "currency": self.currency,
            "price_per_node_hour": self.price_per_node_hour,
            "per_hour": _round(self.per_hour),
            "hours": self.hours,
            "worst_case": _round(self.worst_case),
            "price_unknown": self.unknown_reason,
        }

    def text(self) -> str:
        """One line: ``cost: 2 x Standard_NC24ads_A100_v4 (dedicated) at USD 3.67/h = USD 7.34/h; ...``."""
        if self.per_hour is None:
            return f"cost: price unknown ({self.unknown_reason})"
        each = f" at {_money(self.price_per_node_hour, self.currency)}/h each" if self.nodes > 1 else ""
        line = (
            f"cost: {self.nodes} x {self.vm_size} ({_TIER_TEXT[self.tier]}){each} = "
            f"{_money(self.per_hour, self.currency)}/h"
        )
        if self.hours is None:
            return (
                line + f"; no {self.limit_source}, so no upper bound: it bills until it ends or is cancelled"
            )
        return (
            line + f"; at most {_money(self.worst_case, self.currency)} if it runs to its "
            f"{self.limit_source} ({_duration(self.hours)}); list prices, before discounts"
        )


def estimate_cost(spec: JobSpec, sizes: Iterable[Any], compute: ComputeInfo | None = None) -> CostEstimate:
    """The estimate for ``spec`` on ``compute`` (its cluster, instance or Kubernetes compute; None for
    serverless ``instance_type``) from the region's VM ``sizes`` (``ml_client.compute.list_sizes()``,
    the REST dicts or :class:`VmInfo` records)."""
    table = sizes if isinstance(sizes, dict) else vm_sizes_table(sizes)
    nodes, hours, limit_source = _nodes_and_hours(spec)
    tier = _tier(spec, compute)
    if compute is not None and compute.kind == "kubernetes":
        reason = f"Kubernetes compute {compute.name!r} is billed as its cluster's nodes, not per job"
        return CostEstimate(None, tier, nodes, None, None, hours, reason, limit_source)
    size = compute.size if compute is not None else spec.instance_type
    if not size:
        where = f"compute {compute.name!r}" if compute is not None else "the job"
        return CostEstimate(None, tier, nodes, None, None, hours, f"{where} names no VM size", limit_source)
    vm = table.get(size.lower())
    if vm is None:
        reason = f"{size} is not in the region's VM size list"
        return CostEstimate(size, tier, nodes, None, None, hours, reason, limit_source)
    price = vm.prices.get(tier)
    if price is None:
        reason = f"no {_TIER_TEXT[tier]} price is published for {vm.name}"
        return CostEstimate(vm.name, tier, nodes, None, vm.currency, hours, reason, limit_source)
    return CostEstimate(vm.name, tier, nodes, price, vm.currency, hours, None, limit_source)


def cost_findings(spec: JobSpec, cost: CostEstimate) -> list[Finding]:
    """A GPU job without a time limit; a worst case above ``preflight.max_cost``."""
    findings = []
    if spec.use_gpu and cost.hours is None:
        findings.append(
            Finding(
                "warning",
                "no-timeout",
                f"a GPU job without {cost.limit_source} runs (and bills) until it ends or is cancelled, "
                f"even if it hangs; set {cost.limit_source} (seconds){spec.where('limits')}",
            )
        )
    max_cost = getattr(spec.preflight, "max_cost", None)
    if max_cost is None:
        return findings
    if cost.per_hour is None:
        findings.append(
            Finding(
                "warning",
                "cost-unknown",
                f"preflight.max_cost is {max_cost:g} but the job's price is unknown ({cost.unknown_reason}); "
                "the limit could not be checked",
            )
        )
    elif cost.worst_case is None:
        findings.append(
            Finding(
                "error",
                "cost-over-limit",
                f"preflight.max_cost is {_money(max_cost, cost.currency)} but the job has no "
                f"{cost.limit_source}: at {_money(cost.per_hour, cost.currency)}/h its cost has no upper "
                f"bound; set {cost.limit_source} to at most {_duration(max_cost / cost.per_hour)}",
            )
        )
    elif cost.worst_case > max_cost:
        findings.append(
            Finding(
                "error",
                "cost-over-limit",
                f"the job can cost up to {_money(cost.worst_case, cost.currency)} "
                f"({_money(cost.per_hour, cost.currency)}/h for {_duration(cost.hours or 0)}), above "
                f"preflight.max_cost {_money(max_cost, cost.currency)}; lower {cost.limit_source} to "
                f"{_duration(max_cost / cost.per_hour)} or use fewer or cheaper nodes",
            )
        )
    return findings


def billed_cost(
    seconds: float,
    nodes: int,
    vm: VmInfo | None,
    tier: PriceTier,
    *,
    size: str | None = None,
    unknown_reason: str | None = None,
) -> CostEstimate:
    """What a finished job's run time cost at list price (``seconds`` from its start to its end)."""
    hours = seconds / 3600
    if unknown_reason is not None:
        return CostEstimate(size, tier, nodes, None, None, hours, unknown_reason, "run time")
    if vm is None:
        reason = f"{size} is not in the region's VM size list" if size else "its VM size is not known"
        return CostEstimate(size, tier, nodes, None, None, hours, reason, "run time")
    price = vm.prices.get(tier)
    reason = None if price is not None else f"no {_TIER_TEXT[tier]} price is published for {vm.name}"
    return CostEstimate(vm.name, tier, nodes, price, vm.currency, hours, reason, "run time")


def billed_text(cost: CostEstimate) -> str:
    """``0h 12m x 2 nodes of Standard_NC24ads_A100_v4 (dedicated): about USD 1.47 at list price``."""
    duration = _duration(cost.hours or 0)
    nodes = f"{cost.nodes} node{'s' if cost.nodes != 1 else ''}"
    if cost.per_hour is None:
        return f"{duration} x {nodes}; price unknown ({cost.unknown_reason})"
    return (
        f"{duration} x {nodes} of {cost.vm_size} ({_TIER_TEXT[cost.tier]}): about "
        f"{_money(cost.worst_case, cost.currency)} at list price (start to end; queueing is not billed)"
    )


def _tier(spec: JobSpec, compute: ComputeInfo | None) -> PriceTier:
    if compute is not None and compute.kind != "kubernetes":
        return "low_priority" if compute.low_priority else "dedicated"
    job_tier = getattr(spec.queue_settings, "job_tier", None) if spec.queue_settings is not None else None
    return "spot" if job_tier == "spot" else "dedicated"


def nodes_at_once(spec: JobSpec) -> int:
    """Nodes the job holds at once: its instance_count (a sweep: times its concurrent trials)."""
    return _nodes_and_hours(spec)[0]


def _nodes_and_hours(spec: JobSpec) -> tuple[int, float | None, str]:
    """Nodes billed at once, the longest it can run (hours, None: no limit), and that limit's name."""
    nodes = max(1, spec.instance_count)
    sweep = spec.sweep
    if sweep is None:
        return nodes, (spec.timeout / 3600 if spec.timeout else None), "limits.timeout"
    limits = getattr(sweep, "limits", None)
    total = int(getattr(limits, "max_total_trials", 1) or 1)
    concurrent = min(total, int(getattr(limits, "max_concurrent_trials", 1) or 1))
    timeout, trial_timeout = getattr(limits, "timeout", None), getattr(limits, "trial_timeout", None)
    bounds = []
    if timeout:
        bounds.append(timeout / 3600)
    if trial_timeout:
        bounds.append(math.ceil(total / concurrent) * trial_timeout / 3600)
    return nodes * concurrent, (min(bounds) if bounds else None), "limits.timeout or limits.trial_timeout"


def _money(amount: float | None, currency: str | None) -> str:
    if amount is None:
        return "unknown"
    return f"{currency or '(currency unknown)'} {amount:,.2f}"


def _round(amount: float | None) -> float | None:
    return None if amount is None else round(amount, 4)


def _duration(hours: float) -> str:
    minutes = max(0, round(hours * 60))
    return f"{minutes // 60}h {minutes % 60:02d}m"

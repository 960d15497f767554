"""Core quota: will the job's vCPUs ever fit, and can they fit now?

``ml_client.compute.list_usage()`` lists what ``Usage/list.json`` (2023-08-01-preview) shows: one entry
per VM family and tier, named in words ("Standard DSv2 Family Cluster Dedicated vCPUs", "... LowPriority
vCPUs"), repeated at subscription, workspace and compute scope (told apart by the entry's ``id``), plus
the regional totals ("Total Cluster Dedicated Regional vCPUs", "Total Cluster LowPriority Regional
vCPUs"). A limit of ``-1`` means no limit at that level (low-priority families are capped only by the
regional low-priority total). The VM size list names the family by id (``standardDSv2Family``); both
are reduced to the family's core (``dsv2``) to match.

A job whose vCPUs exceed a limit can never run (an error: it would queue forever); one that fits the
limit but not what is in use now must wait for cores to free up (a warning).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..findings import Finding
from .compute_info import first_field

Scope = Literal["subscription", "workspace", "compute"]
Tier = Literal["dedicated", "low_priority"]

_FAMILY_NAME = re.compile(
    r"^Standard (?P<core>.+?) Family Cluster (?P<tier>Dedicated|LowPriority) vCPUs$", re.I
)
_REGIONAL_NAME = re.compile(r"^Total Cluster (?P<tier>Dedicated|LowPriority) Regional vCPUs$", re.I)
_SCOPED_ID = re.compile(r"/workspaces/(?P<ws>[^/]+)(?:/computes/(?P<compute>[^/]+))?/usages/", re.I)


@dataclass(frozen=True)
class CoreUsage:
    """One usage entry, read: vCPUs in use and the limit (-1: none) of a family, or the region's total."""

    name: str
    tier: Tier
    family: str | None
    """The family's core, lower case (``dsv2``); None for a regional total."""
    scope: Scope
    workspace: str | None
    compute: str | None
    current: int
    limit: int


def family_core(family: str) -> str:
    """``standardDSv2Family`` (VM size list) and ``DSv2`` (usage name) both -> ``dsv2``."""
    core = re.sub(r"^standard", "", family.strip(), flags=re.I)
    core = re.sub(r"family$", "", core, flags=re.I)
    return re.sub(r"[\s_]+", "", core).lower()


def read_usages(usages: Iterable[Any]) -> list[CoreUsage]:
    """The core-quota entries of ``ml_client.compute.list_usage()`` (others, like "Clusters", are left out)."""
    out = []
    for usage in usages:
        name_field = first_field(usage, "name") or {}
        name = str(first_field(name_field, "value") or "") if not isinstance(name_field, str) else name_field
        family_match, regional_match = _FAMILY_NAME.match(name), _REGIONAL_NAME.match(name)
        match = family_match or regional_match
        limit, current = first_field(usage, "limit"), first_field(usage, "current_value", "currentValue")
        if match is None or limit is None:
            continue
        tier: Tier = "dedicated" if match.group("tier").lower() == "dedicated" else "low_priority"
        scoped = _SCOPED_ID.search(str(first_field(usage, "id") or ""))
        scope: Scope = "subscription"
        if scoped:
            scope = "compute" if scoped.group("compute") else "workspace"
        out.append(
            CoreUsage(
                name=name,
                tier=tier,
                family=family_core(family_match.group("core")) if family_match else None,
                scope=scope,
                workspace=scoped.group("ws") if scoped else None,
                compute=scoped.group("compute") if scoped else None,
                current=int(current or 0),
                limit=int(limit),
            )
        )
    return out


def check_quota(
    usages: list[CoreUsage],
    *,
    family: str,
    vcpus: int,
    tier: Tier,
    workspace: str,
    compute: str | None,
    what: str,
) -> list[Finding]:
    """Findings for ``vcpus`` of VM family ``family`` at ``tier`` in ``workspace`` (on ``compute``).

    ``what`` names the job's share ("2 nodes x 24 vCPUs") for the messages.
    """
    core = family_core(family)
    applies = [
        u
        for u in usages
        if u.tier == tier
        and (u.family == core or u.family is None)
        and (u.workspace is None or u.workspace.lower() == workspace.lower())
        and (u.compute is None or (compute is not None and u.compute.lower() == compute.lower()))
    ]
    tier_text = "dedicated" if tier == "dedicated" else "low-priority"
    if not any(u.family == core and u.scope == "subscription" for u in applies):
        return [
            Finding(
                "warning",
                "quota-unknown",
                f"the region lists no {tier_text} core quota for VM family {family}; quota not checked "
                "(see the workspace's Quota page in Azure ML studio)",
            )
        ]
    limited = [u for u in applies if u.limit >= 0]
    never = [u for u in limited if vcpus > u.limit]
    if never:
        tightest = min(never, key=lambda u: u.limit)
        return [
            Finding(
                "error",
                "quota-exceeded",
                f"the job needs {vcpus} {tier_text} vCPUs ({what}) but {_where(tightest)} allows "
                f"{tightest.limit}: it would never start; request more quota for {tightest.name} "
                "(Azure portal: Quotas) or use fewer or smaller nodes",
            )
        ]
    waits = [u for u in limited if u.current + vcpus > u.limit]
    if waits:
        tightest = min(waits, key=lambda u: u.limit - u.current)
        return [
            Finding(
                "warning",
                "quota",
                f"the job needs {vcpus} {tier_text} vCPUs ({what}); {tightest.current} of {tightest.limit} "
                f"of {_where(tightest)} are in use, so it will queue until enough are free",
            )
        ]
    return []


def _where(usage: CoreUsage) -> str:
    if usage.family is None:
        return f"the region's total ({usage.name})"
    if usage.scope == "compute":
        return f"compute {usage.compute}'s quota ({usage.name})"
    if usage.scope == "workspace":
        return f"workspace {usage.workspace}'s quota ({usage.name})"
    return f"the subscription's quota ({usage.name})"

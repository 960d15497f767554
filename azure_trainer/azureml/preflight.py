"""Preflight: read-only checks that catch the expensive mistakes before a job is paid for.

Each check returns :class:`Finding` objects; none of them writes anything to Azure. In order: the checks
that need no Azure (:mod:`azure_trainer.checks`: secrets, the code snapshot, the script's options, a local
environment file); the workspace (its region); the compute target (exists; for a cluster or compute
instance the GPUs of its VM size against ``use_gpu``, processes per node, and nodes against its maximum;
for a Kubernetes compute the GPUs of its instance type); core quota of the VM family at every scope the
service lists (:mod:`.quota`); low-priority or spot nodes without a checkpoint output; the cost
(:mod:`.cost`: no time limit on a GPU job, ``preflight.max_cost``); the environment (resolves; CUDA or
not, :mod:`.environment_device`).

:func:`preflight_report` returns the findings with the cost estimate; :func:`preflight` the findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config.model import JobConfig
from ..errors import ApiUsageError
from ..findings import Finding
from ..planning.spec import JobSpec, as_spec
from .compute_info import ComputeInfo, VmInfo, compute_info, vm_sizes_table
from .cost import CostEstimate, cost_findings, estimate_cost, nodes_at_once
from .environment_device import device_findings
from .errors import translated
from .quota import check_quota, read_usages


@dataclass(frozen=True)
class PreflightReport:
    """What preflight found, and what the job will cost (None when there is no compute to price)."""

    findings: list[Finding]
    cost: CostEstimate | None = None


def preflight(job: JobSpec | JobConfig | str, ml_client: Any = None) -> list[Finding]:
    """Run every check for a planned ``job`` against the workspace behind ``ml_client``; return the findings.

    Errors mean the job would fail or waste money; warnings mean it would run but probably not as meant.
    Finding codes listed in the job's ``preflight.skip`` are dropped. ``ml_client=None`` builds the
    real client (workspace from the environment, the job's ``workspace:`` or config.json).
    """
    return preflight_report(job, ml_client).findings


def preflight_report(
    job: JobSpec | JobConfig | str, ml_client: Any = None, *, offline: Any = None
) -> PreflightReport:
    """:func:`preflight`, with the cost estimate. ``offline``: the job's
    :class:`~azure_trainer.checks.OfflineReport` when it was already made (else it is made here)."""
    spec = as_spec(job, "preflight")
    if ml_client is None:
        from .workspace import open_ml_client, resolve_workspace

        with open_ml_client(resolve_workspace(None, spec.workspace)) as client:
            return _report(spec, client, offline)
    if not hasattr(ml_client, "compute"):
        raise ApiUsageError(
            f"preflight() takes an azure.ai.ml.MLClient (or None), not {type(ml_client).__name__}"
        )
    return _report(spec, ml_client, offline)


def _report(spec: JobSpec, ml_client: Any, offline: Any) -> PreflightReport:
    from ..checks import offline_checks
    from ..checks.offline import redact_findings

    # the checks that need no Azure (secrets, the snapshot, the script's options, a local environment file)
    findings: list[Finding] = list((offline or offline_checks(spec)).findings)
    location = workspace_location(ml_client)
    sizes = vm_sizes(ml_client, location)
    compute: ComputeInfo | None = None
    if spec.compute:
        compute, found = look_up_compute(spec, ml_client)
        findings += found
    cost = None
    if compute is not None or (not spec.compute and spec.instance_type):
        vm, target_findings = check_target(spec, compute, sizes)
        findings += target_findings
        findings += check_quota_of(spec, compute, vm, ml_client, location)
        findings += check_preemption(spec, compute)
        cost = estimate_cost(spec, sizes, compute)
        findings += cost_findings(spec, cost)
    findings += check_environment(spec, ml_client)
    skip = set(spec.preflight.skip)
    return PreflightReport(redact_findings([f for f in findings if f.code not in skip], spec), cost)


def workspace_location(ml_client: Any) -> str | None:
    """The workspace's region (one GET; a failure is reported as the workspace's, not a later call's)."""
    name = getattr(ml_client, "workspace_name", None)
    with translated(f"getting workspace {name}"):
        return getattr(ml_client.workspaces.get(name), "location", None)


def vm_sizes(ml_client: Any, location: str | None) -> dict[str, VmInfo]:
    """The region's VM sizes (with their published prices), by lower-cased name."""
    with translated(f"listing the VM sizes of region {location}"):
        return vm_sizes_table(ml_client.compute.list_sizes(location=location))


def look_up_compute(spec: JobSpec, ml_client: Any) -> tuple[ComputeInfo | None, list[Finding]]:
    """The job's compute target, or a ``compute-not-found`` error listing the ones that exist."""
    try:
        with translated(f"looking up compute {spec.compute!r}"):
            return compute_info(ml_client.compute.get(spec.compute)), []
    except Exception as exc:  # translated() chains the SDK's error
        if not _not_found(exc):
            raise
    names = _compute_names(ml_client)
    have = f" (this workspace has: {', '.join(names)})" if names else ""
    message = (
        f"compute {spec.compute!r} does not exist{have}; create it or fix `compute.{spec.flavour}` "
        "in the job config"
    )
    return None, [Finding("error", "compute-not-found", message)]


def check_target(
    spec: JobSpec, compute: ComputeInfo | None, sizes: dict[str, VmInfo]
) -> tuple[VmInfo | None, list[Finding]]:
    """GPUs, processes per node and nodes of where the job runs; return its VM size when known."""
    if compute is None:  # serverless: the job's instance_type is the VM size
        assert spec.instance_type is not None  # preflight_report checks before calling
        vm = sizes.get(spec.instance_type.lower())
        if vm is None:
            message = (
                f"instance type {spec.instance_type} is not offered in this workspace's region; pick one "
                "from `az ml compute list-sizes`"
            )
            return None, [Finding("error", "instance-type-unknown", message)]
        return vm, check_gpus(spec, vm.gpus, f"instance type {vm.name}")
    if compute.kind == "kubernetes":
        return None, check_kubernetes(spec, compute)
    findings = check_nodes(spec, compute)
    if not compute.size:
        message = f"compute {compute.name!r} ({compute.kind}) reports no VM size; GPUs not checked"
        return None, [*findings, Finding("warning", "compute-size-unknown", message)]
    vm = sizes.get(compute.size.lower())
    if vm is None:
        message = (
            f"VM size {compute.size} of compute {compute.name!r} is not in the region's size list; GPUs "
            "not checked"
        )
        return None, [*findings, Finding("warning", "vm-size-unknown", message)]
    return vm, [*check_gpus(spec, vm.gpus, f"compute {compute.name!r} ({vm.name})"), *findings]


def check_gpus(spec: JobSpec, gpus: int, where: str) -> list[Finding]:
    """GPUs per node against use_gpu, and processes per node against the GPUs."""
    findings = []
    if spec.use_gpu and gpus == 0:
        findings.append(
            Finding(
                "error",
                "gpu-on-cpu-vm",
                f"use_gpu is true but {where} has no GPU; the job would train on the CPU. "
                f"Point `compute.gpu` at a GPU cluster (e.g. Standard_NC*, ND*) or run with --cpu",
            )
        )
    if not spec.use_gpu and gpus > 0:
        findings.append(
            Finding(
                "warning",
                "idle-gpus",
                f"use_gpu is false but {where} has {gpus} GPU(s) that would be paid for and "
                f"left idle; use --gpu or a CPU cluster in `compute.cpu`",
            )
        )
    procs = spec.processes_per_node
    if spec.use_gpu and gpus > 0 and procs > gpus:
        findings.append(
            Finding(
                "error",
                "too-many-processes",
                f"process_count_per_instance is {procs} but {where} has {gpus} GPU(s) per node; "
                f"set distribution.process_count_per_instance to {gpus} or less",
            )
        )
    return findings


def check_nodes(spec: JobSpec, compute: ComputeInfo) -> list[Finding]:
    """Nodes asked for against the most the compute can give (whenever that is known)."""
    if compute.max_nodes is None or spec.instance_count <= compute.max_nodes:
        return []
    fix = "raise the cluster's max nodes" if compute.kind == "amlcompute" else "use a cluster"
    return [
        Finding(
            "error",
            "too-many-nodes",
            f"instance_count is {spec.instance_count} but {compute.label} {compute.name!r} has at most "
            f"{compute.max_nodes} node(s); lower instance_count or {fix}",
        )
    ]


def check_kubernetes(spec: JobSpec, compute: ComputeInfo) -> list[Finding]:
    """The job's instance type exists on the Kubernetes compute; its GPUs against use_gpu."""
    wanted = spec.instance_type or compute.default_instance_type
    by_name = {name.lower(): t for name, t in compute.instance_types.items()}
    instance_type = by_name.get(wanted.lower()) if wanted else None
    if instance_type is None:
        have = ", ".join(sorted(compute.instance_types)) or "none"
        message = (
            f"instance type {wanted!r} is not defined on Kubernetes compute {compute.name!r} (it has: "
            f"{have}); set `instance_type` to one of them"
        )
        return [Finding("error", "instance-type-unknown", message)]
    where = f"instance type {instance_type.name} of Kubernetes compute {compute.name!r}"
    return check_gpus(spec, instance_type.gpus, where)


def check_quota_of(
    spec: JobSpec, compute: ComputeInfo | None, vm: VmInfo | None, ml_client: Any, location: str | None
) -> list[Finding]:
    """Core quota for the job's VM family, dedicated or low-priority, at every scope listed."""
    if vm is None or not vm.family or not vm.vcpus or (compute is not None and compute.kind != "amlcompute"):
        return []  # a compute instance's cores are held already; Kubernetes is not Azure ML quota
    try:
        with translated("reading core quota"):
            usages = read_usages(ml_client.compute.list_usage(location=location))
    except Exception:  # the quota check only advises: a failure here must not stop the others
        return [Finding("warning", "quota-unknown", "could not read core quota; skipped the quota check")]
    nodes = nodes_at_once(spec)
    spot = compute is None and getattr(spec.queue_settings, "job_tier", None) == "spot"
    return check_quota(
        usages,
        family=vm.family,
        vcpus=vm.vcpus * nodes,
        tier="low_priority" if (compute is not None and compute.low_priority) or spot else "dedicated",
        workspace=str(getattr(ml_client, "workspace_name", "") or ""),
        compute=compute.name if compute is not None else None,
        what=f"{nodes} node(s) x {vm.vcpus} vCPUs of {vm.name}",
    )


def check_preemption(spec: JobSpec, compute: ComputeInfo | None) -> list[Finding]:
    """Nodes Azure ML may take back (low-priority cluster, spot tier) need a checkpoint output to resume."""
    if compute is not None and compute.low_priority:
        why = f"cluster {compute.name!r} is low-priority"
    elif compute is None and getattr(spec.queue_settings, "job_tier", None) == "spot":
        why = "queue_settings.job_tier is spot"
    else:
        return []
    if spec.checkpoint_output is not None:
        return []
    return [
        Finding(
            "warning",
            "preemptible-without-checkpoint",
            f"{why}: Azure ML can preempt its nodes and restart the job, and without a checkpoint output "
            "it restarts from scratch; add an output (e.g. `checkpoints: {type: uri_folder, mode: "
            "rw_mount}`) and pass it to the script (`--checkpoint-dir ${{outputs.checkpoints}}`)",
        )
    ]


def _not_found(exc: BaseException) -> bool:
    """A 404, or azure-ai-ml's "Asset ... does not exist" (what ``environments.get(label=)`` raises)."""
    from azure.core.exceptions import ResourceNotFoundError

    for candidate in (exc, exc.__cause__):
        if isinstance(candidate, ResourceNotFoundError):
            return True
        if (
            candidate is not None
            and type(candidate).__name__ == "ValidationException"
            and ("does not exist" in str(candidate) or "not found" in str(candidate).lower())
        ):
            return True
    return False


def _compute_names(ml_client: Any) -> list[str]:
    try:
        return sorted(c.name for c in ml_client.compute.list())[:10]
    except Exception:  # only decoration for a message: never let it hide the real finding
        return []


def check_environment(spec: JobSpec, ml_client: Any) -> list[Finding]:
    """The environment resolves; CUDA-or-not matches use_gpu (see :mod:`.environment_device`)."""
    ref = spec.environment
    name = ref.shown
    if ref.source == "file":
        return []  # judged offline, from the file itself (azure_trainer/checks/environment_file.py)
    if ref.source == "inline":  # defined in the job itself: its image and conda file say it all
        return device_findings(spec.use_gpu, name, ref.image, ref.conda_file, ref.name)
    env_name, version, label = ref.name_version
    try:
        with translated(f"looking up environment {name}"):
            if ref.source == "registry":
                from .workspace import registry_client

                client = registry_client(ml_client, ref.registry)
            else:
                client = ml_client
            env = client.environments.get(env_name, version=version, label=label)
    except Exception as exc:
        if _not_found(exc):
            return [
                Finding(
                    "error",
                    "environment-not-found",
                    f"environment {name} does not exist; check its name and version/label, or "
                    f"register it with `az ml environment create -f environments/{spec.flavour}.yaml`",
                )
            ]
        raise
    return device_findings(
        spec.use_gpu,
        f"environment {name}",
        getattr(env, "image", None),
        getattr(env, "conda_file", None),
        getattr(env, "name", None),
    )


def format_findings(findings: list[Finding]) -> str:
    """The findings as a small table (severity, code, message), errors first."""
    if not findings:
        return "preflight: all checks passed"
    from ..progress import table

    ordered = sorted(findings, key=lambda f: (not f.is_error, f.code))
    return table(["SEVERITY", "CODE", "MESSAGE"], [[f.severity.upper(), f.code, f.message] for f in ordered])

"""Preflight: read-only checks that catch the expensive mistakes before a job is paid for.

Each check returns :class:`Finding` objects; none of them writes anything to Azure. The checks:
compute (exists, GPUs of its VM size vs ``use_gpu``, processes per node, nodes), environment (resolves,
CUDA vs ``use_gpu``), code snapshot (size and file count, honouring .amlignore/.gitignore), secrets in
environment variables, and core quota for the VM family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config.model import JobConfig
from ..errors import ApiUsageError
from ..findings import Finding
from ..planning.spec import JobSpec, as_spec
from .environment_device import environment_device
from .errors import translated


@dataclass(frozen=True)
class VmInfo:
    """What preflight needs to know of a VM size."""

    name: str
    gpus: int
    vcpus: int | None
    family: str | None


def preflight(job: JobSpec | JobConfig | str, ml_client: Any = None) -> list[Finding]:
    """Run every check for a planned ``job`` against the workspace behind ``ml_client``; return the findings.

    Errors mean the job would fail or waste money; warnings mean it would run but probably not as meant.
    Finding codes listed in the job's ``preflight.skip`` are dropped. ``ml_client=None`` builds the
    real client (workspace from the environment, the job's ``workspace:`` or config.json).
    """
    spec = as_spec(job, "preflight")
    if ml_client is None:
        from .workspace import make_ml_client, resolve_workspace

        ml_client = make_ml_client(resolve_workspace(None, spec.workspace))
    elif not hasattr(ml_client, "compute"):
        raise ApiUsageError(
            f"preflight() takes an azure.ai.ml.MLClient (or None), not {type(ml_client).__name__}"
        )
    skip = set(spec.preflight.skip)
    findings: list[Finding] = []
    findings += check_secrets(spec)
    findings += check_snapshot_of(spec)
    sizes = _vm_sizes(ml_client)
    vm = None
    cluster_max = None
    if spec.compute:
        vm, cluster_max, compute_findings = check_compute(spec, ml_client, sizes)
        findings += compute_findings
    elif spec.instance_type:
        vm = sizes.get(spec.instance_type.lower())
        if vm is None:
            findings.append(
                Finding(
                    "error",
                    "instance-type-unknown",
                    f"instance type {spec.instance_type} is not offered in this workspace's region; "
                    f"pick one from `az ml compute list-sizes`",
                )
            )
    if vm is not None:
        findings += check_vm(spec, vm, cluster_max)
        findings += check_quota(spec, vm, ml_client)
    findings += check_environment(spec, ml_client)
    return [f for f in findings if f.code not in skip]


def check_secrets(spec: JobSpec) -> list[Finding]:
    """Secret-looking environment variables, arguments and input paths (values are never shown)."""
    from ..secrets_guard import check_command_line, check_environment_variables, check_input_paths

    allow = spec.preflight.allow
    return [
        *check_environment_variables(spec.user_environment_variables, allow=allow),
        *check_command_line(spec.args if spec.script else {}, None if spec.script else spec.command, allow),
        *check_input_paths({name: item.path for name, item in spec.inputs.items()}),
    ]


def check_snapshot_of(spec: JobSpec) -> list[Finding]:
    """Size and file count of the code snapshot that would be uploaded."""
    from .snapshot import check_snapshot

    return check_snapshot(spec.code) if spec.code is not None else []  # no local code: nothing uploaded


def _vm_sizes(ml_client: Any) -> dict[str, VmInfo]:
    with translated("listing the workspace's VM sizes"):
        sizes = list(ml_client.compute.list_sizes())
    table = {}
    for size in sizes:
        name = _field(size, "name")
        if name:
            table[name.lower()] = VmInfo(
                name, int(_field(size, "gpus") or 0), _field(size, "v_cp_us", "vCPUs"), _field(size, "family")
            )
    return table


def _field(obj: Any, *names: str) -> Any:
    """The first non-None of ``obj``'s attributes (or keys) ``names``.

    azure-ai-ml 1.35 copies some REST payloads into ``__dict__`` unconverted: ``VmSize.v_cp_us`` is None
    while ``vCPUs`` holds the number, ``Usage.name`` is a dict. Read both spellings.
    """
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


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


def check_compute(
    spec: JobSpec, ml_client: Any, sizes: dict[str, VmInfo]
) -> tuple[VmInfo | None, int | None, list[Finding]]:
    """The compute exists; return its VM size and maximum node count for the next checks."""
    flavour = spec.flavour
    try:
        with translated(f"looking up compute {spec.compute!r}"):
            compute = ml_client.compute.get(spec.compute)
    except Exception as exc:  # translated() chains the SDK's error
        if _not_found(exc):
            names = _compute_names(ml_client)
            have = f" (this workspace has: {', '.join(names)})" if names else ""
            return (
                None,
                None,
                [
                    Finding(
                        "error",
                        "compute-not-found",
                        f"compute {spec.compute!r} does not exist{have}; create it or fix "
                        f"`compute.{flavour}` in the job config",
                    )
                ],
            )
        raise
    size_name = getattr(compute, "size", None)
    max_nodes = getattr(compute, "max_instances", None)
    if not size_name:
        kind = getattr(compute, "type", "unknown")
        return (
            None,
            None,
            [
                Finding(
                    "warning",
                    "compute-size-unknown",
                    f"compute {spec.compute!r} ({kind}) reports no VM size; GPUs not checked",
                )
            ],
        )
    vm = sizes.get(str(size_name).lower())
    if vm is None:
        return (
            None,
            max_nodes,
            [
                Finding(
                    "warning",
                    "vm-size-unknown",
                    f"VM size {size_name} of compute {spec.compute!r} is not in the region's "
                    f"size list; GPUs not checked",
                )
            ],
        )
    return vm, max_nodes, []


def _compute_names(ml_client: Any) -> list[str]:
    try:
        return sorted(c.name for c in ml_client.compute.list())[:10]
    except Exception:  # only decoration for a message: never let it hide the real finding
        return []


def check_vm(spec: JobSpec, vm: VmInfo, cluster_max: int | None) -> list[Finding]:
    """GPUs of the VM size against use_gpu; processes per node; nodes against the cluster's maximum."""
    findings = []
    where = f"compute {spec.compute!r} ({vm.name})" if spec.compute else f"instance type {vm.name}"
    if spec.use_gpu and vm.gpus == 0:
        findings.append(
            Finding(
                "error",
                "gpu-on-cpu-vm",
                f"use_gpu is true but {where} has no GPU; the job would train on the CPU. "
                f"Point `compute.gpu` at a GPU cluster (e.g. Standard_NC*, ND*) or run with --cpu",
            )
        )
    if not spec.use_gpu and vm.gpus > 0:
        findings.append(
            Finding(
                "warning",
                "idle-gpus",
                f"use_gpu is false but {where} has {vm.gpus} GPU(s) that would be paid for and "
                f"left idle; use --gpu or a CPU cluster in `compute.cpu`",
            )
        )
    procs = spec.processes_per_node
    if spec.use_gpu and vm.gpus > 0 and procs > vm.gpus:
        findings.append(
            Finding(
                "error",
                "too-many-processes",
                f"process_count_per_instance is {procs} but {where} has {vm.gpus} GPU(s) per node; "
                f"set distribution.process_count_per_instance to {vm.gpus} or less",
            )
        )
    if cluster_max is not None and spec.instance_count > cluster_max:
        findings.append(
            Finding(
                "error",
                "too-many-nodes",
                f"instance_count is {spec.instance_count} but compute {spec.compute!r} scales to "
                f"at most {cluster_max} node(s); lower instance_count or raise the cluster's max nodes",
            )
        )
    return findings


def check_quota(spec: JobSpec, vm: VmInfo, ml_client: Any) -> list[Finding]:
    """A warning when the VM family's core quota cannot hold the job (where usage is available)."""
    if not vm.family or not vm.vcpus:
        return []
    try:
        with translated("reading core quota"):
            usages = list(ml_client.compute.list_usage())
    except Exception:
        return [Finding("warning", "quota-unknown", "could not read core quota; skipped the quota check")]
    family = vm.family.lower()
    for usage in usages:
        name = _field(_field(usage, "name") or {}, "value") or ""
        if str(name).lower() != family:
            continue
        limit = _field(usage, "limit")
        current = _field(usage, "current_value", "currentValue") or 0
        needed = vm.vcpus * spec.instance_count
        if limit is not None and current + needed > limit:
            return [
                Finding(
                    "warning",
                    "quota",
                    f"the job needs {needed} {vm.family} cores; {current} of {limit} are in use, so it "
                    f"would queue until cores free up; request more quota or use fewer nodes",
                )
            ]
        return []
    return []


def check_environment(spec: JobSpec, ml_client: Any) -> list[Finding]:
    """The environment resolves; CUDA-or-not matches use_gpu."""
    ref = spec.environment
    name = ref.shown
    if ref.source in ("file", "inline"):
        env: Any = ref  # validated when the job was planned: its image, conda file content and name
    else:
        env_name, version, label = ref.name_version
        try:
            if ref.source == "registry":
                from .workspace import registry_client

                with translated(f"looking up environment {name}"):
                    env = registry_client(ml_client, ref.registry).environments.get(
                        env_name, version=version, label=label
                    )
            else:
                with translated(f"looking up environment {name}"):
                    env = ml_client.environments.get(env_name, version=version, label=label)
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
    device = environment_device(
        getattr(env, "image", None), getattr(env, "conda_file", None), getattr(env, "name", None)
    )
    if spec.use_gpu and device == "cpu":
        return [
            Finding(
                "error",
                "cpu-environment",
                f"use_gpu is true but environment {name} is CPU-only (its image or torch build has no "
                f"CUDA); use a CUDA environment in `environment.gpu`, e.g. environments/gpu.yaml",
            )
        ]
    if spec.use_gpu and device == "unknown":
        return [
            Finding(
                "warning",
                "environment-device-unknown",
                f"cannot tell whether environment {name} has CUDA; the training script will stop if "
                f"torch cannot see the GPU",
            )
        ]
    if not spec.use_gpu and device == "cuda":
        return [
            Finding(
                "warning",
                "cuda-environment-on-cpu",
                f"use_gpu is false but environment {name} is a CUDA one: it works, but the image is "
                f"larger and slower to start; use a CPU environment in `environment.cpu`",
            )
        ]
    return []


def format_findings(findings: list[Finding]) -> str:
    """The findings as a small table (severity, code, message), errors first."""
    if not findings:
        return "preflight: all checks passed"
    from ..progress import table

    ordered = sorted(findings, key=lambda f: (not f.is_error, f.code))
    return table(["SEVERITY", "CODE", "MESSAGE"], [[f.severity.upper(), f.code, f.message] for f in ordered])

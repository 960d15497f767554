"""A local environment file checked without Azure: CUDA or not against ``use_gpu``, and its torch pin.

A job that names an environment YAML (``environment: file:envs/gpu.yaml``) can be judged from that file and
its conda file: a CPU-only image or torch build under ``use_gpu`` would train on the CPU of a GPU node;
a torch pinned to another major.minor than the one this machine runs means the script was tested on a
different torch than the cloud will run. Reads plain YAML (no azure.ai.ml), so ``validate`` can run it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .._nested import nested_strings
from ..azureml.environment_device import device_findings
from ..findings import Finding
from ..planning.spec import JobSpec

_TORCH_PIN = re.compile(r"^\s*(?:pytorch|torch)\s*(?:==|=)\s*(\d+)\.(\d+)(?:\.[\w.]+)?(?:\+(\w+))?", re.I)


def check_environment_file(spec: JobSpec) -> list[Finding]:
    """Findings for ``spec``'s environment when it is a local file (else none: that needs the workspace)."""
    if spec.environment.source != "file":
        return []
    from ..config.yaml_source import display_path

    path = Path(spec.environment.ref)
    shown = display_path(path)
    document = _read_yaml(path)
    if not isinstance(document, dict):
        return [
            Finding(
                "error",
                "environment-invalid",
                f"environment file {path} is not a YAML mapping of an Azure ML environment",
            )
        ]
    conda = _conda_of(document, path.parent)
    image = (
        document.get("image")
        if isinstance(document.get("image"), str)
        else _dockerfile_base(document, path.parent)
    )
    name = document.get("name") if isinstance(document.get("name"), str) else None
    findings = device_findings(spec.use_gpu, f"environment file {shown}", image, conda, name)
    findings += _torch_findings(shown, conda)
    return findings


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where it is built in
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None


def _conda_of(document: dict[str, Any], folder: Path) -> Any:
    conda = document.get("conda_file")
    if isinstance(conda, str):
        return _read_yaml(folder / conda)
    return conda


def _dockerfile_base(document: dict[str, Any], folder: Path) -> str | None:
    """The FROM image of a ``build:`` context's Dockerfile (what the environment is built on)."""
    build = document.get("build")
    if not isinstance(build, dict) or not isinstance(build.get("path"), str):
        return None
    dockerfile = folder / build["path"] / str(build.get("dockerfile_path") or "Dockerfile")
    try:
        lines = dockerfile.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    bases = [
        line.split()[1]
        for line in lines
        if line.strip().upper().startswith("FROM ") and len(line.split()) > 1
    ]
    return bases[-1] if bases else None


def _torch_findings(path: str, conda: Any) -> list[Finding]:
    pinned = torch_pin(conda)
    local = local_torch_version()
    if pinned is None or local is None or pinned[:2] == local[:2]:
        return []
    return [
        Finding(
            "warning",
            "torch-version-mismatch",
            f"environment file {path} pins torch {pinned[0]}.{pinned[1]} but this machine runs torch "
            f"{local[0]}.{local[1]}: the cloud will not run the torch the script was tested with here; pin the "
            "same major.minor in both places",
        )
    ]


def torch_pin(conda: Any) -> tuple[int, int] | None:
    """``(major, minor)`` of the torch a conda file pins (conda or pip dependency), or None."""
    for dependency in nested_strings(conda):
        match = _TORCH_PIN.match(dependency)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def local_torch_version() -> tuple[int, int] | None:
    """``(major, minor)`` of the torch this interpreter would import, read from the name of its
    ``torch-X.Y.Z.dist-info`` folder next to the package (neither torch nor importlib.metadata, 15 ms,
    is imported: validate's start-up counts)."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    site = Path(next(iter(spec.submodule_search_locations))).parent
    for info in sorted(site.glob("torch-*.dist-info")):
        match = re.match(r"torch-(\d+)\.(\d+)", info.name)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None

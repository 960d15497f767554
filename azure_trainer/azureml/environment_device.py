"""Tell a CUDA environment from a CPU-only one, from what it will really install, and say how we know.

The evidence, strongest first:

1. the torch pin: ``torch==2.5.1+cu121`` (a CUDA build) or ``+cpu`` (a CPU build), then the wheel index
   (``--extra-index-url https://download.pytorch.org/whl/cu121`` or ``.../whl/cpu``);
2. other CUDA packages: ``pytorch-cuda`` / ``cudatoolkit`` (conda), ``nvidia-*-cu12`` wheels; ``cpuonly``;
3. the image: a CUDA base image (``cuda``, ``cudnn``, ``acpt``, ``-gpu``) or a plain OS one (``ubuntu`` ...);
4. the environment's name, only as a last hint (``pytorch-gpu`` says nothing about what is installed), and
   reported as such.

Packages come before the image: CUDA wheels carry the CUDA runtime (the GPU node supplies the driver), so
an Ubuntu image with ``torch+cu121`` trains on the GPU, and a CUDA image with a ``+cpu`` torch does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

EnvironmentDevice = Literal["cuda", "cpu", "unknown"]
Evidence = Literal["packages", "image", "name"]

_TORCH = re.compile(r"^\s*(?:torch|pytorch)\s*(?:[=<>!~]=?|\s|$)", re.I)
_TORCH_CUDA = re.compile(r"\+cu\d+", re.I)
_TORCH_CPU = re.compile(r"\+cpu\b", re.I)
_INDEX_CUDA = re.compile(r"/whl/cu\d+", re.I)
_INDEX_CPU = re.compile(r"/whl/cpu\b", re.I)
_CUDA_PACKAGE = re.compile(
    r"^\s*(?:pytorch-cuda|cudatoolkit|cuda-toolkit|cuda-runtime|nvidia-[a-z0-9-]*cu\d+)\b", re.I
)
_CPU_PACKAGE = re.compile(r"^\s*cpuonly\b", re.I)
_CUDA_IMAGE = re.compile(r"cuda|cudnn|acpt|nvidia|-gpu\b|\bgpu\b", re.I)
_CPU_IMAGE = re.compile(r"-cpu\b|\bcpu\b|ubuntu|debian|alpine|centos|mariner|(?:^|/)python:", re.I)
_CUDA_NAME = re.compile(r"cuda|gpu|acpt", re.I)
_CPU_NAME = re.compile(r"cpu", re.I)


@dataclass(frozen=True)
class DeviceGuess:
    """What an environment runs on, the kind of evidence, and the evidence itself (for messages)."""

    device: EnvironmentDevice
    evidence: Evidence | None = None
    detail: str = ""

    @property
    def because(self) -> str:
        """`` (its pip pin torch==2.5.1+cu121)``-style clause for a message; empty when unknown."""
        if self.evidence == "packages":
            return f" (its package pin {self.detail})"
        if self.evidence == "image":
            return f" (its image {self.detail})"
        if self.evidence == "name":
            return f" (only its name {self.detail!r} suggests it)"
        return ""


def environment_device(image: str | None, conda_file: Any = None, name: str | None = None) -> DeviceGuess:
    """Judge an environment by its pins, then its image, then (a hint only) its name."""
    deps = _flatten(conda_file)
    for pattern, device in ((_TORCH_CUDA, "cuda"), (_TORCH_CPU, "cpu")):
        pin = next((d for d in deps if _TORCH.match(d) and pattern.search(d)), None)
        if pin:
            return DeviceGuess(device, "packages", pin.strip())
    for pattern, device in (
        (_INDEX_CUDA, "cuda"),
        (_INDEX_CPU, "cpu"),
        (_CUDA_PACKAGE, "cuda"),
        (_CPU_PACKAGE, "cpu"),
    ):
        found = next((d for d in deps if pattern.search(d)), None)
        if found:
            return DeviceGuess(device, "packages", found.strip())  # type: ignore[arg-type]
    if image and _CUDA_IMAGE.search(image):
        return DeviceGuess("cuda", "image", image)
    if image and _CPU_IMAGE.search(image):
        return DeviceGuess("cpu", "image", image)
    if name and _CUDA_NAME.search(name):
        return DeviceGuess("cuda", "name", name)
    if name and _CPU_NAME.search(name):
        return DeviceGuess("cpu", "name", name)
    return DeviceGuess("unknown")


def _flatten(conda_file: Any) -> list[str]:
    """Every string of a conda file (a dict, as azure-ai-ml parses it, or its YAML text)."""
    if conda_file is None:
        return []
    if isinstance(conda_file, str):
        try:
            import yaml

            parsed = yaml.safe_load(conda_file)
        except Exception:  # a conda file we cannot parse is judged line by line
            return conda_file.splitlines()
        return _flatten(parsed) if not isinstance(parsed, str) else [parsed]
    if isinstance(conda_file, dict):
        return [item for value in conda_file.values() for item in _flatten(value)]
    if isinstance(conda_file, list):
        return [item for value in conda_file for item in _flatten(value)]
    return [str(conda_file)]


def device_findings(use_gpu: bool, label: str, image: str | None, conda_file: Any, name: str | None) -> list:
    """The findings for an environment (``label``, e.g. "environment azureml:x:1") against ``use_gpu``:
    a CPU-only one under use_gpu is an error; a CUDA one without it, or one that cannot be told (or only
    by its name), a warning. Shared by preflight (workspace and registry environments) and the offline
    check of a local environment file."""
    from ..findings import Finding

    guess = environment_device(image, conda_file, name)
    if guess.evidence == "name" or guess.device == "unknown":
        if not use_gpu:
            return []
        hint = f"; only its name {guess.detail!r} suggests {guess.device.upper()}" if guess.detail else ""
        return [
            Finding(
                "warning",
                "environment-device-unknown",
                f"cannot tell from {label}'s image ({image or 'none'}) or its packages whether it has CUDA{hint}; "
                "the training script stops at once if torch cannot see the GPU. Pin a CUDA build "
                "(torch==X+cu121) or use a CUDA base image",
            )
        ]
    if use_gpu and guess.device == "cpu":
        return [
            Finding(
                "error",
                "cpu-environment",
                f"use_gpu is true but {label} is CPU-only{guess.because}: the job would train on the CPU of a "
                "GPU node; use a CUDA environment in `environment.gpu`, e.g. environments/gpu.yaml",
            )
        ]
    if not use_gpu and guess.device == "cuda":
        return [
            Finding(
                "warning",
                "cuda-environment-on-cpu",
                f"use_gpu is false but {label} is a CUDA one{guess.because}: it works, but the image is larger "
                "and slower to start; use a CPU environment in `environment.cpu`",
            )
        ]
    return []

"""Tell a CUDA environment from a CPU-only one, from its image and its conda/pip dependencies."""

from __future__ import annotations

import re
from typing import Any, Literal

EnvironmentDevice = Literal["cuda", "cpu", "unknown"]

_CUDA_HINTS = re.compile(
    r"cuda|cudnn|\bgpu\b|-gpu|acpt|nvidia|\+cu\d+|/whl/cu\d+|pytorch-cuda|cudatoolkit", re.I
)
_CPU_HINTS = re.compile(r"\+cpu\b|/whl/cpu\b|cpuonly|\bcpu\b|-cpu", re.I)


def environment_device(
    image: str | None, conda_file: Any = None, name: str | None = None
) -> EnvironmentDevice:
    """'cuda' when the image or the pinned packages bring CUDA, 'cpu' when they are CPU builds, else 'unknown'.

    The image decides first: a CUDA base image can run a GPU build of torch; a plain one cannot,
    whatever pip installs on top, because the driver libraries come with the image.
    """
    texts = [image or "", name or ""]
    deps = _flatten(conda_file)
    if image and _CUDA_HINTS.search(image):
        if any(_CPU_HINTS.search(d) for d in deps if "torch" in d or "pytorch" in d):
            return "cpu"  # CUDA image, but torch pinned to a CPU build
        return "cuda"
    if any(_CUDA_HINTS.search(t) for t in texts if t):
        return "cuda"
    if image and (_CPU_HINTS.search(image) or "ubuntu" in image.lower()):
        return "cpu"
    if any(_CPU_HINTS.search(t) for t in texts if t):
        return "cpu"
    return "unknown"


def _flatten(conda_file: Any) -> list[str]:
    if conda_file is None:
        return []
    if isinstance(conda_file, str):
        return [conda_file]
    if isinstance(conda_file, dict):
        out: list[str] = []
        for value in conda_file.values():
            out.extend(_flatten(value))
        return out
    if isinstance(conda_file, list):
        out = []
        for value in conda_file:
            out.extend(_flatten(value))
        return out
    return [str(conda_file)]

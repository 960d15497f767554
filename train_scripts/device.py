"""Choosing the device at run time, the strict-GPU check, and the environment banner."""

from __future__ import annotations

import os
import platform

import torch
from contract import REQUIRE_GPU_ENV


class GPURequiredError(RuntimeError):
    """A GPU was required (env or ``--device cuda``) and no CUDA device is visible."""


def gpu_required(requested: str) -> bool:
    """True when the job asked for a GPU: ``AZURE_TRAINER_REQUIRE_GPU=1`` or ``--device cuda``."""
    return os.environ.get(REQUIRE_GPU_ENV, "0").strip() == "1" or requested == "cuda"


def no_gpu_message(requested: str) -> str:
    """Explain why no CUDA device is visible, naming the usual causes."""
    why = f"{REQUIRE_GPU_ENV}=1" if os.environ.get(REQUIRE_GPU_ENV, "0").strip() == "1" else "--device cuda"
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    lines = [
        f"GPU required ({why}) but no CUDA device is visible to PyTorch.",
        "Likely causes:",
        "  - the compute target's VM size has no GPU (pick an NC/ND-series size, or set use_gpu: false);",
    ]
    if torch.version.cuda is None:
        lines.append(
            f"  - this environment has a CPU build of torch ({torch.__version__}, torch.version.cuda is None)"
            " -> use a CUDA build / a GPU environment image;"
        )
    else:
        lines.append(
            f"  - a CPU build of torch in the environment (here torch {torch.__version__} is built for "
            f"CUDA {torch.version.cuda}, so check the driver instead);"
        )
    if cvd is not None and cvd.strip() in ("", "-1", "none", "NoDevFiles"):
        lines.append(f"  - CUDA_VISIBLE_DEVICES={cvd!r} hides every GPU (it is set, and empty or invalid);")
    else:
        lines.append(f"  - an empty or invalid CUDA_VISIBLE_DEVICES (now {cvd!r});")
    lines.append("  - the NVIDIA driver is missing or does not match the CUDA runtime.")
    return "\n".join(lines)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(requested: str, local_rank: int = 0) -> torch.device:
    """Resolve ``auto|cuda|cpu|mps`` to a device; raise GPURequiredError when a GPU is required and absent.

    This touches no data, so the strict check fails before anything is loaded.
    """
    if gpu_required(requested) and not torch.cuda.is_available():
        raise GPURequiredError(no_gpu_message(requested))
    if requested == "cpu" and gpu_required(requested):
        # Asking for the CPU while the job demands a GPU is a contradiction; the GPU wins.
        requested = "cuda"
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        index = local_rank % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    if requested == "mps" or (requested == "auto" and _mps_available()):
        if not _mps_available():
            raise GPURequiredError("--device mps but MPS is not available on this machine.")
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device: torch.device) -> str:
    """A human name for the device: the GPU's model, else the CPU's (``platform``'s best guess)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return cpu_model_name()


def cpu_model_name() -> str:
    """The CPU's model name from /proc/cpuinfo where there is one, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast is worth using on this device (native bf16 on CUDA)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return False


def environment_lines(device: torch.device) -> list[str]:
    """The banner printed first: torch/CUDA versions, devices, bf16 support, CPU count."""
    lines = [
        f"torch {torch.__version__} | CUDA build {torch.version.cuda} | cuDNN "
        f"{torch.backends.cudnn.version() if torch.cuda.is_available() else None} "
        f"| python {platform.python_version()}",
    ]
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        lines.append(f"CUDA devices: {torch.cuda.device_count()} {names}")
    else:
        lines.append(f"CUDA devices: 0 (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
    lines.append(
        f"device: {device} | bf16 supported: {bf16_supported(device)} | "
        f"CPU count: {os.cpu_count()} | torch threads: {torch.get_num_threads()}"
    )
    return lines

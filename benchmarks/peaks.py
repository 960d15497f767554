"""Peak dense TFLOP/s of the GPUs Azure ML offers, for model-FLOPs utilisation (MFU).

One table, used by every benchmark. Values are the vendors' datasheet peaks *without* structured
sparsity (NVIDIA prints the sparse figure, twice the dense one, in bold), per GPU, for the precision a
run uses: ``16bit`` (bf16, or fp16 on V100/T4, on the tensor cores), ``tf32`` (fp32 math with TF32 allowed)
and ``fp32`` (true fp32, TF32 off). A name is matched on whole tokens of ``torch.cuda.get_device_name()``,
most specific first, so "NVIDIA L40S" is not an L40, an L40 is not an L4, "NVIDIA H200 NVL" (600 W,
PCIe) is not the SXM H200, and "NVIDIA A100-SXM4-80GB" is not an A10.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Peak:
    label: str
    tokens: tuple[str, ...]  # every one must be a token of the device name
    bf16: float | None  # dense 16-bit tensor-core TFLOP/s (fp16 where the GPU has no bf16)
    tf32: float | None
    fp32: float

    def for_precision(self, precision: str, tf32: bool = True) -> float | None:
        if precision in ("bf16", "fp16"):
            return self.bf16
        return self.tf32 if tf32 and self.tf32 else self.fp32


# Most specific first: the first entry whose tokens are all in the name wins.
GPU_PEAKS = (
    Peak("H200 NVL", ("H200", "NVL"), 835.0, 417.5, 60.0),
    Peak("GH200", ("GH200",), 989.4, 494.7, 66.9),
    Peak("H200 SXM", ("H200",), 989.4, 494.7, 66.9),
    Peak("H100 NVL", ("H100", "NVL"), 835.0, 417.5, 60.0),
    Peak("H100 PCIe", ("H100", "PCIE"), 756.5, 378.0, 51.2),
    Peak("H100 SXM", ("H100",), 989.4, 494.7, 66.9),
    Peak("A100", ("A100",), 312.0, 156.0, 19.5),
    Peak("A10", ("A10",), 125.0, 62.5, 31.2),
    Peak("L40S", ("L40S",), 362.1, 183.0, 91.6),
    Peak("L40", ("L40",), 181.0, 90.5, 90.5),
    Peak("L4", ("L4",), 121.0, 60.0, 30.3),
    Peak("V100 PCIe", ("V100", "PCIE"), 112.0, None, 14.0),
    Peak("V100 SXM2", ("V100",), 125.0, None, 15.7),
    Peak("T4", ("T4",), 65.0, None, 8.1),
    Peak("MI300X", ("MI300X",), 1307.4, 653.7, 163.4),
)
SOURCE = "vendor datasheet, dense (no sparsity)"


def name_tokens(name: str) -> set[str]:
    return set(re.findall(r"[A-Z0-9]+", name.upper()))


def gpu_peak(name: str) -> Peak | None:
    """The table entry for a device name, or None for a GPU the table does not know."""
    tokens = name_tokens(name)
    for peak in GPU_PEAKS:
        if all(t in tokens for t in peak.tokens):
            return peak
    return None


def peak_tflops(device_type: str, name: str, precision: str, tf32: bool = True) -> tuple[float | None, str]:
    """(peak TFLOP/s, where it comes from) for a device and the precision the run used."""
    if device_type != "cuda":
        return cpu_peak_estimate(), "rough CPU estimate (cores x AVX2 FMA x 2.5 GHz), not a spec"
    peak = gpu_peak(name)
    if peak is None:
        return None, f"unknown GPU {name!r}: no peak in benchmarks/peaks.py"
    kind = "16-bit" if precision in ("bf16", "fp16") else ("tf32" if tf32 and peak.tf32 else "fp32")
    return peak.for_precision(precision, tf32), f"{peak.label} {kind}, {SOURCE}"


def cpu_peak_estimate() -> float:
    """Rough: cores x 2 FMA units x 8 fp32 lanes (AVX2) x 2 FLOP x 2.5 GHz. Only an order of magnitude."""
    return (os.cpu_count() or 1) * 2 * 8 * 2 * 2.5e9 / 1e12

"""Timing a training step the same way in every benchmark.

Warm-up (and compilation, which happens in it) is timed on its own; then a timed run of either a fixed
number of steps or as many as cover ``min_seconds``. On a GPU the timed run sits between two CUDA events
with one synchronisation at its end (a host timer around asynchronous launches would measure the
launches); on the CPU, where work is done when the call returns, perf_counter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(
    step: Callable[[], None], steps: int, device: torch.device, finish: Callable[[], None] | None = None
) -> float:
    """Seconds for ``steps`` calls of ``step`` (then ``finish``, e.g. the loop's one host read)."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps):
            step()
        if finish is not None:
            finish()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000.0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if finish is not None:
        finish()
    return time.perf_counter() - t0


def measure(
    step: Callable[[], None],
    device: torch.device,
    *,
    warmup: int = 3,
    steps: int | None = None,
    min_seconds: float = 1.0,
    max_steps: int = 100_000,
    finish: Callable[[], None] | None = None,
) -> dict:
    """Warm up, then time ``steps`` steps, or as many as cover ``min_seconds`` (doubling, capped)."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    if finish is not None:
        finish()
    sync(device)
    warmup_s = time.perf_counter() - t0
    n = steps or 1
    while True:
        seconds = timed(step, n, device, finish)
        if steps or seconds >= min_seconds or n >= max_steps:
            break
        n = min(max_steps, max(2 * n, math.ceil(n * 1.2 * min_seconds / max(seconds, 1e-9))))
    return {"warmup_steps": warmup, "warmup_and_compile_s": warmup_s, "timed_steps": n, "timed_s": seconds}

"""azure-trainer's contract with a training script, and a drop-in helper that honours it.

Copy this one file next to your own training script (or put it on the environment's path) and::

    import contract

    job = contract.start("outputs/checkpoints")  # device, process group, SIGTERM, status channel
    model = MyModel().to(job.device)
    net = job.distribute(model)                  # DDP when WORLD_SIZE > 1, else the model itself
    opt = torch.optim.AdamW(model.parameters())
    for step in range(job.resume(model=model, optimizer=opt), total_steps):
        ...                                      # forward, backward, opt.step() as usual
        job.step(step + 1, loss=loss)            # metrics; checkpoint on time; SIGTERM: save, exit 75
    job.finish()                                 # final checkpoint, "finished", clean teardown

What that buys, on a laptop, under ``azure-trainer run-local`` and on an Azure ML cluster alike:

* **The GPU requirement.** With ``AZURE_TRAINER_REQUIRE_GPU=1`` (a ``use_gpu: true`` job) and no CUDA
  device, :func:`start` prints why and exits ``EXIT_NO_GPU`` (78) before any data is read; more local
  processes than GPUs is a clear error (exit 2) instead of two ranks sharing a GPU until NCCL fails.
* **Distribution.** ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (torchrun, Azure ML's PyTorch distribution)
  start the process group (nccl on CUDA, gloo on the CPU), with the contract's collective timeout
  (``AZURE_TRAINER_COLLECTIVE_TIMEOUT_S``, 300 s by default) instead of gloo's 30 minutes.
* **Preemption.** SIGTERM (how Azure ML reclaims a low-priority node) only sets a flag; at the next
  :meth:`Job.step` every rank agrees to stop, rank 0 writes a checkpoint and the process exits
  ``EXIT_PREEMPTED`` (75); a rerun resumes from the newest checkpoint that loads.
  ``AZURE_TRAINER_PREEMPT_AT_STEP=N`` (``run-local --preempt-at-step N``) rehearses exactly that.
* **Checkpoints** are atomic (temp file, fsync, rename), written by time (every 5 minutes by default),
  always on SIGTERM and at the end, and rotated.
* **Metrics** go to MLflow (when importable; Azure ML reads them there) and to the status channel, from a
  background thread: a step never waits for a tracking server or for the device.

Why one file that holds both the constants and the helper: a copied helper must carry the contract it
implements, and a script copied with only half of it would break at the first import. This is also the
reference script's copy of ``azure_trainer/contract.py``'s constants (this folder is uploaded on its own
and cannot import azure_trainer); a test keeps the two equal. Standard library and torch only; mlflow
and numpy are used when importable.

The status channel: when ``AZURE_TRAINER_STATUS_FILE`` is set (``run-local`` sets it), :func:`write_status`
appends one JSON object per line to that file, so the runner learns the device, the resume step and a
preemption without reading the human-readable log. azure_trainer/contract.py documents the records.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import inspect
import json
import math
import os
import platform
import queue
import random
import re
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

REQUIRE_GPU_ENV = "AZURE_TRAINER_REQUIRE_GPU"
PREEMPT_AT_STEP_ENV = "AZURE_TRAINER_PREEMPT_AT_STEP"
OBJECTIVE_METRIC_ENV = "AZURE_TRAINER_OBJECTIVE_METRIC"
STATUS_FILE_ENV = "AZURE_TRAINER_STATUS_FILE"
COLLECTIVE_TIMEOUT_ENV = "AZURE_TRAINER_COLLECTIVE_TIMEOUT_S"
DEFAULT_COLLECTIVE_TIMEOUT_S = 300.0

EVENT_DEVICE = "device"
EVENT_GPU_MISSING = "gpu_missing"
EVENT_START = "start"
EVENT_METRICS = "metrics"
EVENT_PREEMPTED = "preempted"
EVENT_FINISHED = "finished"
STATUS_EVENTS = (EVENT_DEVICE, EVENT_GPU_MISSING, EVENT_START, EVENT_METRICS, EVENT_PREEMPTED, EVENT_FINISHED)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PREEMPTED = 75
EXIT_NO_GPU = 78

DISTRIBUTED_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")

__all__ = [
    "COLLECTIVE_TIMEOUT_ENV",
    "CheckpointStore",
    "DEFAULT_COLLECTIVE_TIMEOUT_S",
    "DISTRIBUTED_ENV",
    "DistInfo",
    "EVENT_DEVICE",
    "EVENT_FINISHED",
    "EVENT_GPU_MISSING",
    "EVENT_METRICS",
    "EVENT_PREEMPTED",
    "EVENT_START",
    "EXIT_NO_GPU",
    "EXIT_OK",
    "EXIT_PREEMPTED",
    "EXIT_USAGE",
    "FP16_TENSOR_CORE_CAPABILITY",
    "GPURequiredError",
    "Job",
    "MLFLOW_DISABLE_ENV",
    "MetricsLogger",
    "NATIVE_BF16_CAPABILITY",
    "OBJECTIVE_METRIC_ENV",
    "PREEMPT_AT_STEP_ENV",
    "Preemption",
    "REQUIRE_GPU_ENV",
    "STATUS_EVENTS",
    "STATUS_FILE_ENV",
    "TooManyProcessesError",
    "all_reduce_sum",
    "any_rank",
    "aside_folder",
    "atomic_save",
    "autocast",
    "barrier",
    "checkpoint_path",
    "choose_precision",
    "collective_timeout_s",
    "configure_math",
    "cpu_model_name",
    "cuda_index",
    "device_name",
    "dist_info_from_env",
    "environment_lines",
    "finite_values",
    "gpu_required",
    "grad_scaler",
    "import_mlflow",
    "init_process_group",
    "list_checkpoints",
    "move_aside",
    "native_bf16",
    "no_gpu_message",
    "process_group_device_kwargs",
    "rng_state",
    "select_device",
    "set_rng_state",
    "set_tf32",
    "shutdown_process_group",
    "start",
    "tf32_enabled",
    "write_status",
]

# -- the status channel --------------------------------------------------------------------------------

_status_warned = False


def _global_rank() -> int:
    try:
        return int(os.environ.get("RANK", "0") or 0)
    except ValueError:
        return 0


def finite_values(values: dict) -> dict[str, float]:
    """The entries of ``values`` that are finite real numbers, as floats (JSON has no NaN)."""
    out = {}
    for name, value in values.items():
        if isinstance(value, (bool, str)) or value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor of more than one value
            continue
        if math.isfinite(number):
            out[str(name)] = number
    return out


def write_status(event: str, **fields) -> None:
    """Append one status record (``event``, ``rank``, ``time`` and ``fields``) to the status file.

    One ``os.write`` of one line on an ``O_APPEND`` descriptor, so the records of several ranks never
    interleave. A failure to write is one warning on stderr, never an error: training goes on.
    """
    global _status_warned
    path = os.environ.get(STATUS_FILE_ENV)
    if not path:
        return
    try:
        record = {"event": event, "rank": _global_rank(), "time": time.time(), **fields}
        line = (json.dumps(record, allow_nan=False) + "\n").encode("utf-8")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except (OSError, ValueError, TypeError) as exc:
        if not _status_warned:
            _status_warned = True
            print(
                f"WARNING: cannot write the status file {path} ({STATUS_FILE_ENV}): {exc}; "
                f"training goes on, but the runner will not see this run's status",
                file=sys.stderr,
                flush=True,
            )


# -- processes and the process group -------------------------------------------------------------------


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in the job, from the variables torchrun and Azure ML set."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int | None = None  # LOCAL_WORLD_SIZE when the launcher sets it (torchrun does)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info_from_env() -> DistInfo:
    """Read RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE (absent: one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    local_world = os.environ.get("LOCAL_WORLD_SIZE")
    return DistInfo(rank, world, local, int(local_world) if local_world else None)


def init_process_group(info: DistInfo, device: torch.device, timeout_s: float | None = None) -> None:
    """Join the process group when WORLD_SIZE > 1: nccl on CUDA, else gloo (MASTER_ADDR/PORT from env).

    ``device_id`` (eager NCCL init, bound to this rank's GPU) is passed only where this torch's
    ``init_process_group`` has the parameter: torch 2.2, which Azure ML's curated ACPT images carry,
    does not, and a version number would say less than the signature does.
    """
    if not info.enabled or (dist.is_available() and dist.is_initialized()):
        return
    timeout_s = timeout_s or collective_timeout_s()
    dist.init_process_group(
        backend="nccl" if device.type == "cuda" else "gloo",
        rank=info.rank,
        world_size=info.world_size,
        timeout=datetime.timedelta(seconds=timeout_s),
        **process_group_device_kwargs(device, dist.init_process_group),
    )


def collective_timeout_s() -> float:
    """``AZURE_TRAINER_COLLECTIVE_TIMEOUT_S`` (run-local sets it; a job's environment_variables may), else
    300 s: a rank that never arrives ends the job instead of hanging it for gloo's 30-minute default."""
    raw = os.environ.get(COLLECTIVE_TIMEOUT_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_COLLECTIVE_TIMEOUT_S
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value > 0):
        print(
            f"WARNING: {COLLECTIVE_TIMEOUT_ENV}={raw!r} is not a positive number of seconds; using "
            f"{DEFAULT_COLLECTIVE_TIMEOUT_S:g}",
            file=sys.stderr,
        )
        value = DEFAULT_COLLECTIVE_TIMEOUT_S
    return value


def process_group_device_kwargs(device: torch.device, init=None) -> dict:
    """``{"device_id": device}`` on CUDA when ``init`` (init_process_group) accepts it, else ``{}``."""
    init = init or dist.init_process_group
    if device.type != "cuda":
        return {}
    try:
        accepts = "device_id" in inspect.signature(init).parameters
    except (TypeError, ValueError):
        accepts = False
    return {"device_id": device} if accepts else {}


def shutdown_process_group() -> None:
    """Leave the process group, if one was set up (no-op with one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over ranks in place (no-op with one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any rank (a tiny all-reduce; reading it syncs)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier() -> None:
    """Wait until every rank gets here (no-op with one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


# -- the device, its precision and its math ------------------------------------------------------------


class GPURequiredError(RuntimeError):
    """A GPU was required (``AZURE_TRAINER_REQUIRE_GPU=1`` or ``--device cuda``) and none is visible."""


class TooManyProcessesError(RuntimeError):
    """More processes on this machine than GPUs: they would share one and fail later in NCCL."""


def gpu_required(requested: str = "auto") -> bool:
    """True when the job asked for a GPU: ``AZURE_TRAINER_REQUIRE_GPU=1`` or ``requested == "cuda"``."""
    return os.environ.get(REQUIRE_GPU_ENV, "0").strip() == "1" or requested == "cuda"


def no_gpu_message(requested: str = "auto") -> str:
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


def _one_visible_device_per_process() -> bool:
    """CUDA_VISIBLE_DEVICES names exactly one GPU: the launcher gave each process its own."""
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return len([d for d in cvd.split(",") if d.strip()]) == 1


def cuda_index(local_rank: int, local_world_size: int | None, count: int) -> int:
    """This process's GPU: its local rank, or a TooManyProcessesError when the machine has too few."""
    wanted = max(local_rank + 1, local_world_size or 0)
    if wanted <= count:
        return local_rank
    if count == 1 and _one_visible_device_per_process():
        return 0
    raise TooManyProcessesError(
        f"{wanted} processes on this machine (LOCAL_RANK {local_rank}"
        + (f", LOCAL_WORLD_SIZE {local_world_size}" if local_world_size else "")
        + f") but {count} GPU{'s' if count != 1 else ''} visible: each process needs its own GPU; set "
        f"distribution.process_count_per_instance (torchrun --nproc-per-node) to at most {count}, or "
        f"pick a VM size with more GPUs"
    )


def select_device(requested: str = "auto", local_rank: int = 0, local_world_size: int | None = None):
    """Resolve ``auto|cuda|cpu|mps`` to a device; raise GPURequiredError when a GPU is required and absent.

    This touches no data, so the strict check fails before anything is loaded. ``--device cpu`` while
    the job requires a GPU is a contradiction: the GPU wins.
    """
    if gpu_required(requested) and not torch.cuda.is_available():
        raise GPURequiredError(no_gpu_message(requested))
    if requested == "cpu" and gpu_required(requested):
        requested = "cuda"
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        index = cuda_index(local_rank, local_world_size, torch.cuda.device_count())
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    if requested == "mps" or (requested == "auto" and _mps_available()):
        if not _mps_available():
            raise GPURequiredError("--device mps but MPS is not available on this machine.")
        return torch.device("mps")
    return torch.device("cpu")


NATIVE_BF16_CAPABILITY = (8, 0)  # Ampere and later: A100, A10, L4, L40S, H100, H200
FP16_TENSOR_CORE_CAPABILITY = (7, 0)  # Volta and Turing: V100, T4 (fp16 tensor cores, no bf16)


def choose_precision(device: torch.device, requested: str = "auto") -> str:
    """``bf16``, ``fp16`` or ``fp32`` for autocast on ``device``.

    ``auto``: bf16 where the GPU computes it natively (compute capability 8.0 or later), fp16 with a
    GradScaler on V100/T4 (7.x: fp16 tensor cores, bf16 only emulated, which
    ``torch.cuda.is_bf16_supported()`` counts as support), fp32 on older GPUs, the CPU and MPS.
    """
    if requested != "auto":
        return requested
    if device.type != "cuda":
        return "fp32"
    capability = tuple(torch.cuda.get_device_capability(device))
    if capability >= NATIVE_BF16_CAPABILITY:
        return "bf16"
    if capability >= FP16_TENSOR_CORE_CAPABILITY:
        return "fp16"
    return "fp32"


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware (not emulated)."""
    return device.type == "cuda" and tuple(torch.cuda.get_device_capability(device)) >= NATIVE_BF16_CAPABILITY


def autocast(device: torch.device, precision: str):
    """The autocast context for ``precision`` (a no-op for fp32)."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision == "fp16":
        return torch.autocast(device_type=device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def grad_scaler(device: torch.device, precision: str):
    """A GradScaler for fp16 on CUDA (small gradients would underflow without it), else None."""
    if precision != "fp16" or device.type != "cuda":
        return None
    if hasattr(torch.amp, "GradScaler"):  # torch >= 2.3; torch.cuda.amp's is deprecated there
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def set_tf32(enabled: bool) -> None:
    """TF32 for fp32 matmuls and convolutions on CUDA, so that every reader agrees.

    The legacy flags (``allow_tf32``) exist in every torch; from torch 2.9 on, setting them also sets
    the new ``fp32_precision`` values. Setting only the new ones (as torch's notes suggest) leaves the
    legacy state behind, and torch >= 2.9 then raises "mix of the legacy and new APIs" wherever the
    legacy one is read: ``torch.get_float32_matmul_precision()`` and ``torch.backends.cudnn.allow_tf32``,
    which Inductor reads when it autotunes (``--compile-mode max-autotune``). So: legacy first, then the
    new values for matmul, cuDNN convolutions and RNNs (cuDNN's legacy read requires the two to match).
    """
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    matmul.allow_tf32 = enabled
    cudnn.allow_tf32 = enabled
    if hasattr(matmul, "fp32_precision"):
        value = "tf32" if enabled else "ieee"
        matmul.fp32_precision = value
        for op in ("conv", "rnn"):
            if hasattr(getattr(cudnn, op, None), "fp32_precision"):
                getattr(cudnn, op).fp32_precision = value


def tf32_enabled() -> bool:
    """Whether fp32 matmuls may use TF32 (read through the same API :func:`set_tf32` writes)."""
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        return matmul.fp32_precision == "tf32"
    return bool(matmul.allow_tf32)


def configure_math(device: torch.device, *, deterministic: bool = False, tf32: bool = True) -> None:
    """The speed policy the reference script and the benchmarks share: on CUDA, cudnn.benchmark
    (autotuned convolutions) unless deterministic, and TF32 for fp32 math unless ``tf32`` is False."""
    if device.type != "cuda":
        return
    torch.backends.cudnn.benchmark = not deterministic
    set_tf32(tf32)


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


def device_name(device: torch.device) -> str:
    """A human name for the device: the GPU's model, else the CPU's."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return cpu_model_name()


def environment_lines(device: torch.device, precision: str | None = None) -> list[str]:
    """The banner a run prints first: torch/CUDA versions, devices, precision, CPU count."""
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
        f"device: {device} ({device_name(device)}) | precision {precision or choose_precision(device)} "
        f"| native bf16: {native_bf16(device)} | CPU count: {os.cpu_count()} "
        f"| torch threads: {torch.get_num_threads()}"
    )
    return lines


# -- preemption ------------------------------------------------------------------------------------------


class Preemption:
    """SIGTERM (how Azure ML preempts a low-priority node) only sets a flag; the loop acts on it.

    Installed from the start, so a SIGTERM during start-up cannot kill a half-written file.
    ``rehearse(step)`` implements ``AZURE_TRAINER_PREEMPT_AT_STEP``: it SIGTERMs this process at that
    step, so the real handler runs and the loop stops at its next stop check, as on a preempted node.
    """

    def __init__(self) -> None:
        self.requested = False
        self.rehearsal_step = int(os.environ.get(PREEMPT_AT_STEP_ENV, "0") or 0)
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handler)
        except ValueError:  # not the main thread: Python lets only that one install handlers
            self._previous = None
            print(
                "WARNING: SIGTERM handler not installed (start() was not called from the main thread)",
                file=sys.stderr,
            )

    def _handler(self, signum, frame) -> None:  # noqa: ARG002
        if not self.requested:
            print(
                f"SIGTERM received: checkpointing at the next step boundary (rank {_global_rank()})",
                flush=True,
            )
        self.requested = True

    def rehearse(self, step: int) -> None:
        if self.rehearsal_step and step == self.rehearsal_step:
            os.kill(os.getpid(), signal.SIGTERM)

    def uninstall(self) -> None:
        """Put back the SIGTERM handler that was there before (for callers that live on)."""
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None


# -- checkpoints -----------------------------------------------------------------------------------------

_CKPT_NAME = re.compile(r"^ckpt-(\d{9})\.pt$")


def atomic_save(obj, path) -> None:
    """torch.save to a temp file in the same folder, flush + fsync, then os.replace over ``path``.

    A reader (or a resumed run) sees the old file or the new one, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def checkpoint_path(directory, step: int) -> Path:
    """The file of the checkpoint at optimizer ``step`` in ``directory`` (zero-padded, so names sort by step)."""
    return Path(directory) / f"ckpt-{step:09d}.pt"


def list_checkpoints(directory) -> list[Path]:
    """Checkpoints in ``directory``, newest (highest step) first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = [p for p in d.iterdir() if _CKPT_NAME.match(p.name)]
    return sorted(found, key=lambda p: int(_CKPT_NAME.match(p.name).group(1)), reverse=True)


def aside_folder(parent, stamp: str | None = None) -> Path:
    """A new, not yet existing ``parent/previous-<UTC time>[-N]`` folder name."""
    stamp = stamp or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target, n = Path(parent) / f"previous-{stamp}", 1
    while target.exists():
        n += 1
        target = Path(parent) / f"previous-{stamp}-{n}"
    return target


def move_aside(paths, parent, stamp: str | None = None) -> Path | None:
    """Move the existing ``paths`` into a new ``parent/previous-<UTC time>/``; None if none exist.

    Nothing is deleted: the old run stays recoverable, and a new run neither resumes from nor overwrites it.
    """
    found = [Path(p) for p in paths if Path(p).exists()]
    if not found:
        return None
    target = aside_folder(parent, stamp)
    target.mkdir(parents=True)
    for path in found:
        os.replace(path, target / path.name)
    return target


class CheckpointStore:
    """A folder of ``ckpt-<step>.pt`` files: atomic writes, the newest ``keep`` kept, a time policy.

    ``due(step)`` says when a periodic checkpoint is owed: every ``every_s`` seconds of wall time
    (bookkeeping must not cost a GPU a full state copy every epoch) or every ``every_steps`` steps.
    SIGTERM and the end of training save regardless.
    """

    def __init__(self, directory, keep: int = 3, every_s: float = 300.0, every_steps: int = 0):
        if keep < 1:
            raise ValueError("keep must be >= 1")
        self.directory = Path(directory)
        self.keep, self.every_s, self.every_steps = keep, every_s, every_steps
        self._last_save = time.monotonic()

    def prepare(self) -> None:
        """Create the folder and prove a file can be written there (OSError if not): an unwritable
        folder must fail at start-up, not at the first checkpoint minutes of paid GPU time later."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.directory):
            pass

    def due(self, step: int) -> bool:
        if self.every_steps and step % self.every_steps == 0:
            return True
        return bool(self.every_s) and time.monotonic() - self._last_save >= self.every_s

    def save(self, state: dict, step: int) -> Path:
        """Write the checkpoint for ``step`` atomically and delete all but the newest ``keep``."""
        path = checkpoint_path(self.directory, step)
        atomic_save(state, path)
        for old in list_checkpoints(self.directory)[self.keep :]:
            old.unlink(missing_ok=True)
        self._last_save = time.monotonic()
        return path

    def load_latest(self, required=(), map_location="cpu", log=print):
        """``(state, path)`` of the newest checkpoint that loads and has every ``required`` key, else
        ``(None, None)``; a corrupt or incomplete one is skipped with a warning."""
        for path in list_checkpoints(self.directory):
            try:
                # weights_only=False: the checkpoint holds python/numpy RNG states; it is our own file.
                state = torch.load(path, map_location=map_location, weights_only=False)
                missing = [k for k in required if k not in state]
                if missing:
                    raise ValueError(f"missing keys {missing}")
                return state, path
            except Exception as exc:  # noqa: BLE001 - any failure to read means "try the previous one"
                log(
                    f"WARNING: skipping unreadable checkpoint {path}: {type(exc).__name__}: {exc}",
                    file=sys.stderr,
                )
        return None, None

    def move_aside(self, stamp: str | None = None) -> Path | None:
        """Move every checkpoint into ``previous-<UTC time>/``, so a later resume cannot pick them."""
        return move_aside(reversed(list_checkpoints(self.directory)), self.directory, stamp)


def rng_state() -> dict:
    """Every RNG a training step may draw from: python's, torch's (CPU and CUDA), numpy's if loaded."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        state["numpy"] = numpy.random.get_state()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the random generators (torch, Python, CUDA and numpy when saved) a checkpoint recorded."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        import numpy

        numpy.random.set_state(state["numpy"])


# -- metrics ---------------------------------------------------------------------------------------------

MLFLOW_DISABLE_ENV = "TRAIN_DISABLE_MLFLOW"


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _resolve(value):
    """A lazy metric value made concrete: a tensor read to a number, a zero-argument callable called."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value
    if callable(value):
        return value()
    return value


def import_mlflow():
    """mlflow when it is installed and not turned off (``TRAIN_DISABLE_MLFLOW=1``), else None.

    Imported on first use, not at the top: it takes seconds, and only rank 0 with tracking needs it.
    Inside Azure ML the service sets MLFLOW_TRACKING_URI (and the run); elsewhere mlflow's own default
    store applies, or whatever MLFLOW_TRACKING_URI says.
    """
    if os.environ.get(MLFLOW_DISABLE_ENV, "0") == "1":
        return None
    try:
        import mlflow
    except ImportError:
        return None
    return mlflow


class MetricsLogger:
    """Metrics off the hot path: ``log`` queues a record and returns; a background thread reads lazy
    values (tensors, zero-argument callables: the device is waited for there, not in the step), then
    writes each record to the status channel, to MLflow (every record queued so far in one batch call)
    and to any extra ``sinks`` (callables taking ``(step, record)``). ``flush`` waits for the queue;
    ``close`` flushes and ends the MLflow run it started. Only the main rank logs (``enabled``).
    """

    _STOP = object()

    def __init__(self, enabled: bool = True, params: dict | None = None, sinks=(), mlflow: bool = True):
        self.enabled = enabled
        self.sinks = list(sinks)
        self._queue: queue.Queue = queue.Queue()
        self._warned: set[str] = set()
        self._mlflow = self._client = self._run_id = None
        self._owns_run = False
        self._closed = False
        if not enabled:
            return
        if mlflow:
            self._start_mlflow(params)
        self._thread = threading.Thread(target=self._work, name="azure-trainer-metrics", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # -- the caller's side --------------------------------------------------------------------------
    def log(self, step: int, record: dict) -> None:
        """Queue ``record`` (names to numbers, tensors or callables; other values reach the sinks only)."""
        if not self.enabled or self._closed:
            return
        detached = {k: (v.detach() if isinstance(v, torch.Tensor) else v) for k, v in record.items()}
        self._queue.put((int(step), detached))

    def flush(self) -> None:
        if self.enabled and not self._closed:
            self._queue.join()

    def close(self, status: str = "FINISHED") -> None:
        if not self.enabled or self._closed:
            return
        self._queue.put(self._STOP)
        self._thread.join(timeout=120)
        self._closed = True
        if self._owns_run:
            with contextlib.suppress(Exception):
                self._mlflow.end_run(status=status)

    # -- MLflow ------------------------------------------------------------------------------------------
    def _start_mlflow(self, params: dict | None) -> None:
        mlflow = import_mlflow()
        if mlflow is None:
            return
        try:
            from mlflow.tracking import MlflowClient

            active = mlflow.active_run()
            self._owns_run = active is None
            run = active or mlflow.start_run()
            self._mlflow, self._client, self._run_id = mlflow, MlflowClient(), run.info.run_id
        except Exception as exc:  # noqa: BLE001 - tracking must never break training
            print(
                f"WARNING: MLflow logging disabled ({_one_line(exc)}); set MLFLOW_TRACKING_URI to enable it"
            )
            return
        if params:
            try:
                mlflow.log_params({k: v for k, v in params.items() if v is not None})
            except Exception as exc:  # noqa: BLE001
                print(f"WARNING: MLflow log_params failed: {_one_line(exc)}")

    def _mlflow_batch(self, batch: list[tuple[int, dict]]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(key=name, value=value, timestamp=now, step=step)
            for step, record in batch
            for name, value in finite_values({k: v for k, v in record.items() if k != "step"}).items()
        ]
        for start in range(0, len(metrics), 1000):  # MLflow's limit per log_batch call
            self._client.log_batch(self._run_id, metrics=metrics[start : start + 1000])

    # -- the background thread ------------------------------------------------------------------------
    def _work(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    items.append(self._queue.get_nowait())
            batch = [item for item in items if item is not self._STOP]
            stop = len(batch) < len(items)
            try:
                self._write(batch)
            finally:
                for _ in items:
                    self._queue.task_done()

    def _write(self, batch: list[tuple[int, dict]]) -> None:
        resolved = []
        for step, record in batch:
            record = self._guard("reading a metric", lambda r=record: {k: _resolve(v) for k, v in r.items()})
            if record is None:
                continue
            resolved.append((step, record))
            values = finite_values({k: v for k, v in record.items() if k != "step"})
            write_status(EVENT_METRICS, step=step, values=values)
            for sink in self.sinks:
                self._guard(
                    getattr(sink, "__name__", "a metrics sink"), lambda s=sink, n=step, r=record: s(n, r)
                )
        if resolved and self._client is not None:
            self._guard("MLflow log_batch", lambda: self._mlflow_batch(resolved))

    def _guard(self, what: str, fn):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - bookkeeping must never stop training
            if what not in self._warned:
                self._warned.add(what)
                print(
                    f"WARNING: {what} failed: {_one_line(exc)} (training goes on)",
                    file=sys.stderr,
                    flush=True,
                )
            return None


# -- the job, for user scripts ---------------------------------------------------------------------------


class Job:
    """This process's part of a training job: its device and place in the job, its checkpoints, its
    metrics and the preemption flag. Built by :func:`start`; see this module's docstring for the loop.
    """

    def __init__(
        self,
        info: DistInfo,
        device: torch.device,
        precision: str,
        checkpoints: CheckpointStore,
        metrics: MetricsLogger,
        preemption: Preemption,
        stop_check_every: int | None = None,
    ):
        self.info, self.device, self.precision = info, device, precision
        self.checkpoints, self.metrics, self.preemption = checkpoints, metrics, preemption
        self.gpu_required = gpu_required()
        # One process: the flag is a plain bool, free to read every step. Several: every rank must stop
        # at the same step, so they agree through an all-reduce, every step on the CPU (it is cheap
        # there) and every 20 on CUDA (each is a host sync).
        self.stop_check_every = stop_check_every or (20 if device.type == "cuda" else 1)
        self._objects: dict = {}
        self._last_step = 0
        self._closed = False

    # -- where this process stands ----------------------------------------------------------------------
    @property
    def rank(self) -> int:
        return self.info.rank

    @property
    def world_size(self) -> int:
        return self.info.world_size

    @property
    def is_main(self) -> bool:
        return self.info.is_main

    def print(self, *args, **kwargs) -> None:
        """print on rank 0 only (every rank runs the same code)."""
        if self.is_main:
            print(*args, **kwargs, flush=True)

    def distribute(self, model: torch.nn.Module, **ddp_options) -> torch.nn.Module:
        """``model`` wrapped in DistributedDataParallel (with ``ddp_options``) when the job has several
        processes, else ``model`` itself."""
        if not self.info.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, **ddp_options)

    def autocast(self):
        """Autocast to this job's precision (see :func:`choose_precision`)."""
        return autocast(self.device, self.precision)

    # -- the loop's decisions ---------------------------------------------------------------------------
    def should_stop(self, step: int) -> bool:
        """Whether to stop for a preemption now; the same answer on every rank."""
        if not self.info.enabled:
            return self.preemption.requested
        if step % self.stop_check_every:
            return False
        return any_rank(self.preemption.requested, self.device)

    def open_metrics(self, params: dict | None = None, sinks=(), mlflow: bool = True) -> MetricsLogger:
        """(Re)open the metrics logger: MLflow with ``params`` and extra ``sinks`` (rank 0 only)."""
        self.metrics.close()
        self.metrics = MetricsLogger(enabled=self.is_main, params=params, sinks=sinks, mlflow=mlflow)
        return self.metrics

    def log_metrics(self, step: int, values: dict) -> None:
        """Queue metrics for MLflow and the status channel (rank 0; never waits for the device)."""
        self.metrics.log(step, values)

    # -- checkpoints as dicts (the reference script's way) ---------------------------------------------
    def save_state(self, state: dict, step: int) -> Path | None:
        """Rank 0 writes ``state`` as the checkpoint of ``step`` (the other ranks hold the same state)."""
        return self.checkpoints.save(state, step) if self.is_main else None

    def load_state(self, required=()):
        """``(state, path)`` of the newest loadable checkpoint, or ``(None, None)``; on the CPU (RNG
        states must stay CPU tensors; ``load_state_dict`` moves the rest to the device)."""
        return self.checkpoints.load_latest(required, map_location="cpu", log=self._log_on_main)

    # -- what the runner is told ------------------------------------------------------------------------
    def announce_start(self, resumed_from_step: int = 0, checkpoint=None) -> None:
        if self.is_main:
            extra = {"checkpoint": str(checkpoint)} if checkpoint is not None else {}
            write_status(EVENT_START, resumed_from_step=int(resumed_from_step), **extra)

    def announce_preempted(self, step: int, checkpoint) -> None:
        """After the preemption checkpoint: flush the metrics, tell the runner, wait for every rank
        (a rank that left early would make torchrun kill rank 0 mid-write)."""
        self.metrics.flush()
        if self.is_main:
            write_status(EVENT_PREEMPTED, step=int(step), checkpoint=str(checkpoint))
        barrier()

    def announce_finished(self, step: int) -> None:
        self.metrics.flush()
        if self.is_main:
            write_status(EVENT_FINISHED, step=int(step))

    def close(self) -> None:
        """Flush and close the metrics, leave the process group, put the SIGTERM handler back."""
        if self._closed:
            return
        self._closed = True
        self.metrics.close()
        barrier()
        shutdown_process_group()
        self.preemption.uninstall()

    # -- the short way: registered objects -----------------------------------------------------------
    def resume(self, **objects) -> int:
        """Register ``objects`` (anything with state_dict/load_state_dict: model, optimizer, scheduler,
        GradScaler) for checkpoints, restore them and the RNGs from the newest loadable checkpoint, and
        return the step it was saved at (0 on a fresh start)."""
        self._objects = dict(objects)
        state, path = self.load_state(required=("step", "objects"))
        step = 0
        if state is not None:
            unknown = sorted(set(self._objects) - set(state["objects"]))
            if unknown:
                raise RuntimeError(f"checkpoint {path} has no state for {', '.join(unknown)}")
            for name, obj in self._objects.items():
                obj.load_state_dict(state["objects"][name])
            set_rng_state(state["rng"])
            step = int(state["step"])
            self.print(f"resumed from checkpoint {path} (step {step})")
        self._last_step = step
        self.announce_start(step, path)
        return step

    def save(self, step: int) -> Path | None:
        """Checkpoint the registered objects and the RNGs at ``step`` (rank 0 writes)."""
        if not self.is_main:
            return None
        state = {
            "step": int(step),
            "objects": {name: obj.state_dict() for name, obj in self._objects.items()},
            "rng": rng_state(),
        }
        return self.save_state(state, step)

    def step(self, step: int, **metrics) -> None:
        """End of step ``step``: log ``metrics``, checkpoint when one is due, and on SIGTERM save,
        tell the runner and exit ``EXIT_PREEMPTED`` (75) on every rank."""
        self._last_step = step
        self.preemption.rehearse(step)
        if metrics:
            self.log_metrics(step, metrics)
        if self.should_stop(step):
            path = self.save(step)
            self.print(
                f"preempted: checkpoint written at step {step}; exiting {EXIT_PREEMPTED} so a rerun resumes"
            )
            self.announce_preempted(step, path)
            self.close()
            raise SystemExit(EXIT_PREEMPTED)
        if self._objects and self.checkpoints.due(step):
            self.save(step)

    def finish(self, step: int | None = None) -> None:
        """The end of training: a last checkpoint (a rerun then has nothing left to do), the
        ``finished`` record, and the teardown."""
        step = self._last_step if step is None else step
        if self._objects:
            self.save(step)
        self.announce_finished(step)
        self.close()

    def _log_on_main(self, *args, **kwargs) -> None:
        if self.is_main:
            print(*args, **kwargs)


def start(
    checkpoint_dir="outputs/checkpoints",
    *,
    device: str = "auto",
    precision: str = "auto",
    params: dict | None = None,
    checkpoint_every_s: float = 300.0,
    checkpoint_every_steps: int = 0,
    keep_checkpoints: int = 3,
    stop_check_every: int | None = None,
    metrics: bool = True,
    banner: bool = True,
    check_folder: bool = True,
) -> Job:
    """Set up this process for training and return its :class:`Job`.

    In order: the SIGTERM flag; the device (exit 78 with a ``gpu_missing`` record when a GPU is
    required and none is visible, exit 2 when there are more local processes than GPUs); the
    ``device`` record; the checkpoint folder, created and proven writable by rank 0 (exit 2 if not;
    ``check_folder=False`` leaves that to the caller); the banner (rank 0); the process group; MLflow
    with ``params`` (rank 0; with
    ``metrics=False`` nothing is logged until :meth:`Job.open_metrics`). ``checkpoint_dir`` should be
    the job's checkpoint output (an ``rw_mount`` output on Azure ML, so a preempted job's rerun finds
    it). ``precision`` is ``auto`` (see :func:`choose_precision`), ``bf16``, ``fp16`` or ``fp32``.
    """
    info = dist_info_from_env()
    preemption = Preemption()
    try:
        dev = select_device(device, info.local_rank, info.local_world_size)
    except GPURequiredError as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        write_status(EVENT_GPU_MISSING)
        raise SystemExit(EXIT_NO_GPU) from None
    except TooManyProcessesError as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USAGE) from None
    write_status(EVENT_DEVICE, device=dev.type, name=device_name(dev), gpu_required=gpu_required(device))
    checkpoints = CheckpointStore(
        checkpoint_dir, keep_checkpoints, checkpoint_every_s, checkpoint_every_steps
    )
    if check_folder and info.is_main:
        try:
            checkpoints.prepare()
        except OSError as exc:
            print(
                f"ERROR: checkpoint folder {checkpoint_dir}: cannot write there ({exc.strerror or exc}); "
                f"give a writable folder",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(EXIT_USAGE) from None
    chosen = choose_precision(dev, precision)
    if banner and info.is_main:
        print("\n".join(environment_lines(dev, chosen)), flush=True)
    init_process_group(info, dev)
    return Job(
        info,
        dev,
        chosen,
        checkpoints,
        MetricsLogger(enabled=info.is_main and metrics, params=params),
        preemption,
        stop_check_every,
    )

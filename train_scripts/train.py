#!/usr/bin/env python
"""Reference PyTorch training script for azure-trainer: a small CNN on 8x8 digits (or your data).

Runs as ``python train.py`` from this folder, as ``python train_scripts/train.py`` from elsewhere,
and under ``torchrun``. Self-contained: torch, numpy and the standard library (mlflow if present).
See README.md beside this file for flags, data format, metrics, exit codes and resume behaviour.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # make the helper modules importable however the script is launched
    sys.path.insert(0, str(HERE))

import checkpoint  # noqa: E402
import data as data_mod  # noqa: E402
import distributed  # noqa: E402
import engine  # noqa: E402
import model as model_mod  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from contract import (  # noqa: E402
    EVENT_DEVICE,
    EVENT_FINISHED,
    EVENT_GPU_MISSING,
    EVENT_PREEMPTED,
    EVENT_START,
    EXIT_NO_GPU,
    EXIT_OK,
    EXIT_PREEMPTED,
    EXIT_USAGE,
    OBJECTIVE_METRIC_ENV,
    PREEMPT_AT_STEP_ENV,
    REQUIRE_GPU_ENV,
    STATUS_FILE_ENV,
    write_status,
)
from device import GPURequiredError, device_name, environment_lines, gpu_required, select_device  # noqa: E402
from metrics import OBJECTIVE_METRICS, MetricsLogger  # noqa: E402

MAX_WIDTH = 1024
MAX_DEPTH = 8  # the most 2x2 pools any plausible image allows; model.max_depth bounds it per image size

EPILOG = f"""\
data format for --data DIR (an Azure ML uri_folder input):
  DIR/data.npz     arrays 'images' (N,H,W) or (N,C,H,W), any numeric dtype, square images;
                   'labels' (N,) ints 0..K-1; optional 'num_classes'.
  DIR/*.csv[.gz]   no header; each row = H*H pixel values of a square 1-channel image, then the label
                   (the format of data/digits.csv.gz); files are read in name order and concatenated.
  DIR may also be one such file. Data is split 70/15/15 (train/val/test) with a fixed split seed.

outputs (rank 0 only):
  OUTPUT_DIR/metrics.jsonl  one JSON object per epoch: epoch, step, train_loss, train_accuracy, val_loss,
                            val_accuracy, samples_per_second, epoch_time_s, lr, resumed_from_step;
                            the last line: final=true, test_loss, test_accuracy. Same names in MLflow.
  OUTPUT_DIR/model.pt       state_dict + config (in_channels, num_classes, width, depth, image_size)
                            + normalisation (mean, std).
  CHECKPOINT_DIR/ckpt-*.pt  atomic checkpoints; the newest loadable one is resumed automatically.

environment:
  {REQUIRE_GPU_ENV}=1  a GPU is required: exit 78 before loading data if no CUDA device is visible.
  {OBJECTIVE_METRIC_ENV}=NAME  a sweep ranks trials by this metric: exit 2 at once if it is not
                            one this script logs with a number on every run
                            ({", ".join(OBJECTIVE_METRICS)}).
  {PREEMPT_AT_STEP_ENV}=N  preemption rehearsal (run-local --preempt-at-step N): SIGTERM
                            ourselves at optimizer step N.
  {STATUS_FILE_ENV}=PATH  append JSON status records (device, start, metrics, preempted,
                            finished) to PATH, one per line, for the runner (run-local sets it).
  RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT  distributed run (torchrun / Azure ML).

resume (CHECKPOINT_DIR/ckpt-*.pt):
  A rerun of the same command resumes from the newest loadable checkpoint. Each checkpoint records the
  run's signature (--width, --depth, the data's content, --batch-size, --lr, --weight-decay, --epochs,
  --seed, --label-smoothing, --augment-shift): if the command's differ, the script stops with exit 2 and
  names them; use a new --output-dir / --checkpoint-dir, or --no-resume. --max-steps, --threads,
  --device, --precision, --compile, --checkpoint-every, --keep-checkpoints may change between runs.
  --no-resume starts afresh and moves the existing checkpoints into CHECKPOINT_DIR/previous-<UTC time>/
  (nothing is deleted), so a later rerun resumes the new run, not the old one.

exit codes:
  0   finished
  1   unexpected error (a bug or a failed machine; the traceback is printed)
  2   bad command line; unusable --data; settings that differ from the checkpoint being resumed;
      an unwritable --output-dir / --checkpoint-dir; an objective metric this script does not log
  75  preempted: SIGTERM received, checkpoint written; run the same command again to resume
  78  GPU required ({REQUIRE_GPU_ENV}=1 or --device cuda) but no CUDA device visible
"""


def _number(kind, low=None, high=None, low_open=False, high_open=True):
    """An argparse ``type``: ``kind`` (int/float) within [low, high) (bounds as flagged); finite."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if kind is int else 'a number'}"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
            hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: must be {' and '.join(x for x in (lo, hi) if x)}"
            )
        return value

    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value" messages
    return parse


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and range-check the command line; argparse exits 2 with a one-line error for bad values."""
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="read this folder (or file) instead of the shipped digits; format below",
    )
    g.add_argument(
        "--dataset",
        choices=["digits", "synthetic"],
        default="digits",
        help="built-in dataset when --data is not given (default: digits; synthetic: "
        "learnable 3x32x32 images for benchmarks)",
    )
    g.add_argument(
        "--synthetic-size",
        type=_number(int, 1),
        default=50_000,
        metavar="N",
        help="number of synthetic images (default: 50000)",
    )
    g.add_argument(
        "--synthetic-image-size",
        type=_number(int, 1, 4096, high_open=False),
        default=32,
        metavar="PX",
        help="side of synthetic images (default: 32)",
    )
    g = p.add_argument_group("model and optimisation")
    g.add_argument(
        "--width",
        type=_number(int, 1, MAX_WIDTH, high_open=False),
        default=32,
        help=f"channels of the first conv stage; doubles per stage (1..{MAX_WIDTH}; default: 32)",
    )
    g.add_argument(
        "--depth",
        type=_number(int, 1, MAX_DEPTH, high_open=False),
        default=3,
        help="number of conv stages: 1..(1 + the number of 2x2 pools the image allows): 3 for 8x8, "
        "5 for 32x32 (default: 3)",
    )
    g.add_argument("--epochs", type=_number(int, 1), default=20, help="training epochs (default: 20)")
    g.add_argument(
        "--batch-size",
        type=_number(int, 1),
        default=64,
        help="GLOBAL batch size, split evenly across ranks (default: 64)",
    )
    g.add_argument(
        "--lr",
        type=_number(float, 0, low_open=True, high=None),
        default=1e-2,
        help="peak learning rate of the one-cycle schedule (AdamW; default: 0.01)",
    )
    g.add_argument(
        "--weight-decay", type=_number(float, 0), default=5e-4, help="AdamW weight decay (default: 5e-4)"
    )
    g.add_argument(
        "--label-smoothing", type=_number(float, 0, 1), default=0.1, help="in [0, 1) (default: 0.1)"
    )
    g.add_argument(
        "--augment-shift",
        type=_number(int, 0),
        default=1,
        metavar="PX",
        help="random translation of up to PX pixels per sample; 0 disables (default: 1)",
    )
    g.add_argument(
        "--seed",
        type=int,
        default=0,
        help="training seed: init, data order, augmentation (the split does not depend on it; default: 0)",
    )
    g.add_argument(
        "--max-steps",
        type=_number(int, 1),
        default=None,
        metavar="N",
        help="stop after N optimizer steps in total (the LR schedule is shortened to N); "
        "still evaluates on test and writes the final line and model.pt",
    )
    g = p.add_argument_group("device and speed")
    g.add_argument(
        "--device",
        choices=["auto", "cuda", "cpu", "mps"],
        default="auto",
        help="auto: cuda, then mps, then cpu. cuda = a GPU is required (exit 78 if none)",
    )
    g.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="autocast dtype; auto: bf16 on CUDA with bf16 support, else fp32",
    )
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument(
        "--channels-last",
        choices=["auto", "on", "off"],
        default="auto",
        help="channels_last memory format; auto: on for CUDA, off on CPU",
    )
    g.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic algorithms and a fixed thread count; a resumed CPU run then ends "
        "bit-identical to an uninterrupted one",
    )
    g.add_argument(
        "--threads",
        type=_number(int, 0),
        default=None,
        help="torch CPU threads; 0 = torch's choice (default: torch's choice)",
    )
    g = p.add_argument_group("outputs and checkpoints")
    g.add_argument(
        "--output-dir", default="./outputs", help="metrics.jsonl and model.pt (default: ./outputs)"
    )
    g.add_argument("--checkpoint-dir", default=None, help="default: OUTPUT_DIR/checkpoints")
    g.add_argument(
        "--checkpoint-every",
        type=_number(int, 0),
        default=0,
        metavar="STEPS",
        help="also checkpoint every STEPS optimizer steps (0: only at epoch ends; default: 0)",
    )
    g.add_argument(
        "--keep-checkpoints", type=_number(int, 1), default=3, help="checkpoints kept, >= 1 (default: 3)"
    )
    g.add_argument(
        "--no-resume",
        action="store_true",
        help="start afresh: existing checkpoints are moved to CHECKPOINT_DIR/previous-<UTC time>/",
    )
    g.add_argument(
        "--stop-check-every",
        type=_number(int, 1),
        default=None,
        metavar="STEPS",
        help="multi-process runs: agree on SIGTERM across ranks every STEPS steps "
        "(one tiny all-reduce; default: 1 on CPU, 20 on CUDA)",
    )
    g = p.add_argument_group("debugging (used by tests)")
    g.add_argument(
        "--step-delay",
        type=_number(float, 0),
        default=0.0,
        metavar="S",
        help="sleep S seconds after each step, so a test can land SIGTERM mid-epoch",
    )
    g.add_argument(
        "--debug-crash-rank",
        type=int,
        default=None,
        metavar="R",
        help="rank R raises RuntimeError after its first step (tests that a crash ends the job)",
    )
    return p.parse_args(argv)


class UsageError(Exception):
    """Bad input found after parsing (data, folders, resume settings): one line, exit 2, no traceback."""


# The settings that define a run's trajectory: resuming a checkpoint under different values would
# silently mix two runs. --epochs is one because the one-cycle LR schedule spans all epochs.
# --max-steps is not (a cap that may be raised to continue), nor device, speed or bookkeeping flags.
SIGNATURE_FLAGS = (
    "width",
    "depth",
    "batch_size",
    "lr",
    "weight_decay",
    "epochs",
    "seed",
    "label_smoothing",
    "augment_shift",
)


def run_signature(args, ds) -> dict:
    """What a checkpoint must match to be resumed by this command (see SIGNATURE_FLAGS)."""
    sig = {f"--{name.replace('_', '-')}": getattr(args, name) for name in SIGNATURE_FLAGS}
    sig["data"] = ds.identity
    sig["schedule"] = "one-cycle AdamW"
    return sig


def signature_differences(old: dict, new: dict) -> list[str]:
    """``'NAME OLD -> NEW'`` for every setting that differs, in a stable order."""
    return [
        f"{k} {old.get(k)} -> {new.get(k)}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
    ]


def ensure_writable_dir(path: Path, flag: str) -> None:
    """Create ``path`` if needed and prove a file can be written there, or raise UsageError."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path}: is a file, not a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UsageError(
            f"{flag} {path}: cannot write there ({exc.strerror or exc}); give a writable folder"
        ) from None


class Preemption:
    """SIGTERM (how Azure ML preempts a low-priority node) only sets a flag; the loop acts on it."""

    def __init__(self):
        self.requested = False
        signal.signal(signal.SIGTERM, self._handler)

    def _handler(self, signum, frame):  # noqa: ARG002
        if not self.requested:
            print(
                f"SIGTERM received: checkpointing at the next step boundary "
                f"(rank {os.environ.get('RANK', 0)})",
                flush=True,
            )
        self.requested = True


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def configure_determinism(args, device) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.set_num_threads(args.threads or torch.get_num_threads())
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


@dataclass
class Training:
    """Everything one run of the script works with, built once by :func:`build_training`."""

    args: argparse.Namespace
    info: distributed.DistInfo
    device: torch.device
    output_dir: Path
    ckpt_dir: Path
    preempt: Preemption
    ds: data_mod.Dataset
    val: data_mod.Split
    test: data_mod.Split
    raw: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    trainer: engine.Trainer
    metrics: MetricsLogger
    signature: dict
    params: dict
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    resumed_from: int | None = None

    def log(self, *a, **k) -> None:
        """Print on rank 0 only (every rank runs the same code)."""
        if self.info.is_main:
            print(*a, **k, flush=True)


def check_objective(objective: str) -> None:
    """A sweep ranks (and early-terminates) trials by a metric it looks up by name: a name this script
    never logs would let every trial run to the end unranked, so stop before anything is paid for."""
    if objective and objective not in OBJECTIVE_METRICS:
        raise UsageError(
            f"the sweep's objective metric {objective!r} ({OBJECTIVE_METRIC_ENV}) is not logged with a "
            f"number on every run by this script; it logs {', '.join(OBJECTIVE_METRICS)}: set "
            f"sweep.objective.metric to one of them"
        )


def output_folders(args, info) -> tuple[Path, Path]:
    """The output and checkpoint folders, proven writable by rank 0: an unwritable one would otherwise
    surface at the first checkpoint, an epoch (of paid machine time) later."""
    output_dir = Path(args.output_dir)
    ckpt_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else output_dir / "checkpoints"
    if info.is_main:
        ensure_writable_dir(output_dir, "--output-dir")
        ensure_writable_dir(ckpt_dir, "--checkpoint-dir" if args.checkpoint_dir else "--output-dir")
    return output_dir, ckpt_dir


def load_data(args, device, memory_format) -> tuple[data_mod.Dataset, data_mod.Split, data_mod.Split]:
    """The dataset, with the validation and test splits already on the device."""
    try:
        ds = data_mod.load_dataset(args.dataset, args.data, args.synthetic_size, args.synthetic_image_size)
    except data_mod.DataError as exc:
        raise UsageError(f"--data {args.data}: {exc}") from None
    return ds, ds.val.to(device, memory_format), ds.test.to(device, memory_format)


def check_model_size(args, ds) -> int:
    """The parameter count of the requested CNN, or a UsageError when it cannot fit these images."""
    limit = model_mod.max_depth(ds.image_size)
    if args.depth > limit:
        raise UsageError(
            f"--depth {args.depth} is too deep for {ds.image_size}x{ds.image_size} images: at most {limit} "
            f"stages (one per 2x2 pool, plus one); lower --depth"
        )
    n_params = model_mod.count_parameters(ds.in_channels, ds.num_classes, args.width, args.depth)
    if n_params > model_mod.MAX_PARAMETERS:
        raise UsageError(
            f"--width {args.width} --depth {args.depth} gives {n_params:,} parameters, over this small CNN's "
            f"limit of {model_mod.MAX_PARAMETERS:,}; lower --width or --depth"
        )
    return n_params


def wrap_model(raw, args, info, device):
    """What runs forward/backward: DDP across ranks, then torch.compile when asked for."""
    model = raw
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(
            raw, device_ids=[device.index] if device.type == "cuda" else None, gradient_as_bucket_view=True
        )
    return torch.compile(model) if args.compile else model


def total_steps(args, n_train: int, world_size: int) -> int:
    """Optimizer steps of the whole run: epochs x steps per epoch, capped by --max-steps."""
    steps = args.epochs * engine.steps_per_epoch(n_train, args.batch_size, world_size)
    return steps if args.max_steps is None else min(steps, args.max_steps)


def build_training(args, info, device, output_dir, ckpt_dir, preempt) -> Training:
    """Data, model, optimiser, schedule and loop, logged in two lines; nothing restored yet."""
    precision = engine.resolve_precision(args.precision, device)
    channels_last = args.channels_last == "on" or (args.channels_last == "auto" and device.type == "cuda")
    mf = torch.channels_last if channels_last else torch.contiguous_format
    t0 = time.perf_counter()
    ds, val, test = load_data(args, device, mf)
    log = print if info.is_main else _quiet
    log(f"{ds.describe()} (loaded in {time.perf_counter() - t0:.2f}s)", flush=True)
    n_params = check_model_size(args, ds)
    seed_everything(args.seed)
    raw = model_mod.build_model(ds.in_channels, ds.num_classes, args.width, args.depth, ds.image_size)
    raw = raw.to(device, memory_format=mf)
    optimizer = engine.make_optimizer(raw, args.lr, args.weight_decay, device)
    steps = total_steps(args, len(ds.train), info.world_size)
    scheduler = engine.make_scheduler(optimizer, args.lr, steps)
    trainer = engine.Trainer(
        wrap_model(raw, args, info, device),
        raw,
        optimizer,
        scheduler,
        ds.train,
        device,
        precision=precision,
        batch_size=args.batch_size,
        seed=args.seed,
        rank=info.rank,
        world_size=info.world_size,
        augment_shift=args.augment_shift,
        label_smoothing=args.label_smoothing,
        channels_last=channels_last,
    )
    log(
        f"model: SmallCNN width {args.width} depth {args.depth}, {n_params:,} parameters "
        f"| precision {precision} "
        f"| channels_last {channels_last} | compile {args.compile} | fused AdamW {device.type == 'cuda'}",
        flush=True,
    )
    log(
        f"schedule: {args.epochs} epochs x {trainer.steps_per_epoch} steps (global batch {args.batch_size}), "
        f"{steps} steps in total",
        flush=True,
    )
    params = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
    return Training(
        args=args,
        info=info,
        device=device,
        output_dir=output_dir,
        ckpt_dir=ckpt_dir,
        preempt=preempt,
        ds=ds,
        val=val,
        test=test,
        raw=raw,
        optimizer=optimizer,
        scheduler=scheduler,
        trainer=trainer,
        metrics=MetricsLogger(output_dir, enabled=info.is_main, params=params),
        signature=run_signature(args, ds),
        params=params,
    )


def start_afresh(tr: Training) -> None:
    """--no-resume: rank 0 moves the old checkpoints aside; no rank looks before it is done."""
    if tr.info.is_main:
        moved = checkpoint.move_aside(tr.ckpt_dir)
        if moved is not None:
            tr.log(f"--no-resume: moved the existing checkpoints to {moved} (a rerun resumes this new run)")
    distributed.barrier()


def check_signature(tr: Training, state: dict, path: Path) -> None:
    """Refuse a checkpoint written with other trajectory-defining settings (see SIGNATURE_FLAGS)."""
    if "signature" not in state:
        tr.log(
            f"WARNING: checkpoint {path} has no run signature (an older train.py wrote it): resuming "
            f"without checking that it was written with this command's settings",
            file=sys.stderr,
        )
    elif state["signature"] != tr.signature:
        diffs = "; ".join(signature_differences(state["signature"], tr.signature))
        raise UsageError(
            f"checkpoint {path} belongs to a run with other settings ({diffs}): rerun with the "
            f"checkpoint's settings to resume it, or start a new run with a new --output-dir / "
            f"--checkpoint-dir, or --no-resume (moves the old checkpoints aside)"
        )


def restore_scheduler(tr: Training, sched_state: dict) -> None:
    """Load the schedule; when --max-steps changed, keep its position and stretch it to the new length."""
    if sched_state.get("total_steps") != tr.scheduler.total_steps:
        tr.log(
            f"WARNING: schedule length changed "
            f"({sched_state.get('total_steps')} -> {tr.scheduler.total_steps} steps)"
        )
        probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=tr.args.lr)
        fresh = engine.make_scheduler(probe, tr.args.lr, tr.scheduler.total_steps)
        sched_state = {
            **sched_state,
            "total_steps": fresh.total_steps,
            "_schedule_phases": fresh._schedule_phases,
        }
    tr.scheduler.load_state_dict(sched_state)


def resume(tr: Training) -> Path | None:
    """Restore the newest checkpoint that loads cleanly; returns its path (None: nothing to resume)."""
    # map to the CPU: RNG states must stay CPU ByteTensors; load_state_dict moves the rest to the device.
    state, path = checkpoint.load_latest(
        tr.ckpt_dir, map_location="cpu", log=print if tr.info.is_main else _quiet
    )
    if state is None:
        return None
    check_signature(tr, state, path)
    tr.raw.load_state_dict(state["model"])
    tr.optimizer.load_state_dict(state["optimizer"])
    restore_scheduler(tr, state["scheduler"])
    set_rng_state(state["rng"])
    tr.epoch, tr.step_in_epoch, tr.global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
    if state.get("sums"):
        tr.trainer.load_sums_state(state["sums"])
    tr.resumed_from = tr.global_step
    tr.log(
        f"resumed from checkpoint {path} at epoch {tr.epoch} step {tr.step_in_epoch} "
        f"(global step {tr.global_step})"
    )
    return path


def restore_or_start_afresh(tr: Training) -> None:
    """Resume (or, with --no-resume, clear the way for a new run), then report the start."""
    path = None
    if tr.args.no_resume:
        start_afresh(tr)
    else:
        path = resume(tr)
    if tr.info.is_main:
        extra = {"checkpoint": str(path)} if path is not None else {}
        write_status(EVENT_START, resumed_from_step=tr.global_step if path is not None else 0, **extra)


def save(tr: Training, epoch: int, step_in_epoch: int) -> Path | None:
    """Rank 0 writes a checkpoint at the current global step (the other ranks hold the same state)."""
    if not tr.info.is_main:
        return None
    state = {
        "model": tr.raw.state_dict(),
        "optimizer": tr.optimizer.state_dict(),
        "scheduler": tr.scheduler.state_dict(),
        "epoch": epoch,
        "step_in_epoch": step_in_epoch,
        "global_step": tr.global_step,
        "rng": rng_state(),
        "sums": tr.trainer.sums_state(),
        "args": tr.params,
        "signature": tr.signature,
    }
    return checkpoint.save_checkpoint(state, tr.ckpt_dir, tr.global_step, keep=tr.args.keep_checkpoints)


class StopCheck:
    """Whether to stop for a preemption at this step. One process: the flag is a plain bool, free to
    check every step. Several: every rank must stop at the same step, so they agree through an
    all-reduce at fixed step multiples."""

    def __init__(self, tr: Training):
        self.tr = tr
        self.every = tr.args.stop_check_every or (20 if tr.device.type == "cuda" else 1)

    def __call__(self) -> bool:
        tr = self.tr
        if not tr.info.enabled:
            return tr.preempt.requested
        if tr.global_step % self.every:
            return False
        return distributed.any_rank(tr.preempt.requested, tr.device)


def preempt_rehearsal_step() -> int:
    """``run-local --preempt-at-step N``: the step at which the script SIGTERMs itself (0: never)."""
    return int(os.environ.get(PREEMPT_AT_STEP_ENV, "0") or 0)


def stop_for_preemption(tr: Training, s: int) -> int:
    """Checkpoint where the loop stands, say so, and return the exit code that asks for a rerun."""
    path = save(tr, tr.epoch, s)
    tr.log(
        f"preempted: checkpoint written at epoch {tr.epoch} step {s} (global step {tr.global_step}); "
        f"exiting {EXIT_PREEMPTED} so a rerun resumes"
    )
    distributed.barrier()
    tr.metrics.close()
    if tr.info.is_main:
        write_status(EVENT_PREEMPTED, step=tr.global_step, checkpoint=str(path))
    return EXIT_PREEMPTED


def after_step(tr: Training, s: int, preempt_at: int) -> None:
    """The per-step hooks: the preemption rehearsal, the debugging flags, step checkpoints."""
    args = tr.args
    if preempt_at and tr.global_step == preempt_at:
        # SIGTERM ourselves, so the real handler runs and the loop stops at its next stop check,
        # exactly as on a preempted node.
        os.kill(os.getpid(), signal.SIGTERM)
    if args.debug_crash_rank is not None and tr.info.rank == args.debug_crash_rank:
        raise RuntimeError(
            f"--debug-crash-rank: rank {tr.info.rank} crashing on purpose at step {tr.global_step}"
        )
    if args.step_delay:
        time.sleep(args.step_delay)
    if (
        args.checkpoint_every
        and tr.global_step % args.checkpoint_every == 0
        and s < tr.trainer.steps_per_epoch
    ):
        save(tr, tr.epoch, s)


def train_epoch(tr: Training, stop: StopCheck, max_steps: float, preempt_at: int) -> int | None:
    """Run the rest of the current epoch; returns EXIT_PREEMPTED when stopped, else None."""
    perm, shifts = tr.trainer.epoch_plan(tr.epoch)
    tr.raw.train()
    t_epoch, s = time.perf_counter(), tr.step_in_epoch
    samples = 0
    while s < tr.trainer.steps_per_epoch and tr.global_step < max_steps:
        if stop():
            return stop_for_preemption(tr, s)
        tr.trainer.train_step(perm, shifts, s)
        s += 1
        tr.global_step += 1
        samples += tr.trainer.batch_size * tr.info.world_size
        after_step(tr, s, preempt_at)
    end_epoch(tr, s, samples, t_epoch)
    return None


def end_epoch(tr: Training, s: int, samples: int, t_epoch: float) -> None:
    """Evaluate, log the epoch's metrics, move the position on and checkpoint it."""
    train_loss, train_acc, _ = tr.trainer.read_epoch_sums()
    if tr.device.type == "cuda":
        torch.cuda.synchronize()
    epoch_time = time.perf_counter() - t_epoch
    val_loss, val_acc = tr.trainer.evaluate(tr.val)
    record = {
        "epoch": tr.epoch,
        "step": tr.global_step,
        "train_loss": train_loss,
        "train_accuracy": train_acc,
        "val_loss": val_loss,
        "val_accuracy": val_acc,
        "samples_per_second": samples / max(epoch_time, 1e-9),
        "epoch_time_s": epoch_time,
        "lr": tr.scheduler.get_last_lr()[0],
        "resumed_from_step": tr.resumed_from,
    }
    tr.metrics.log(record)
    tr.log(
        f"epoch {tr.epoch:3d} step {tr.global_step:6d} | train loss {train_loss:.4f} acc {train_acc:.4f} | "
        f"val loss {val_loss:.4f} acc {val_acc:.4f} | {record['samples_per_second']:,.0f} samples/s "
        f"| {epoch_time:.2f}s | lr {record['lr']:.2e}"
    )
    if s >= tr.trainer.steps_per_epoch:
        tr.epoch, tr.step_in_epoch = tr.epoch + 1, 0
        tr.trainer.reset_sums()
    else:
        tr.step_in_epoch = s
    save(tr, tr.epoch, tr.step_in_epoch)


def train_loop(tr: Training) -> int | None:
    """Every remaining epoch; EXIT_PREEMPTED when a preemption stopped it, else None."""
    max_steps = tr.args.max_steps if tr.args.max_steps is not None else float("inf")
    stop, preempt_at = StopCheck(tr), preempt_rehearsal_step()
    while tr.epoch < tr.args.epochs and tr.global_step < max_steps:
        code = train_epoch(tr, stop, max_steps, preempt_at)
        if code is not None:
            return code
    return None


def finish(tr: Training) -> int:
    """Test, the final metrics line, model.pt; then tell the runner the run finished."""
    test_loss, test_acc = tr.trainer.evaluate(tr.test)
    tr.metrics.log(
        {
            "final": True,
            "epoch": tr.epoch,
            "step": tr.global_step,
            "test_loss": test_loss,
            "test_accuracy": test_acc,
            "resumed_from_step": tr.resumed_from,
        }
    )
    tr.log(f"test loss {test_loss:.4f} accuracy {test_acc:.4f}")
    if tr.info.is_main:
        model_mod.save_model(
            tr.output_dir / "model.pt",
            tr.raw,
            {
                "mean": tr.ds.mean,
                "std": tr.ds.std,
                "dataset": tr.ds.name,
                "test_accuracy": test_acc,
                "global_step": tr.global_step,
            },
        )
        tr.log(f"saved {tr.output_dir / 'model.pt'}")
    tr.metrics.close()
    if tr.info.is_main:
        write_status(EVENT_FINISHED, step=tr.global_step)
    return EXIT_OK


def choose_device(args, info) -> torch.device | None:
    """The device for this process, announced on the status channel; None when a required GPU is
    missing (the error is printed and the runner told)."""
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts: set it first
    try:
        device = select_device(args.device, info.local_rank)
    except GPURequiredError as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        write_status(EVENT_GPU_MISSING)
        return None
    write_status(
        EVENT_DEVICE, device=device.type, name=device_name(device), gpu_required=gpu_required(args.device)
    )
    return device


def run(args) -> int:
    """The script: checks that cost nothing first, then the device, folders, data, training."""
    info = distributed.dist_info_from_env()
    preempt = Preemption()  # from the start: SIGTERM during start-up must not kill us mid-write
    objective = os.environ.get(OBJECTIVE_METRIC_ENV, "").strip()
    check_objective(objective)
    device = choose_device(args, info)  # before any data is read: a missing GPU must fail at once
    if device is None:
        return EXIT_NO_GPU
    configure_determinism(args, device)
    output_dir, ckpt_dir = output_folders(args, info)
    log = print if info.is_main else _quiet
    for line in environment_lines(device):
        log(line, flush=True)
    if objective:
        log(f"sweep objective: {objective} (logged to MLflow and metrics.jsonl)", flush=True)
    distributed.init(info, device)
    if info.enabled:
        log(
            f"distributed: world size {info.world_size}, "
            f"backend {'nccl' if device.type == 'cuda' else 'gloo'}",
            flush=True,
        )
    tr = build_training(args, info, device, output_dir, ckpt_dir, preempt)
    restore_or_start_afresh(tr)
    code = train_loop(tr)
    return code if code is not None else finish(tr)


def _quiet(*_a, **_k):
    pass


def main(argv=None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    args = parse_args(argv)
    info = distributed.dist_info_from_env()
    try:
        code = run(args)
    except UsageError as exc:
        if info.is_main:
            print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        if info.enabled:
            os._exit(EXIT_USAGE)  # every rank finds the same problem; none may wait in a collective
        return EXIT_USAGE
    except Exception:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        if info.enabled:
            # A collective waiting for a dead peer would hang; leave at once so torchrun ends the job.
            os._exit(1)
        return 1
    if not info.enabled:
        return code
    distributed.barrier()
    distributed.shutdown()
    # DDP keeps the gloo/nccl process group alive through reference cycles, so without this its C++
    # destructor would run during interpreter finalisation, where gloo can abort the rank with SIGABRT
    # ("terminate called without an active exception") after a fully successful run. Everything worth
    # keeping is written and closed by now: flush and leave without finalisation.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())

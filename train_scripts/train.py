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
    EXIT_NO_GPU,
    EXIT_OK,
    EXIT_PREEMPTED,
    EXIT_USAGE,
    OBJECTIVE_METRIC_ENV,
    PREEMPT_AT_STEP_ENV,
    REQUIRE_GPU_ENV,
)
from device import GPURequiredError, environment_lines, select_device  # noqa: E402
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


def run(args) -> int:
    info = distributed.dist_info_from_env()
    is_main = info.is_main

    def log(*a, **k):
        if is_main:
            print(*a, **k, flush=True)

    preempt = Preemption()  # from the start: SIGTERM during start-up must not kill us mid-write
    # 0. A sweep ranks (and early-terminates) trials by a metric it looks up by name: a name this script
    # never logs would let every trial run to the end unranked, so stop now, before anything is paid for.
    objective = os.environ.get(OBJECTIVE_METRIC_ENV, "").strip()
    if objective and objective not in OBJECTIVE_METRICS:
        print(
            f"ERROR: the sweep's objective metric {objective!r} ({OBJECTIVE_METRIC_ENV}) is not logged with a "
            f"number on every run by this script; it logs {', '.join(OBJECTIVE_METRICS)}: set "
            f"sweep.objective.metric to one of them",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_USAGE
    # 1. Device first: the strict-GPU check must fail before any data is read.
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts: set it first
    try:
        device = select_device(args.device, info.local_rank)
    except GPURequiredError as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        return EXIT_NO_GPU
    configure_determinism(args, device)
    # Then the output folders: an unwritable one would otherwise surface at the first checkpoint, an
    # epoch (of paid machine time) later.
    output_dir = Path(args.output_dir)
    ckpt_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else output_dir / "checkpoints"
    if is_main:
        ensure_writable_dir(output_dir, "--output-dir")
        ensure_writable_dir(ckpt_dir, "--checkpoint-dir" if args.checkpoint_dir else "--output-dir")
    for line in environment_lines(device):
        log(line)
    if objective:
        log(f"sweep objective: {objective} (logged to MLflow and metrics.jsonl)")
    distributed.init(info, device)
    if info.enabled:
        log(
            f"distributed: world size {info.world_size}, "
            f"backend {'nccl' if device.type == 'cuda' else 'gloo'}"
        )
    precision = engine.resolve_precision(args.precision, device)
    channels_last = args.channels_last == "on" or (args.channels_last == "auto" and device.type == "cuda")

    # 2. Data, whole splits on the device.
    t0 = time.perf_counter()
    try:
        ds = data_mod.load_dataset(args.dataset, args.data, args.synthetic_size, args.synthetic_image_size)
    except data_mod.DataError as exc:
        raise UsageError(f"--data {args.data}: {exc}") from None
    mf = torch.channels_last if channels_last else torch.contiguous_format
    val, test = ds.val.to(device, mf), ds.test.to(device, mf)
    log(f"{ds.describe()} (loaded in {time.perf_counter() - t0:.2f}s)")

    # 3. Model, optimiser, schedule.
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
    seed_everything(args.seed)
    raw = model_mod.build_model(ds.in_channels, ds.num_classes, args.width, args.depth, ds.image_size)
    raw = raw.to(device, memory_format=mf)
    model = raw
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(
            raw, device_ids=[device.index] if device.type == "cuda" else None, gradient_as_bucket_view=True
        )
    if args.compile:
        model = torch.compile(model)
    optimizer = engine.make_optimizer(raw, args.lr, args.weight_decay, device)
    trainer_probe_steps = max(
        1, -(-len(ds.train) // info.world_size) // max(1, args.batch_size // info.world_size)
    )
    total_steps = args.epochs * trainer_probe_steps
    if args.max_steps is not None:
        total_steps = min(total_steps, args.max_steps)
    scheduler = engine.make_scheduler(optimizer, args.lr, total_steps)
    trainer = engine.Trainer(
        model,
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
    assert trainer.steps_per_epoch == trainer_probe_steps
    log(
        f"model: SmallCNN width {args.width} depth {args.depth}, {n_params:,} parameters "
        f"| precision {precision} "
        f"| channels_last {channels_last} | compile {args.compile} | fused AdamW {device.type == 'cuda'}"
    )
    log(
        f"schedule: {args.epochs} epochs x {trainer.steps_per_epoch} steps (global batch {args.batch_size}), "
        f"{total_steps} steps in total"
    )

    params = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
    metrics = MetricsLogger(output_dir, enabled=is_main, params=params)

    # 4. Resume from the newest checkpoint that loads cleanly.
    epoch, step_in_epoch, global_step, resumed_from = 0, 0, 0, None
    signature = run_signature(args, ds)
    if args.no_resume:
        if is_main:
            moved = checkpoint.move_aside(ckpt_dir)
            if moved is not None:
                log(f"--no-resume: moved the existing checkpoints to {moved} (a rerun resumes this new run)")
        distributed.barrier()  # no rank may look at the folder while rank 0 is still moving files
    else:
        # map to the CPU: RNG states must stay CPU ByteTensors; load_state_dict moves the rest to the device.
        state, path = checkpoint.load_latest(ckpt_dir, map_location="cpu", log=print if is_main else _quiet)
        if state is not None and "signature" not in state:
            log(
                f"WARNING: checkpoint {path} has no run signature (an older train.py wrote it): resuming "
                f"without checking that it was written with this command's settings",
                file=sys.stderr,
            )
        elif state is not None and state["signature"] != signature:
            diffs = "; ".join(signature_differences(state["signature"], signature))
            raise UsageError(
                f"checkpoint {path} belongs to a run with other settings ({diffs}): rerun with the "
                f"checkpoint's settings to resume it, or start a new run with a new --output-dir / "
                f"--checkpoint-dir, or --no-resume (moves the old checkpoints aside)"
            )
        if state is not None:
            raw.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            sched_state = state["scheduler"]
            if sched_state.get("total_steps") != scheduler.total_steps:
                # --max-steps changed since the checkpoint: keep the position, stretch the schedule.
                log(
                    f"WARNING: schedule length changed "
                    f"({sched_state.get('total_steps')} -> {scheduler.total_steps} steps)"
                )
                fresh = engine.make_scheduler(
                    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=args.lr), args.lr, total_steps
                )
                sched_state = {
                    **sched_state,
                    "total_steps": fresh.total_steps,
                    "_schedule_phases": fresh._schedule_phases,
                }
            scheduler.load_state_dict(sched_state)
            set_rng_state(state["rng"])
            epoch, step_in_epoch, global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
            if state.get("sums"):
                trainer.load_sums_state(state["sums"])
            resumed_from = global_step
            log(
                f"resumed from checkpoint {path} at epoch {epoch} step {step_in_epoch} "
                f"(global step {global_step})"
            )

    def save(ep: int, s: int) -> None:
        if is_main:
            st = {
                "model": raw.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": ep,
                "step_in_epoch": s,
                "global_step": global_step,
                "rng": rng_state(),
                "sums": trainer.sums_state(),
                "args": params,
                "signature": signature,
            }
            checkpoint.save_checkpoint(st, ckpt_dir, global_step, keep=args.keep_checkpoints)

    stop_every = args.stop_check_every or (20 if device.type == "cuda" else 1)

    def should_stop() -> bool:
        # One process: the flag is a plain bool, free to check every step. Several: every rank must stop
        # at the same step, so they agree through an all-reduce at fixed step multiples.
        if not info.enabled:
            return preempt.requested
        if global_step % stop_every:
            return False
        return distributed.any_rank(preempt.requested, device)

    max_steps = args.max_steps if args.max_steps is not None else float("inf")
    crash_rank = args.debug_crash_rank
    # Preemption rehearsal (run-local --preempt-at-step N): SIGTERM ourselves on reaching step N, so the
    # real handler runs and the loop stops at its next stop check, exactly as on a preempted node.
    preempt_at = int(os.environ.get(PREEMPT_AT_STEP_ENV, "0") or 0)
    # 5. Train.
    while epoch < args.epochs and global_step < max_steps:
        perm, shifts = trainer.epoch_plan(epoch)
        raw.train()
        t_epoch, samples_run = time.perf_counter(), 0
        s = step_in_epoch
        while s < trainer.steps_per_epoch and global_step < max_steps:
            if should_stop():
                save(epoch, s)
                log(
                    f"preempted: checkpoint written at epoch {epoch} step {s} (global step {global_step}); "
                    f"exiting {EXIT_PREEMPTED} so a rerun resumes"
                )
                distributed.barrier()
                metrics.close()
                return EXIT_PREEMPTED
            trainer.train_step(perm, shifts, s)
            s += 1
            global_step += 1
            if preempt_at and global_step == preempt_at:
                os.kill(os.getpid(), signal.SIGTERM)
            samples_run += trainer.batch_size * info.world_size
            if crash_rank is not None and info.rank == crash_rank:
                raise RuntimeError(
                    f"--debug-crash-rank: rank {info.rank} crashing on purpose at step {global_step}"
                )
            if args.step_delay:
                time.sleep(args.step_delay)
            if (
                args.checkpoint_every
                and global_step % args.checkpoint_every == 0
                and s < trainer.steps_per_epoch
            ):
                save(epoch, s)
        finished_epoch = s >= trainer.steps_per_epoch
        train_loss, train_acc, _ = trainer.read_epoch_sums()
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_time = time.perf_counter() - t_epoch
        val_loss, val_acc = trainer.evaluate(val)
        record = {
            "epoch": epoch,
            "step": global_step,
            "train_loss": train_loss,
            "train_accuracy": train_acc,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "samples_per_second": samples_run / max(epoch_time, 1e-9),
            "epoch_time_s": epoch_time,
            "lr": scheduler.get_last_lr()[0],
            "resumed_from_step": resumed_from,
        }
        metrics.log(record)
        log(
            f"epoch {epoch:3d} step {global_step:6d} | train loss {train_loss:.4f} acc {train_acc:.4f} | "
            f"val loss {val_loss:.4f} acc {val_acc:.4f} | {record['samples_per_second']:,.0f} samples/s "
            f"| {epoch_time:.2f}s | lr {record['lr']:.2e}"
        )
        if finished_epoch:
            epoch, step_in_epoch = epoch + 1, 0
            trainer.reset_sums()
        else:
            step_in_epoch = s
        save(epoch, step_in_epoch)

    # 6. Test, final line, model.
    test_loss, test_acc = trainer.evaluate(test)
    metrics.log(
        {
            "final": True,
            "epoch": epoch,
            "step": global_step,
            "test_loss": test_loss,
            "test_accuracy": test_acc,
            "resumed_from_step": resumed_from,
        }
    )
    log(f"test loss {test_loss:.4f} accuracy {test_acc:.4f}")
    if is_main:
        model_mod.save_model(
            output_dir / "model.pt",
            raw,
            {
                "mean": ds.mean,
                "std": ds.std,
                "dataset": ds.name,
                "test_accuracy": test_acc,
                "global_step": global_step,
            },
        )
        log(f"saved {output_dir / 'model.pt'}")
    metrics.close()
    return EXIT_OK


def _quiet(*_a, **_k):
    pass


def main(argv=None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    args = parse_args(argv)
    try:
        code = run(args)
    except UsageError as exc:
        if distributed.dist_info_from_env().is_main:
            print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        if distributed.dist_info_from_env().enabled:
            os._exit(EXIT_USAGE)  # every rank finds the same problem; none may wait in a collective
        return EXIT_USAGE
    except Exception:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        if distributed.dist_info_from_env().enabled:
            # A collective waiting for a dead peer would hang; leave at once so torchrun ends the job.
            os._exit(1)
        return 1
    if not distributed.dist_info_from_env().enabled:
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

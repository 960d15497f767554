#!/usr/bin/env python
"""Reference PyTorch training script for azure-trainer: a small CNN on 8x8 digits (or your data).

Runs as ``python train.py`` from this folder, as ``python train_scripts/train.py`` from elsewhere,
and under ``torchrun``. Self-contained: torch, numpy and the standard library (mlflow if present).
The contract with azure-trainer (device, GPU requirement, process group, SIGTERM, checkpoints,
metrics, the status channel) is honoured through ``contract.py``, the same drop-in helper a user's
own script can copy; this file adds the reference run's own policy on top: the data and model, the
run signature of a checkpoint, metrics.jsonl, and outputs that are moved aside, never overwritten.
See README.md beside this file for flags, data format, metrics, exit codes and resume behaviour.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # make the helper modules importable however the script is launched
    sys.path.insert(0, str(HERE))

import contract  # noqa: E402
import data as data_mod  # noqa: E402
import engine  # noqa: E402
import model as model_mod  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from contract import EXIT_OK, EXIT_PREEMPTED, EXIT_USAGE, OBJECTIVE_METRIC_ENV  # noqa: E402
from metrics import OBJECTIVE_METRICS, OUTPUT_FILES, MetricsFile  # noqa: E402
from options import parse_args  # noqa: E402

__all__ = ["main", "parse_args"]

# Keys every checkpoint of this script has; one without them is skipped as unreadable.
REQUIRED_KEYS = ("model", "optimizer", "scheduler", "epoch", "step_in_epoch", "global_step", "rng")


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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def configure_determinism(args, device) -> None:
    """Threads, deterministic algorithms, and otherwise the shared speed policy (cudnn.benchmark, TF32)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.set_num_threads(args.threads or torch.get_num_threads())
    contract.configure_math(device, deterministic=args.deterministic, tf32=args.tf32)


@dataclass
class Training:
    """Everything one run of the script works with, built once by :func:`build_training`."""

    args: object
    job: contract.Job
    output_dir: Path
    ds: data_mod.Dataset
    val: data_mod.Split
    test: data_mod.Split
    raw: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    trainer: engine.Trainer
    signature: dict
    params: dict
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    resumed_from: int | None = None
    saved_step: int | None = None
    compile_time_s: float = 0.0
    sinks: list = field(default_factory=list)

    def log(self, *a, **k) -> None:
        """Print on rank 0 only (every rank runs the same code)."""
        self.job.print(*a, **k)


def check_objective(objective: str) -> None:
    """A sweep ranks (and early-terminates) trials by a metric it looks up by name: a name this script
    never logs would let every trial run to the end unranked, so stop before anything is paid for."""
    if objective and objective not in OBJECTIVE_METRICS:
        raise UsageError(
            f"the sweep's objective metric {objective!r} ({OBJECTIVE_METRIC_ENV}) is not logged with a "
            f"number on every run by this script; it logs {', '.join(OBJECTIVE_METRICS)}: set "
            f"sweep.objective.metric to one of them"
        )


def checkpoint_dir(args) -> Path:
    return Path(args.checkpoint_dir) if args.checkpoint_dir else Path(args.output_dir) / "checkpoints"


def check_output_folders(args, job) -> Path:
    """The output and checkpoint folders, proven writable by rank 0: an unwritable one would otherwise
    surface at the first checkpoint, minutes (of paid machine time) later."""
    output_dir = Path(args.output_dir)
    if job.is_main:
        ensure_writable_dir(output_dir, "--output-dir")
        ensure_writable_dir(
            checkpoint_dir(args), "--checkpoint-dir" if args.checkpoint_dir else "--output-dir"
        )
    return output_dir


def check_precision(args, job) -> None:
    if job.precision == "fp16" and job.device.type != "cuda":
        raise UsageError(
            f"--precision fp16 needs a CUDA device (this run uses {job.device}); use bf16 or fp32"
        )
    if job.precision == "bf16" and job.device.type == "cuda" and not contract.native_bf16(job.device):
        job.print(
            f"WARNING: --precision bf16 on {contract.device_name(job.device)}, which has no native bf16: "
            f"it is emulated and slow; --precision auto picks fp16 with a GradScaler there",
            file=sys.stderr,
        )


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


def compile_mode(args, job) -> str:
    """--compile-mode auto: CUDA graphs (reduce-overhead) for one process on a GPU, where the small
    digits steps are bound by kernel launches; default elsewhere (with DDP the gradient all-reduce runs
    between the compiled graphs, outside any CUDA graph)."""
    if args.compile_mode != "auto":
        return args.compile_mode
    return "reduce-overhead" if job.device.type == "cuda" and not job.info.enabled else "default"


def wrap_model(raw, args, job):
    """What runs forward/backward: DDP across ranks, then torch.compile when asked for."""
    model = job.distribute(raw, gradient_as_bucket_view=True)
    return torch.compile(model, mode=compile_mode(args, job)) if args.compile else model


def total_steps(args, n_train: int, world_size: int) -> int:
    """Optimizer steps of the whole run: epochs x steps per epoch, capped by --max-steps."""
    steps = args.epochs * engine.steps_per_epoch(n_train, args.batch_size, world_size)
    return steps if args.max_steps is None else min(steps, args.max_steps)


def build_training(args, job, output_dir) -> Training:
    """Data, model, optimiser, schedule and loop, logged in two lines; nothing restored yet."""
    device, info = job.device, job.info
    channels_last = args.channels_last == "on" or (args.channels_last == "auto" and device.type == "cuda")
    mf = torch.channels_last if channels_last else torch.contiguous_format
    t0 = time.perf_counter()
    ds, val, test = load_data(args, device, mf)
    job.print(f"{ds.describe()} (loaded in {time.perf_counter() - t0:.2f}s)")
    n_params = check_model_size(args, ds)
    seed_everything(args.seed)
    raw = model_mod.build_model(ds.in_channels, ds.num_classes, args.width, args.depth, ds.image_size)
    raw = raw.to(device, memory_format=mf)
    optimizer = engine.make_optimizer(raw, args.lr, args.weight_decay, device)
    steps = total_steps(args, len(ds.train), info.world_size)
    scheduler = engine.make_scheduler(optimizer, args.lr, steps)
    trainer = engine.Trainer(
        wrap_model(raw, args, job),
        raw,
        optimizer,
        scheduler,
        ds.train,
        device,
        precision=job.precision,
        batch_size=args.batch_size,
        seed=args.seed,
        rank=info.rank,
        world_size=info.world_size,
        augment_shift=args.augment_shift,
        label_smoothing=args.label_smoothing,
        channels_last=channels_last,
        cuda_graphs=args.compile and compile_mode(args, job) == "reduce-overhead",
    )
    compiled = f"{args.compile} ({compile_mode(args, job)})" if args.compile else "False"
    tf32 = contract.tf32_enabled() if device.type == "cuda" else "n/a"
    job.print(
        f"model: SmallCNN width {args.width} depth {args.depth}, {n_params:,} parameters "
        f"| precision {job.precision}{' + GradScaler' if trainer.scaler else ''} | TF32 {tf32} "
        f"| channels_last {channels_last} | compile {compiled} | fused AdamW {device.type == 'cuda'}"
    )
    job.print(
        f"schedule: {args.epochs} epochs x {trainer.steps_per_epoch} steps (global batch {args.batch_size}), "
        f"{steps} steps in total"
    )
    params = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
    return Training(
        args,
        job,
        output_dir,
        ds,
        val,
        test,
        raw,
        optimizer,
        scheduler,
        trainer,
        run_signature(args, ds),
        params,
    )


def move_earlier_outputs_aside(tr: Training, stamp: str) -> None:
    """A fresh run never overwrites or appends to files from before: model.pt and metrics.jsonl move
    into OUTPUT_DIR/previous-<UTC time>/ (rank 0; nothing is deleted)."""
    paths = [tr.output_dir / name for name in OUTPUT_FILES]
    moved = contract.move_aside(paths, tr.output_dir, stamp)
    if moved is not None:
        names = ", ".join(p.name for p in paths if (moved / p.name).exists())
        tr.log(f"moved the earlier outputs ({names}) to {moved} (nothing is overwritten)")


def start_afresh(tr: Training, stamp: str) -> None:
    """--no-resume: rank 0 moves the old checkpoints (and outputs) aside; no rank looks before it is done."""
    if tr.job.is_main:
        moved = tr.job.checkpoints.move_aside(stamp)
        if moved is not None:
            tr.log(f"--no-resume: moved the existing checkpoints to {moved} (a rerun resumes this new run)")
        move_earlier_outputs_aside(tr, stamp)
    contract.barrier()


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
    state, path = tr.job.load_state(required=REQUIRED_KEYS)
    if state is None:
        return None
    check_signature(tr, state, path)
    tr.raw.load_state_dict(state["model"])
    tr.optimizer.load_state_dict(state["optimizer"])
    restore_scheduler(tr, state["scheduler"])
    if tr.trainer.scaler is not None and state.get("scaler"):
        tr.trainer.scaler.load_state_dict(state["scaler"])
    contract.set_rng_state(state["rng"])
    tr.epoch, tr.step_in_epoch, tr.global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
    if state.get("sums"):
        tr.trainer.load_sums_state(state["sums"])
    tr.resumed_from = tr.saved_step = tr.global_step
    tr.log(
        f"resumed from checkpoint {path} at epoch {tr.epoch} step {tr.step_in_epoch} "
        f"(global step {tr.global_step})"
    )
    return path


def restore_or_start_afresh(tr: Training) -> None:
    """Resume, or start afresh with the earlier files moved aside; then tell the runner."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = None
    if tr.args.no_resume:
        start_afresh(tr, stamp)
    else:
        path = resume(tr)
        if path is None and tr.job.is_main:
            move_earlier_outputs_aside(tr, stamp)
        contract.barrier()
    tr.job.announce_start(tr.global_step if path is not None else 0, path)


def print_epoch(step: int, record: dict) -> None:  # noqa: ARG001 - a MetricsLogger sink
    """The human-readable line of an epoch (the logger's thread calls it once the numbers are read)."""
    if "val_loss" not in record:
        return
    print(
        f"epoch {record['epoch']:3d} step {record['step']:6d} | train loss {record['train_loss']:.4f} "
        f"acc {record['train_accuracy']:.4f} | val loss {record['val_loss']:.4f} acc {record['val_accuracy']:.4f} "
        f"| {record['samples_per_second']:,.0f} samples/s | {record['epoch_time_s']:.2f}s | lr {record['lr']:.2e}",
        flush=True,
    )


def open_metrics(tr: Training) -> None:
    """MLflow (with the arguments as params), the status channel, metrics.jsonl and the epoch lines:
    all written by the logger's thread (rank 0)."""
    if tr.job.is_main:
        tr.sinks = [MetricsFile(tr.output_dir / "metrics.jsonl"), print_epoch]
    tr.job.open_metrics(params=tr.params, sinks=tr.sinks)


def close_metrics(tr: Training) -> None:
    tr.job.metrics.close()
    for sink in tr.sinks:
        if hasattr(sink, "close"):
            sink.close()


def save(tr: Training, epoch: int, step_in_epoch: int) -> Path | None:
    """Rank 0 writes a checkpoint at the current global step (the other ranks hold the same state)."""
    tr.saved_step = tr.global_step
    if not tr.job.is_main:
        return None
    state = {
        "model": tr.raw.state_dict(),
        "optimizer": tr.optimizer.state_dict(),
        "scheduler": tr.scheduler.state_dict(),
        "epoch": epoch,
        "step_in_epoch": step_in_epoch,
        "global_step": tr.global_step,
        "rng": contract.rng_state(),
        "sums": tr.trainer.sums_state(),
        "args": tr.params,
        "signature": tr.signature,
    }
    if tr.trainer.scaler is not None:
        state["scaler"] = tr.trainer.scaler.state_dict()
    return tr.job.save_state(state, tr.global_step)


def stop_for_preemption(tr: Training, s: int) -> int:
    """Checkpoint where the loop stands, say so, and return the exit code that asks for a rerun."""
    path = save(tr, tr.epoch, s)
    tr.log(
        f"preempted: checkpoint written at epoch {tr.epoch} step {s} (global step {tr.global_step}); "
        f"exiting {EXIT_PREEMPTED} so a rerun resumes"
    )
    tr.job.announce_preempted(tr.global_step, path)
    close_metrics(tr)
    tr.job.close()
    return EXIT_PREEMPTED


def after_step(tr: Training, s: int) -> None:
    """The per-step hooks: the preemption rehearsal, the debugging flags, checkpoints when due."""
    args = tr.args
    tr.job.preemption.rehearse(tr.global_step)
    if args.debug_crash_rank is not None and tr.job.rank == args.debug_crash_rank:
        raise RuntimeError(
            f"--debug-crash-rank: rank {tr.job.rank} crashing on purpose at step {tr.global_step}"
        )
    if args.step_delay:
        time.sleep(args.step_delay)
    # At the epoch's last step the checkpoint waits for end_epoch, which moves the position on.
    if s < tr.trainer.steps_per_epoch and tr.job.checkpoints.due(tr.global_step):
        save(tr, tr.epoch, s)


def train_epoch(tr: Training, max_steps: float) -> int | None:
    """Run the rest of the current epoch; returns EXIT_PREEMPTED when stopped, else None."""
    perm, shifts = tr.trainer.epoch_plan(tr.epoch)
    tr.raw.train()
    timer, s, samples = engine.EpochTimer(tr.job.device), tr.step_in_epoch, 0
    while s < tr.trainer.steps_per_epoch and tr.global_step < max_steps:
        if tr.job.should_stop(tr.global_step):
            return stop_for_preemption(tr, s)
        tr.trainer.train_step(perm, shifts, s)
        s += 1
        tr.global_step += 1
        samples += tr.trainer.batch_size * tr.job.world_size
        after_step(tr, s)
    end_epoch(tr, s, samples, timer.stop())
    return None


def per_second(count: int, seconds):
    """``count / seconds``, lazily when ``seconds`` is (a CUDA event's) callable."""
    if callable(seconds):
        return lambda: count / max(seconds(), 1e-9)
    return count / max(seconds, 1e-9)


def end_epoch(tr: Training, s: int, samples: int, seconds) -> None:
    """Queue the epoch's metrics (read later, off the hot path), move the position on, checkpoint if due."""
    train_loss, train_acc = tr.trainer.epoch_sums()
    val_loss, val_acc = tr.trainer.evaluate(tr.val)
    record = {
        "epoch": tr.epoch,
        "step": tr.global_step,
        "train_loss": train_loss,
        "train_accuracy": train_acc,
        "val_loss": val_loss,
        "val_accuracy": val_acc,
        "samples_per_second": per_second(samples, seconds),
        "epoch_time_s": seconds,
        "lr": tr.scheduler.get_last_lr()[0],
        "resumed_from_step": tr.resumed_from,
    }
    tr.job.log_metrics(tr.global_step, record)
    if s >= tr.trainer.steps_per_epoch:
        tr.epoch, tr.step_in_epoch = tr.epoch + 1, 0
        tr.trainer.reset_sums()
    else:
        tr.step_in_epoch = s
    if tr.job.checkpoints.due(tr.global_step):
        save(tr, tr.epoch, tr.step_in_epoch)


def warm_up_compile(tr: Training) -> None:
    """With --compile: compile (and record CUDA graphs) before the first timed epoch, reported apart."""
    if not tr.args.compile or tr.epoch >= tr.args.epochs:
        return
    perm, shifts = tr.trainer.epoch_plan(tr.epoch)
    tr.compile_time_s = tr.trainer.warm_up(perm, shifts)
    tr.log(f"compile: {tr.compile_time_s:.1f}s of warm-up (not counted in any epoch's time)")


def train_loop(tr: Training) -> int | None:
    """Every remaining epoch; EXIT_PREEMPTED when a preemption stopped it, else None."""
    max_steps = tr.args.max_steps if tr.args.max_steps is not None else float("inf")
    while tr.epoch < tr.args.epochs and tr.global_step < max_steps:
        code = train_epoch(tr, max_steps)
        if code is not None:
            return code
    return None


def finish(tr: Training) -> int:
    """The last checkpoint, test, the final metrics line, model.pt; then tell the runner."""
    if tr.saved_step != tr.global_step:
        save(tr, tr.epoch, tr.step_in_epoch)
    test_loss, test_acc = (v.item() for v in tr.trainer.evaluate(tr.test))
    tr.job.log_metrics(
        tr.global_step,
        {
            "final": True,
            "epoch": tr.epoch,
            "step": tr.global_step,
            "test_loss": test_loss,
            "test_accuracy": test_acc,
            "compile_time_s": tr.compile_time_s,
            "resumed_from_step": tr.resumed_from,
        },
    )
    tr.job.metrics.flush()  # the epoch lines come first
    tr.log(f"test loss {test_loss:.4f} accuracy {test_acc:.4f}")
    if tr.job.is_main:
        extra = {"mean": tr.ds.mean, "std": tr.ds.std, "dataset": tr.ds.name}
        extra.update(test_accuracy=test_acc, global_step=tr.global_step)
        model_mod.save_model(tr.output_dir / "model.pt", tr.raw, extra)
        tr.log(f"saved {tr.output_dir / 'model.pt'}")
    tr.job.announce_finished(tr.global_step)
    close_metrics(tr)
    tr.job.close()
    return EXIT_OK


def start_job(args) -> contract.Job:
    """The helper's start: SIGTERM flag, device (exit 78 when a required GPU is missing), process group."""
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts: set it first
    return contract.start(
        checkpoint_dir(args),
        device=args.device,
        precision=args.precision,
        checkpoint_every_s=args.checkpoint_interval,
        checkpoint_every_steps=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        stop_check_every=args.stop_check_every,
        metrics=False,  # opened once the data and settings are known good
        banner=False,  # printed once the folders are known good
        check_folder=False,  # checked next, with the flag that names it
    )


def run(args) -> int:
    """The script: checks that cost nothing first, then the device, folders, data, training."""
    objective = os.environ.get(OBJECTIVE_METRIC_ENV, "").strip()
    check_objective(objective)
    job = start_job(args)  # before any data is read: a missing GPU must fail at once
    configure_determinism(args, job.device)
    check_precision(args, job)
    output_dir = check_output_folders(args, job)
    job.print("\n".join(contract.environment_lines(job.device, job.precision)))
    if objective:
        job.print(f"sweep objective: {objective} (logged to MLflow and metrics.jsonl)")
    if job.info.enabled:
        backend = "nccl" if job.device.type == "cuda" else "gloo"
        job.print(f"distributed: world size {job.world_size}, backend {backend}")
    tr = build_training(args, job, output_dir)
    restore_or_start_afresh(tr)
    open_metrics(tr)
    warm_up_compile(tr)
    code = train_loop(tr)
    return code if code is not None else finish(tr)


def leave(code: int, distributed: bool) -> int:
    """The exit: plain in one process. With several, flush and leave without interpreter finalisation:
    DDP keeps the gloo/nccl process group alive through reference cycles, and its C++ destructor during
    finalisation can abort a rank with SIGABRT after a fully successful run."""
    if not distributed:
        return code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv=None) -> int:
    """The script's entry point: run training and return the exit code (the contract's codes); a bad
    argument or setting is a one-line ``ERROR:`` on rank 0 and exit 2, not a traceback."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    args = parse_args(argv)
    info = contract.dist_info_from_env()
    try:
        code = run(args)
    except UsageError as exc:
        if info.is_main:
            print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        code = EXIT_USAGE  # every rank finds the same problem; none may wait in a collective
    except Exception:
        import traceback

        traceback.print_exc()
        code = 1  # with several ranks: leave at once (a collective waiting for a dead peer would hang)
    return leave(code, info.enabled)


if __name__ == "__main__":
    sys.exit(main())

"""The reference script's command line: flags, their ranges, and the --help text.

Every flag is range-checked by argparse (a one-line error and exit 2, never a traceback), so a typo in
a job's arguments fails in the first second of the job, before any paid GPU time.
"""

from __future__ import annotations

import argparse
import math

from contract import (
    COLLECTIVE_TIMEOUT_ENV,
    DEFAULT_COLLECTIVE_TIMEOUT_S,
    EXIT_NO_GPU,
    EXIT_PREEMPTED,
    EXIT_USAGE,
    OBJECTIVE_METRIC_ENV,
    PREEMPT_AT_STEP_ENV,
    REQUIRE_GPU_ENV,
    STATUS_FILE_ENV,
)
from metrics import OBJECTIVE_METRICS

DESCRIPTION = "Reference PyTorch training script for azure-trainer: a small CNN on 8x8 digits (or your data)."

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
                            the last line: final=true, test_loss, test_accuracy, compile_time_s.
                            Same names in MLflow.
  OUTPUT_DIR/model.pt       state_dict + config (in_channels, num_classes, width, depth, image_size)
                            + normalisation (mean, std).
  CHECKPOINT_DIR/ckpt-*.pt  atomic checkpoints every --checkpoint-interval seconds (and every
                            --checkpoint-every steps), on SIGTERM and at the end; the newest loadable
                            one is resumed automatically.

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
  {COLLECTIVE_TIMEOUT_ENV}=S  a rank waiting longer than S seconds in a collective (for a
                            dead or hung peer) fails instead of hanging (default {DEFAULT_COLLECTIVE_TIMEOUT_S:g}).

resume (CHECKPOINT_DIR/ckpt-*.pt):
  A rerun of the same command resumes from the newest loadable checkpoint. Each checkpoint records the
  run's signature (--width, --depth, the data's content, --batch-size, --lr, --weight-decay, --epochs,
  --seed, --label-smoothing, --augment-shift): if the command's differ, the script stops with exit 2 and
  names them; use a new --output-dir / --checkpoint-dir, or --no-resume. --max-steps, --threads,
  --device, --precision, --compile, --checkpoint-every, --keep-checkpoints may change between runs.
  --no-resume starts afresh and moves the existing checkpoints into CHECKPOINT_DIR/previous-<UTC time>/
  (nothing is deleted), so a later rerun resumes the new run, not the old one. A run that starts afresh
  (--no-resume, or no checkpoint to resume) first moves an earlier model.pt and metrics.jsonl into
  OUTPUT_DIR/previous-<UTC time>/: a user's files are never overwritten or appended to.

exit codes:
  0   finished
  1   unexpected error (a bug or a failed machine; the traceback is printed)
  {EXIT_USAGE}   bad command line; unusable --data; settings that differ from the checkpoint being resumed;
      an unwritable --output-dir / --checkpoint-dir; an objective metric this script does not log;
      more processes on a machine than it has GPUs
  {EXIT_PREEMPTED}  preempted: SIGTERM received, checkpoint written; run the same command again to resume
  {EXIT_NO_GPU}  GPU required ({REQUIRE_GPU_ENV}=1 or --device cuda) but no CUDA device visible
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
    return build_parser().parse_args(argv)


def build_parser() -> argparse.ArgumentParser:
    """The script's argument parser, one group of flags at a time (as ``--help`` lists them)."""
    p = argparse.ArgumentParser(
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_data_options(p)
    _add_model_options(p)
    _add_device_options(p)
    _add_output_options(p)
    _add_debug_options(p)
    return p


def _add_data_options(p: argparse.ArgumentParser) -> None:
    """The data to train on: a folder or file, or a built-in dataset."""
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


def _add_model_options(p: argparse.ArgumentParser) -> None:
    """The model's shape, the optimiser and the length of training."""
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


def _add_device_options(p: argparse.ArgumentParser) -> None:
    """Where and how fast to run: device, precision, compile, threads."""
    g = p.add_argument_group("device and speed")
    g.add_argument(
        "--device",
        choices=["auto", "cuda", "cpu", "mps"],
        default="auto",
        help="auto: cuda, then mps, then cpu. cuda = a GPU is required (exit 78 if none)",
    )
    g.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp16", "fp32"],
        default="auto",
        help="autocast dtype; auto: bf16 on GPUs with native bf16 (compute capability >= 8.0: A100, H100, "
        "...), fp16 with a GradScaler on V100/T4, fp32 on older GPUs and the CPU; fp16 needs CUDA",
    )
    g.add_argument(
        "--no-tf32",
        dest="tf32",
        action="store_false",
        help="true fp32 matmuls and convolutions on CUDA (default: TF32 allowed, as for --precision fp32 "
        "on Ampere and later)",
    )
    g.add_argument(
        "--compile", action="store_true", help="torch.compile the model (compile time reported on its own)"
    )
    g.add_argument(
        "--compile-mode",
        choices=["auto", "default", "reduce-overhead", "max-autotune"],
        default="auto",
        help="torch.compile mode; auto: reduce-overhead (CUDA graphs: the small digits steps are bound by "
        "kernel launches) for one process on CUDA, default elsewhere (and with DDP)",
    )
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


def _add_output_options(p: argparse.ArgumentParser) -> None:
    """Where outputs and checkpoints go, how often, and resuming."""
    g = p.add_argument_group("outputs and checkpoints")
    g.add_argument(
        "--output-dir", default="./outputs", help="metrics.jsonl and model.pt (default: ./outputs)"
    )
    g.add_argument("--checkpoint-dir", default=None, help="default: OUTPUT_DIR/checkpoints")
    g.add_argument(
        "--checkpoint-interval",
        type=_number(float, 0),
        default=300.0,
        metavar="SECONDS",
        help="checkpoint every SECONDS of training (0: off); always on SIGTERM and at the end (default: 300)",
    )
    g.add_argument(
        "--checkpoint-every",
        type=_number(int, 0),
        default=0,
        metavar="STEPS",
        help="also checkpoint every STEPS optimizer steps (0: off; default: 0)",
    )
    g.add_argument(
        "--keep-checkpoints", type=_number(int, 1), default=3, help="checkpoints kept, >= 1 (default: 3)"
    )
    g.add_argument(
        "--no-resume",
        action="store_true",
        help="start afresh: existing checkpoints are moved to CHECKPOINT_DIR/previous-<UTC time>/, an "
        "earlier model.pt and metrics.jsonl to OUTPUT_DIR/previous-<UTC time>/",
    )
    g.add_argument(
        "--stop-check-every",
        type=_number(int, 1),
        default=None,
        metavar="STEPS",
        help="multi-process runs: agree on SIGTERM across ranks every STEPS steps "
        "(one tiny all-reduce; default: 1 on CPU, 20 on CUDA)",
    )


def _add_debug_options(p: argparse.ArgumentParser) -> None:
    """Hooks the tests use to land a signal or a crash at a known step."""
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

#!/usr/bin/env python
"""The reference training script's benchmark, on the CPU and, when present, on CUDA, in one run.

Per device:

* throughput of train.py's loop (engine.Trainer) on synthetic 3x32x32 images at CIFAR-10 scale (SmallCNN,
  batch 1024), timed as benchmarks/timing.py does (CUDA events over >= 1 s on a GPU); FLOPs per step from
  torch.utils.flop_counter.FlopCounterMode; MFU against benchmarks/peaks.py (the CPU's peak is only a
  rough estimate). This CNN is memory-bound on a GPU (about 21 FLOP per byte): for the hardware's limit
  see benchmarks/gpt_bench.py;
* the textbook-to-optimised loop ladder of benchmarks/loop_bench.py (its end-to-end ratio);
* the per-epoch bookkeeping of train.py (the epoch's sums, the validation pass, queuing the metrics, the
  checkpoint check), timed inside train.py's own functions, as a fraction of an epoch's step time; and
  one checkpoint's cost (paid once per --checkpoint-interval, 300 s, not per epoch);
* time to 98% validation accuracy and the final test accuracy of train.py with its defaults on digits
  (a fresh process; compilation, with --compile, is reported apart and not counted).

Then the GPU/CPU speed-up. Without a GPU it still runs and says so (CPU columns only).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "train_scripts"))

import contract  # noqa: E402
import data as data_mod  # noqa: E402
import loop_bench  # noqa: E402
import model as model_mod  # noqa: E402
import peaks  # noqa: E402
import timing  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

TARGET_ACCURACY = 0.98


def flops_per_step(model, ds, device, batch_size, precision) -> int:
    """Forward + backward FLOPs of one training step, counted by FlopCounterMode."""
    m = copy.deepcopy(model).to(device)
    x = ds.train.images[:batch_size].to(device)
    y = ds.train.labels[:batch_size].to(device)
    counter = FlopCounterMode(display=False)
    with counter:
        with contract.autocast(device, precision):
            loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
    return int(counter.get_total_flops())


def run_train(argv: list[str]) -> tuple[int, str]:
    """train.py ARGV in a fresh process: (exit code, the end of its stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_TRAINER_")}
    env["TRAIN_DISABLE_MLFLOW"] = "1"
    cmd = [sys.executable, str(ROOT / "train_scripts" / "train.py"), *argv]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    return r.returncode, r.stderr[-2000:]


def time_to_accuracy(device: str, quick: bool, threads: int | None, compile: bool = False) -> dict:
    """Run train.py with its defaults on digits; time to the first epoch with val_accuracy >= 98%."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["--device", device, "--output-dir", tmp]
        if quick:
            argv += ["--epochs", "2"]
        if threads:
            argv += ["--threads", str(threads)]
        if compile:
            argv += ["--compile"]
        code, err = run_train(argv)
        if code != 0:
            return {"error": err}
        lines = [json.loads(x) for x in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    epochs, final = [m for m in lines if not m.get("final")], lines[-1]
    elapsed, reached = 0.0, None
    for m in epochs:
        elapsed += m["epoch_time_s"]
        if reached is None and m["val_accuracy"] >= TARGET_ACCURACY:
            reached = elapsed
    return {
        "time_to_98_val_accuracy_s": reached,
        "train_time_s": elapsed,
        "epochs": len(epochs),
        "final_test_accuracy": final["test_accuracy"],
        "compile_time_s": final.get("compile_time_s", 0.0),
    }


def _train_module():
    import train  # train_scripts/train.py: its own functions are what the bookkeeping measurement times

    return train


def bookkeeping_overhead(device: torch.device, epochs: int, threads: int | None, rounds: int = 2) -> dict:
    """train.py's per-epoch bookkeeping against its steps, on digits, in this process, with train.py's
    own functions.

    Step time: ``Trainer.train_step`` for every step of an epoch (best of ``rounds``). Bookkeeping: the wall
    time of each ``train.end_epoch`` call while ``train.train_epoch`` runs whole epochs (the epoch's
    device-side sums, the validation pass, the metrics queued for the logger's thread, the checkpoint-due
    check; on CUDA with a sync on each side, so the device's share is counted too), the median over
    ``epochs x rounds`` epochs. Timing the bookkeeping itself, not a difference of two totals, keeps it
    readable on a shared machine.
    """
    train = _train_module()
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["--device", device.type, "--output-dir", tmp, "--no-resume", "--epochs", "1000000"]
        args = train.parse_args(argv + (["--threads", str(threads)] if threads else []))
        job = train.start_job(args)
        try:
            train.configure_determinism(args, job.device)
            tr = train.build_training(args, job, train.check_output_folders(args, job))
            tr.sinks = []
            job.open_metrics(sinks=[train.MetricsFile(Path(tmp) / "metrics.jsonl")], mlflow=False)
            return _overhead_rounds(train, tr, epochs, rounds)
        finally:
            job.close()


def _overhead_rounds(train, tr, epochs: int, rounds: int) -> dict:
    device, spe = tr.job.device, tr.trainer.steps_per_epoch
    spent: list[float] = []
    end_epoch = train.end_epoch

    def timed_end_epoch(*args):
        timing.sync(device)
        t0 = time.perf_counter()
        end_epoch(*args)
        timing.sync(device)
        spent.append(time.perf_counter() - t0)

    def bare() -> float:
        timing.sync(device)
        t0 = time.perf_counter()
        for _ in range(epochs):
            perm, shifts = tr.trainer.epoch_plan(tr.epoch)
            for s in range(spe):
                tr.trainer.train_step(perm, shifts, s)
            tr.epoch += 1
        timing.sync(device)
        return time.perf_counter() - t0

    bare()  # warm-up: allocator, cudnn autotuning, first evaluation
    train.train_epoch(tr, float("inf"))
    best_bare = float("inf")
    train.end_epoch = timed_end_epoch
    try:
        for _ in range(rounds):
            best_bare = min(best_bare, bare())
            for _ in range(epochs):
                train.train_epoch(tr, float("inf"))
    finally:
        train.end_epoch = end_epoch
    t0 = time.perf_counter()
    tr.job.metrics.flush()
    flush_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    train.save(tr, tr.epoch, 0)
    checkpoint_s = time.perf_counter() - t0
    step_time = best_bare / (epochs * spe)
    per_epoch = statistics.median(spent)
    return {
        "epochs": epochs * rounds,
        "steps_per_epoch": spe,
        "step_time_s": step_time,
        "bookkeeping_per_epoch_s": per_epoch,
        "bookkeeping_fraction_of_epoch": per_epoch / (spe * step_time),
        "bookkeeping_in_steps": per_epoch / step_time,
        "metrics_thread_flush_s": flush_s,
        "checkpoint_s": checkpoint_s,
        "checkpoint_interval_s": tr.args.checkpoint_interval,
    }


def bench_device(device: torch.device, ds, args) -> dict:
    contract.configure_math(device)
    precision = contract.choose_precision(device)
    torch.manual_seed(0)
    model = model_mod.build_model(ds.in_channels, ds.num_classes, args.width, args.depth, ds.image_size)
    flops = flops_per_step(model, ds, device, args.batch_size, precision)
    step = loop_bench.EngineStep(copy.deepcopy(model), ds, device, args.batch_size)
    steps = args.steps or (None if device.type == "cuda" else 10)
    t = timing.measure(step, device, warmup=args.warmup, steps=steps, min_seconds=1.0, finish=step.finish)
    step_time = t["timed_s"] / t["timed_steps"]
    achieved = flops / step_time / 1e12
    name = contract.device_name(device)
    peak, peak_note = peaks.peak_tflops(
        device.type, name, precision, contract.tf32_enabled() if device.type == "cuda" else False
    )
    ladder_steps = 2 if args.quick else max(3, (steps or 20) // 2)
    loops = loop_bench.ladder(
        ds, device, args.width, args.depth, args.batch_size, ladder_steps, args.warmup, rounds=1
    )
    threads = args.threads if device.type == "cpu" else None
    out = {
        "device": str(device),
        "name": name,
        "precision": precision,
        "samples_per_second": args.batch_size / step_time,
        "step_time_s": step_time,
        "timed_steps": t["timed_steps"],
        "timed_s": t["timed_s"],
        "flops_per_step": flops,
        "achieved_tflops": achieved,
        "peak_tflops": peak,
        "peak_source": peak_note,
        "mfu": achieved / peak if peak else None,
        "optimised_vs_textbook_ratio": loops["ratio"],
        "textbook_samples_per_second": loops["textbook_samples_per_second"],
        "loop_rungs": loops["rungs"],
        "bookkeeping": bookkeeping_overhead(
            device, 2 if args.quick else 5, threads, rounds=1 if args.quick else 3
        ),
    }
    out.update(time_to_accuracy(device.type, args.quick, threads))
    return out


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--synthetic-size", type=int, default=50_000)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument(
        "--steps", type=int, default=None, help="timed steps (default: 10 on the CPU, >= 1 s on CUDA)"
    )
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--cpu-only", action="store_true", help="skip CUDA even if present")
    p.add_argument(
        "--quick", action="store_true", help="tiny setting for tests: 1024 images, batch 128, 3 steps"
    )
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    if args.quick:
        args.synthetic_size, args.batch_size = 1024, 128
        args.steps, args.warmup = args.steps or 3, args.warmup or 1
    args.warmup = args.warmup or 3
    return args


ROWS = (
    ("samples/s", "samples_per_second", "{:,.0f}"),
    ("step time (s)", "step_time_s", "{:.4f}"),
    ("precision", "precision", "{}"),
    ("FLOPs/step (G)", "flops_per_step", None),
    ("achieved TFLOP/s", "achieved_tflops", "{:.3f}"),
    ("peak TFLOP/s", "peak_tflops", "{}"),
    ("MFU", "mfu", "{:.1%}"),
    ("optimised/textbook loop", "optimised_vs_textbook_ratio", "{:.2f}x"),
    ("digits: bookkeeping per epoch / epoch's step time", "bookkeeping", None),
    ("digits: one checkpoint (s)", "bookkeeping", None),
    ("digits: time to 98% val (s)", "time_to_98_val_accuracy_s", "{:.2f}"),
    ("digits: final test accuracy", "final_test_accuracy", "{:.4f}"),
)


def _cell(label: str, key: str, fmt: str | None, r: dict) -> str:
    v = r.get(key)
    if key == "flops_per_step":
        return f"{v / 1e9:.2f}"
    if key == "bookkeeping":
        if "checkpoint" in label:
            return f"{v['checkpoint_s']:.3f}"
        return f"{v['bookkeeping_fraction_of_epoch']:.1%} ({v['bookkeeping_per_epoch_s'] * 1000:.1f} ms)"
    return "n/a" if v is None else fmt.format(v)


def print_report(report: dict) -> None:
    results = report["devices"]
    s = report["setting"]
    print(
        f"train_bench: {s['dataset']} 3x32x32, SmallCNN width {s['width']} depth {s['depth']}, batch {s['batch_size']}; {report['machine']}"
    )
    if not report["gpu_available"]:
        print("NOTE: no GPU here (no CUDA device visible) - CPU columns only.")
    print()
    print("| metric | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for label, key, fmt in ROWS:
        print(f"| {label} | " + " | ".join(_cell(label, key, fmt, r) for r in results.values()) + " |")
    speedup = report["gpu_vs_cpu_speedup"]
    print(f"\nGPU/CPU speed-up: {speedup:.1f}x" if speedup else "\nGPU/CPU speed-up: n/a (no GPU)")
    if "cpu" in results:
        print(f"CPU peak is {results['cpu']['peak_source']}; treat CPU MFU as indicative only.")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    has_gpu = torch.cuda.is_available() and not args.cpu_only
    t0 = time.perf_counter()
    ds = data_mod.load_dataset("synthetic", None, args.synthetic_size, 32)
    devices = [torch.device("cpu")] + ([torch.device("cuda", 0)] if has_gpu else [])
    results = {dev.type: bench_device(dev, ds, args) for dev in devices}
    errors = [f"{d}: {r['error']}" for d, r in results.items() if "error" in r]
    speedup = results["cpu"]["step_time_s"] / results["cuda"]["step_time_s"] if has_gpu else None
    report = {
        "gpu_available": has_gpu,
        "note": None if has_gpu else "no CUDA device visible: CPU columns only",
        "setting": {
            "dataset": ds.name,
            "image": "3x32x32",
            "batch_size": args.batch_size,
            "width": args.width,
            "depth": args.depth,
            "quick": args.quick,
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "devices": results,
        "gpu_vs_cpu_speedup": speedup,
        "wall_time_s": time.perf_counter() - t0,
    }
    print_report(report)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    if errors:
        print("train_bench: train.py failed: " + "; ".join(errors), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

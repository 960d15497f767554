#!/usr/bin/env python
"""Reference-training benchmark on the CPU and, when present, on CUDA — same model and data, one run.

Per device: samples/s and step time on a compute-bound setting (synthetic 3x32x32 images at CIFAR-10
scale, SmallCNN, batch 1024), model FLOPs utilisation (FLOPs per step from
torch.utils.flop_counter.FlopCounterMode; GPU peak from a table, CPU peak only a rough estimate),
the optimised/textbook loop ratio (benchmarks/loop_bench.py), and time to 98% validation accuracy plus
final test accuracy of train_scripts/train.py with its default settings on digits. Then the GPU/CPU
speed-up. Without a GPU it still runs and says so (CPU columns only).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
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
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

# Dense peak TFLOP/s for the dtype the script uses there (bf16 on these GPUs).
GPU_PEAK_TFLOPS = [
    ("H100 SXM", 989.0),
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("H200", 989.0),
    ("GH200", 989.0),
    ("A100", 312.0),
    ("A10", 125.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("V100", 125.0),
    ("T4", 65.0),
]
TARGET_ACCURACY = 0.98


def gpu_peak_tflops(name: str) -> float | None:
    for key, peak in GPU_PEAK_TFLOPS:
        if key.lower() in name.lower():
            return peak
    return None


def cpu_peak_tflops_estimate() -> float:
    """Rough: cores x 2 FMA units x 8 fp32 lanes (AVX2) x 2 FLOP x 2.5 GHz. Only an order of magnitude."""
    return (os.cpu_count() or 1) * 2 * 8 * 2 * 2.5e9 / 1e12


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


def time_to_accuracy(device: str, quick: bool, threads: int | None) -> dict:
    """Run train.py with its defaults on digits; time to the first epoch with val_accuracy >= 98%."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            str(ROOT / "train_scripts" / "train.py"),
            "--device",
            device,
            "--output-dir",
            tmp,
            "--no-resume",
        ]
        if quick:
            cmd += ["--epochs", "2"]
        if threads:
            cmd += ["--threads", str(threads)]
        env = {**os.environ, "TRAIN_DISABLE_MLFLOW": "1"}
        env.pop("AZURE_TRAINER_REQUIRE_GPU", None)
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if r.returncode != 0:
            return {"error": r.stderr[-2000:]}
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
    }


def bench_device(device: torch.device, ds, args) -> dict:
    precision = contract.choose_precision(device)
    torch.manual_seed(0)
    model = model_mod.build_model(ds.in_channels, ds.num_classes, args.width, args.depth, ds.image_size)
    flops = flops_per_step(model, ds, device, args.batch_size, precision)
    sps = loop_bench.optimised_throughput(
        copy.deepcopy(model), ds, device, args.batch_size, args.steps, args.warmup
    )
    step_time = args.batch_size / sps
    achieved = flops / step_time / 1e12
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak, peak_note = (
            gpu_peak_tflops(name),
            "table (dense bf16)" if precision == "bf16" else "table (bf16; fp32 used)",
        )
    else:
        name = platform.processor() or platform.machine()
        peak, peak_note = cpu_peak_tflops_estimate(), "rough estimate (AVX2 fp32, 2.5 GHz), not a spec"
    loops = loop_bench.compare(
        ds, device, args.width, args.depth, args.batch_size, max(3, args.steps // 2), args.warmup, rounds=1
    )
    out = {
        "device": str(device),
        "name": name,
        "precision": precision,
        "samples_per_second": sps,
        "step_time_s": step_time,
        "flops_per_step": flops,
        "achieved_tflops": achieved,
        "peak_tflops": peak,
        "peak_source": peak_note,
        "mfu": achieved / peak if peak else None,
        "optimised_vs_textbook_ratio": loops["ratio"],
        "textbook_samples_per_second": loops["textbook_samples_per_second"],
    }
    out.update(time_to_accuracy(device.type, args.quick, args.threads if device.type == "cpu" else None))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--synthetic-size", type=int, default=50_000)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument(
        "--steps", type=int, default=None, help="timed steps (default: 10 on CPU-only, 100 with a GPU)"
    )
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--cpu-only", action="store_true", help="skip CUDA even if present")
    p.add_argument(
        "--quick", action="store_true", help="tiny setting for tests: 1024 images, batch 128, 3 steps"
    )
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.synthetic_size, args.batch_size = 1024, 128
        args.steps, args.warmup = args.steps or 3, args.warmup or 1
    has_gpu = torch.cuda.is_available() and not args.cpu_only
    args.warmup = args.warmup or 3
    t0 = time.perf_counter()
    ds = data_mod.load_dataset("synthetic", None, args.synthetic_size, 32)
    devices = [torch.device("cpu")] + ([torch.device("cuda", 0)] if has_gpu else [])
    results = {}
    for dev in devices:
        a = copy.copy(args)
        a.steps = args.steps or (10 if dev.type == "cpu" else 100)
        results[dev.type] = bench_device(dev, ds, a)
    speedup = (
        (results["cuda"]["samples_per_second"] / results["cpu"]["samples_per_second"]) if has_gpu else None
    )
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
    print(
        f"train_bench: {ds.name} 3x32x32, SmallCNN width {args.width} depth {args.depth}, batch "
        f"{args.batch_size}; {report['machine']}"
    )
    if not has_gpu:
        print("NOTE: no GPU here (no CUDA device visible) - CPU columns only.")
    print()
    rows = [
        ("samples/s", "samples_per_second", "{:,.0f}"),
        ("step time (s)", "step_time_s", "{:.4f}"),
        ("precision", "precision", "{}"),
        ("FLOPs/step (G)", "flops_per_step", None),
        ("achieved TFLOP/s", "achieved_tflops", "{:.3f}"),
        ("peak TFLOP/s", "peak_tflops", "{}"),
        ("MFU", "mfu", "{:.1%}"),
        ("optimised/textbook loop", "optimised_vs_textbook_ratio", "{:.2f}x"),
        ("digits: time to 98% val (s)", "time_to_98_val_accuracy_s", "{:.2f}"),
        ("digits: final test accuracy", "final_test_accuracy", "{:.4f}"),
    ]
    print("| metric | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for label, key, fmt in rows:
        cells = []
        for r in results.values():
            v = r.get(key)
            if key == "flops_per_step":
                cells.append(f"{v / 1e9:.2f}")
            elif v is None:
                cells.append("n/a")
            else:
                cells.append(fmt.format(v))
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\nGPU/CPU speed-up: {speedup:.1f}x" if speedup else "\nGPU/CPU speed-up: n/a (no GPU)")
    if "cpu" in results:
        print(f"CPU peak is {results['cpu']['peak_source']}; treat CPU MFU as indicative only.")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

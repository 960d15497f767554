#!/usr/bin/env python
"""Samples/s of train_scripts' training loop against a textbook loop, same model, data and device.

Textbook: DataLoader over a TensorDataset on the host, a host-to-device copy per batch, fp32, and
``loss.item()`` / ``correct.item()`` every step. Optimised: train_scripts/engine.Trainer (data on the
device, index a permutation, sums kept on the device, bf16 + channels_last + fused AdamW on CUDA).
Both run without augmentation. Prints a Markdown table; ``--json PATH`` writes the numbers.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "train_scripts"))

import contract  # noqa: E402
import data as data_mod  # noqa: E402
import engine  # noqa: E402
import model as model_mod  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def optimised_throughput(
    model,
    ds: data_mod.Dataset,
    device,
    batch_size: int,
    steps: int,
    warmup: int,
    precision: str = "auto",
    lr: float = 1e-3,
) -> float:
    """Samples/s of engine.Trainer for ``steps`` steps after ``warmup`` (one host read at the end)."""
    precision = contract.choose_precision(device, precision)
    channels_last = device.type == "cuda"
    model = model.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    opt = engine.make_optimizer(model, lr, 0.0, device)
    sched = engine.make_scheduler(opt, lr, warmup + steps + 1)
    tr = engine.Trainer(
        model,
        model,
        opt,
        sched,
        ds.train,
        device,
        precision=precision,
        batch_size=batch_size,
        channels_last=channels_last,
    )
    state = {"epoch": 0, "s": tr.steps_per_epoch}
    plan = [None, None]

    def run(n):
        for _ in range(n):
            if state["s"] >= tr.steps_per_epoch:
                plan[0], plan[1] = tr.epoch_plan(state["epoch"])
                state["epoch"] += 1
                state["s"] = 0
            tr.train_step(plan[0], plan[1], state["s"])
            state["s"] += 1

    run(warmup)
    tr.epoch_sums()[0].item()
    sync(device)
    t = time.perf_counter()
    run(steps)
    tr.epoch_sums()[0].item()  # the loop's one host read
    sync(device)
    return steps * tr.batch_size / (time.perf_counter() - t)


def textbook_throughput(
    model, ds: data_mod.Dataset, device, batch_size: int, steps: int, warmup: int, lr: float = 1e-3
) -> float:
    """Samples/s of the loop from the tutorials: DataLoader, .to(device) per batch, .item() per step."""
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = DataLoader(
        TensorDataset(ds.train.images, ds.train.labels), batch_size=batch_size, shuffle=True, drop_last=True
    )
    running_loss, correct, seen = 0.0, 0, 0

    def batches():
        while True:
            yield from loader

    it = batches()

    def run(n):
        nonlocal running_loss, correct, seen
        for _ in range(n):
            x, y = next(it)
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            out = model(x)
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            running_loss += loss.item()
            correct += (out.argmax(1) == y).sum().item()
            seen += y.shape[0]

    run(warmup)
    sync(device)
    t = time.perf_counter()
    run(steps)
    sync(device)
    return steps * batch_size / (time.perf_counter() - t)


def compare(ds, device, width, depth, batch_size, steps, warmup, rounds=2) -> dict:
    """Both loops on one model init, alternating, best of ``rounds`` each (less noise on a shared machine)."""
    torch.manual_seed(0)
    base = model_mod.build_model(ds.in_channels, ds.num_classes, width, depth, ds.image_size)
    best_opt = best_txt = 0.0
    for _ in range(rounds):
        best_txt = max(
            best_txt, textbook_throughput(copy.deepcopy(base), ds, device, batch_size, steps, warmup)
        )
        best_opt = max(
            best_opt, optimised_throughput(copy.deepcopy(base), ds, device, batch_size, steps, warmup)
        )
    return {
        "device": str(device),
        "textbook_samples_per_second": best_txt,
        "optimised_samples_per_second": best_opt,
        "ratio": best_opt / best_txt,
        "batch_size": batch_size,
        "steps": steps,
        "width": width,
        "depth": depth,
        "precision": contract.choose_precision(device),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["digits", "synthetic"], default="digits")
    p.add_argument("--synthetic-size", type=int, default=8192)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="tiny setting for tests (seconds)")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.warmup = 20, 3
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    ds = data_mod.load_dataset(args.dataset, None, args.synthetic_size)
    res = compare(ds, device, args.width, args.depth, args.batch_size, args.steps, args.warmup)
    res.update(
        dataset=ds.name,
        machine=f"{platform.machine()} {torch.get_num_threads()} threads, "
        + (torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"),
        torch=torch.__version__,
    )
    print(
        f"loop_bench: {ds.name}, SmallCNN width {args.width} depth {args.depth}, batch {args.batch_size}, "
        f"{args.steps} steps, {res['machine']}\n"
    )
    print("| device | textbook samples/s | optimised samples/s | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| {device} | {res['textbook_samples_per_second']:,.0f} "
        f"| {res['optimised_samples_per_second']:,.0f} "
        f"| {res['ratio']:.2f}x |"
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

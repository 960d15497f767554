#!/usr/bin/env python
"""From a textbook training loop to train.py's, one named change at a time, each measured.

Same model, data, batch size and device for every rung; each rung adds one change to the one above it,
so each change's effect is its own row (a comparison that changes four things at once says nothing about
any of them):

  textbook               DataLoader over host tensors, a host-to-device copy per batch, fp32,
                         ``loss.item()`` and ``correct.item()`` every step, torch's default AdamW
  + data on the device   the whole split on the device, batches gathered from a device permutation
  + no per-step read     loss and correct-count summed on the device, read once at the end
  + autocast             bf16 (fp16 + GradScaler on V100/T4) as ``contract.choose_precision`` picks;
                         fp32 on the CPU, so the same loop as the rung above there
  + channels_last        NHWC activations (CUDA only)
  + fused AdamW          the optimizer train.py uses: fused on CUDA, foreach elsewhere

and, last, train_scripts/engine.Trainer itself (train.py's loop). Every rung runs under the speed policy
train.py sets (``contract.configure_math``: cudnn.benchmark, TF32). Rungs alternate over ``--rounds``
and the best of each is kept (less noise on a shared machine). Prints a Markdown table; ``--json PATH``
writes the numbers.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "train_scripts"))

import contract  # noqa: E402
import data as data_mod  # noqa: E402
import engine  # noqa: E402
import model as model_mod  # noqa: E402
import timing  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


@dataclass(frozen=True)
class Loop:
    """Which of train.py's changes a loop has."""

    device_data: bool = False
    device_sums: bool = False
    autocast: bool = False
    channels_last: bool = False
    fused_adamw: bool = False


# (name, what it changes, the loop, CUDA only)
RUNGS = (
    ("textbook", "DataLoader, copy per batch, fp32, .item() per step", Loop(), False),
    ("+ data on the device", "no DataLoader, no host-to-device copy", Loop(device_data=True), False),
    ("+ no per-step read", "sums on the device, one read at the end", Loop(True, True), False),
    ("+ autocast", "bf16 / fp16 + GradScaler where native (fp32 on CPU)", Loop(True, True, True), False),
    ("+ channels_last", "NHWC memory format", Loop(True, True, True, True), True),
    ("+ fused AdamW", "fused on CUDA, foreach elsewhere", Loop(True, True, True, True, True), False),
)


def effective(loop: Loop, device: torch.device) -> Loop:
    """The loop as it runs on ``device``: CUDA-only changes are off elsewhere."""
    return loop if device.type == "cuda" else replace(loop, channels_last=False)


class LoopStep:
    """One training step of ``loop`` on ``ds``; ``finish()`` is its end-of-run host read."""

    def __init__(self, model, ds: data_mod.Dataset, device, loop: Loop, batch_size: int, lr: float = 1e-3):
        fmt = torch.channels_last if loop.channels_last else torch.contiguous_format
        self.model = model.to(device, memory_format=fmt)
        self.device, self.loop, self.batch_size, self.fmt = device, loop, batch_size, fmt
        self.precision = contract.choose_precision(device) if loop.autocast else "fp32"
        self.scaler = contract.grad_scaler(device, self.precision)
        if loop.fused_adamw:
            opt_kw = {"fused": True} if device.type == "cuda" else {"foreach": True}
        else:
            opt_kw = {}
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr, **opt_kw)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        if loop.device_data:
            self.images, self.labels = ds.train.images.to(device), ds.train.labels.to(device)
            self.perm, self.i = torch.randperm(len(self.labels), device=device), 0
        else:
            loader = DataLoader(
                TensorDataset(ds.train.images, ds.train.labels), batch_size, shuffle=True, drop_last=True
            )
            self.batches = self._forever(loader)
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.host_loss, self.host_correct = 0.0, 0

    @staticmethod
    def _forever(loader):
        while True:
            yield from loader

    def _batch(self):
        if not self.loop.device_data:
            x, y = next(self.batches)
            return x.to(self.device), y.to(self.device)
        if (self.i + 1) * self.batch_size > len(self.perm):
            self.perm, self.i = torch.randperm(len(self.labels), device=self.device), 0
        idx = self.perm[self.i * self.batch_size : (self.i + 1) * self.batch_size]
        self.i += 1
        return self.images[idx], self.labels[idx]

    def __call__(self) -> None:
        x, y = self._batch()
        x = x.contiguous(memory_format=self.fmt)
        with contract.autocast(self.device, self.precision):
            out = self.model(x)
            loss = self.loss_fn(out, y)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        if self.loop.device_sums:
            self.loss_sum += loss.detach().float()
            self.correct += (out.detach().argmax(1) == y).sum()
        else:
            self.host_loss += loss.item()
            self.host_correct += (out.argmax(1) == y).sum().item()

    def finish(self) -> None:
        if self.loop.device_sums:
            self.host_loss, self.host_correct = self.loss_sum.item(), int(self.correct.item())


class EngineStep:
    """train_scripts/engine.Trainer's step, as train.py runs it (no augmentation, no label smoothing)."""

    def __init__(self, model, ds: data_mod.Dataset, device, batch_size: int, lr: float = 1e-3):
        channels_last = device.type == "cuda"
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(device, memory_format=fmt)
        opt = engine.make_optimizer(model, lr, 0.0, device)
        sched = engine.make_scheduler(opt, lr, 1_000_000)
        self.trainer = engine.Trainer(
            model,
            model,
            opt,
            sched,
            ds.train,
            device,
            precision=contract.choose_precision(device),
            batch_size=batch_size,
            channels_last=channels_last,
        )
        self.epoch, self.s = 0, self.trainer.steps_per_epoch
        self.plan = (None, None)

    def __call__(self) -> None:
        if self.s >= self.trainer.steps_per_epoch:
            self.plan, self.epoch, self.s = self.trainer.epoch_plan(self.epoch), self.epoch + 1, 0
        self.trainer.train_step(*self.plan, self.s)
        self.s += 1

    def finish(self) -> None:
        self.trainer.epoch_sums()[0].item()  # the loop's one host read


def samples_per_second(step, device, batch_size: int, steps: int, warmup: int, min_seconds: float) -> float:
    t = timing.measure(step, device, warmup=warmup, steps=steps, min_seconds=min_seconds, finish=step.finish)
    return t["timed_steps"] * batch_size / t["timed_s"]


def ladder(
    ds, device, width, depth, batch_size, steps=None, warmup=3, rounds=2, min_seconds: float = 0.0
) -> dict:
    """Every rung and engine.Trainer on one model initialisation: samples/s, best of ``rounds``."""
    contract.configure_math(device)
    torch.manual_seed(0)
    base = model_mod.build_model(ds.in_channels, ds.num_classes, width, depth, ds.image_size)
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, _why, loop, cuda_only in RUNGS:
            if cuda_only and device.type != "cuda":
                continue
            step = LoopStep(copy.deepcopy(base), ds, device, effective(loop, device), batch_size)
            best[name] = max(
                best.get(name, 0.0), samples_per_second(step, device, batch_size, steps, warmup, min_seconds)
            )
        step = EngineStep(copy.deepcopy(base), ds, device, batch_size)
        best["engine.Trainer"] = max(
            best.get("engine.Trainer", 0.0),
            samples_per_second(step, device, batch_size, steps, warmup, min_seconds),
        )
    rows, previous = [], None
    for name, why, _loop, _cuda_only in RUNGS:
        if name not in best:
            rows.append(
                {
                    "rung": name,
                    "change": why,
                    "samples_per_second": None,
                    "effect": None,
                    "skipped": "CUDA only",
                }
            )
            continue
        effect = best[name] / previous if previous else None
        rows.append(
            {"rung": name, "change": why, "samples_per_second": best[name], "effect": effect, "skipped": None}
        )
        previous = best[name]
    textbook = best["textbook"]
    rows.append(
        {
            "rung": "engine.Trainer",
            "change": "train.py's loop (should match the last rung)",
            "samples_per_second": best["engine.Trainer"],
            "effect": best["engine.Trainer"] / previous,
            "skipped": None,
        }
    )
    return {
        "device": str(device),
        "rungs": rows,
        "textbook_samples_per_second": textbook,
        "optimised_samples_per_second": best["engine.Trainer"],
        "ratio": best["engine.Trainer"] / textbook,
        "batch_size": batch_size,
        "width": width,
        "depth": depth,
        "precision": contract.choose_precision(device),
        "tf32": contract.tf32_enabled() if device.type == "cuda" else False,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark) if device.type == "cuda" else None,
    }


def print_table(res: dict) -> None:
    print("| rung | change | samples/s | effect of this change |")
    print("|---|---|---:|---:|")
    for r in res["rungs"]:
        sps = "skipped (" + r["skipped"] + ")" if r["skipped"] else f"{r['samples_per_second']:,.0f}"
        effect = "" if r["effect"] is None else f"{r['effect']:.2f}x"
        print(f"| {r['rung']} | {r['change']} | {sps} | {effect} |")
    print(f"\noptimised (engine.Trainer) / textbook: {res['ratio']:.2f}x")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["digits", "synthetic"], default="digits")
    p.add_argument("--synthetic-size", type=int, default=8192)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--steps", type=int, default=None, help="timed steps per rung (default: 100 on CPU, >= 1 s on CUDA)"
    )
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds, best of each rung kept (default: 5)"
    )
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="tiny setting for tests (seconds)")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.rounds = 10, 2, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    steps = args.steps or (None if device.type == "cuda" else 100)
    ds = data_mod.load_dataset(args.dataset, None, args.synthetic_size)
    res = ladder(
        ds, device, args.width, args.depth, args.batch_size, steps, args.warmup, args.rounds, min_seconds=1.0
    )
    res.update(
        dataset=ds.name,
        machine=f"{platform.machine()} {torch.get_num_threads()} threads, {contract.device_name(device)}",
        torch=torch.__version__,
    )
    print(
        f"loop_bench: {ds.name}, SmallCNN width {args.width} depth {args.depth}, batch {args.batch_size}, "
        f"{f'{steps} steps' if steps else '>= 1 s'} per rung, best of {args.rounds}, {res['machine']}\n"
    )
    print_table(res)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

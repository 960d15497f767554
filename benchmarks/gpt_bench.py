#!/usr/bin/env python
"""A compute-bound benchmark: a small GPT-style transformer trained on synthetic tokens.

The digits CNN is far too small to keep a modern GPU busy (about 21 FLOP per byte moved where an H100
needs about 300), so its MFU says little about the loop. This workload's matmuls are large enough to
reach the hardware's limit: pre-norm decoder blocks with ``scaled_dot_product_attention`` (causal; flash
kernels on CUDA), GELU MLPs, a tied LM head; bf16 autocast where the GPU has native bf16 (the same
``contract.choose_precision`` as train.py), fused AdamW on CUDA, ``torch.compile`` with ``--compile``,
and the speed policy train.py sets (``contract.configure_math``: cudnn.benchmark, TF32).

FLOPs per step are counted by ``torch.utils.flop_counter.FlopCounterMode`` over one real forward and
backward (on the CPU with SDPA's math backend, whose matmuls it can count; it has no formula for the CPU
flash kernel), and checked against the standard estimate 6 x N x tokens + 12 x layers x d_model x seq x
tokens (N: the parameters that take part in matmuls; the second term is attention). Timing (benchmarks/timing.py):
warm-up and compilation first, reported on their own; then CUDA events over at least ``--min-seconds``
(1 s by default) of steps on a GPU, perf_counter on the CPU. MFU is against benchmarks/peaks.py.

    python benchmarks/gpt_bench.py --config large --device cuda --compile          # MFU on one GPU
    python benchmarks/gpt_bench.py --config small --devices cuda,cpu --steps 5     # GPU vs CPU, same steps
    python benchmarks/gpt_bench.py --config tiny --device cpu                      # seconds, for tests
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "train_scripts"))

import contract  # noqa: E402
import peaks  # noqa: E402
import timing as timing_mod  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


@dataclass(frozen=True)
class Config:
    vocab: int
    d_model: int
    n_layers: int
    n_heads: int
    seq: int
    batch: int

    @property
    def tokens(self) -> int:
        return self.batch * self.seq


CONFIGS = {
    "tiny": Config(vocab=512, d_model=64, n_layers=2, n_heads=2, seq=64, batch=4),  # tests, on the CPU
    "small": Config(vocab=8192, d_model=512, n_layers=6, n_heads=8, seq=512, batch=8),  # GPU vs CPU
    "large": Config(vocab=32768, d_model=1536, n_layers=16, n_heads=12, seq=1024, batch=16),  # MFU
}


class Block(nn.Module):
    """Pre-norm decoder block: causal self-attention (SDPA) and a 4x GELU MLP, both residual."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.fc, self.out = nn.Linear(d, 4 * d, bias=False), nn.Linear(4 * d, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Embedding(cfg.seq, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg.d_model, cfg.n_heads) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab, bias=False)
        self.head.weight = self.tok.weight  # tied: one matrix, used as a matmul by the head

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def matmul_parameters(model: GPT) -> int:
    """N of the 6N estimate: every parameter but the position table (a lookup, never a matmul);
    the tied token embedding counts once, as the LM head."""
    return sum(p.numel() for p in model.parameters()) - model.pos.weight.numel()


def estimated_flops(cfg: Config, n_params: int) -> int:
    """Forward + backward FLOPs of one step: 6 N tokens for the matmuls with weights, plus the attention
    matmuls (QK^T and AV, 4 x seq x d per token and layer forward, twice that backward)."""
    return 6 * n_params * cfg.tokens + 12 * cfg.n_layers * cfg.d_model * cfg.seq * cfg.tokens


def _sdpa_countable(device: torch.device):
    """On the CPU, the math backend of SDPA (plain matmuls FlopCounterMode counts); elsewhere nothing."""
    if device.type != "cpu":
        return contextlib.nullcontext()
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel  # torch >= 2.3
    except ImportError:
        return contextlib.nullcontext()
    return sdpa_kernel(SDPBackend.MATH)


class Bench:
    """One model, optimiser and synthetic batch on one device; ``step()`` is one training step."""

    def __init__(self, cfg: Config, device: torch.device, precision: str = "auto", compile: bool = False):
        self.cfg, self.device = cfg, device
        contract.configure_math(device)
        self.precision = contract.choose_precision(device, precision)
        torch.manual_seed(0)
        self.model = GPT(cfg).to(device)
        self.n_params = matmul_parameters(self.model)
        fused = {"fused": True} if device.type == "cuda" else {"foreach": True}
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=3e-4, weight_decay=0.1, **fused)
        self.scaler = contract.grad_scaler(device, self.precision)
        self.forward = torch.compile(self.model) if compile else self.model
        g = torch.Generator().manual_seed(1)
        data = torch.randint(0, cfg.vocab, (cfg.batch, cfg.seq + 1), generator=g)
        self.x, self.y = data[:, :-1].to(device), data[:, 1:].to(device)
        self.last_loss = None

    def loss(self, model) -> torch.Tensor:
        with contract.autocast(self.device, self.precision):
            logits = model(self.x)
        return F.cross_entropy(logits.float().view(-1, self.cfg.vocab), self.y.reshape(-1))

    def step(self) -> None:
        loss = self.loss(self.forward)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.last_loss = loss.detach()

    def count_flops(self) -> int:
        """FLOPs of one forward + backward, counted on the eager model (gradients cleared after)."""
        counter = FlopCounterMode(display=False)
        with counter, _sdpa_countable(self.device):
            self.loss(self.model).backward()
        self.optimizer.zero_grad(set_to_none=True)
        return int(counter.get_total_flops())


def run_device(device: torch.device, args) -> dict:
    cfg = CONFIGS[args.config]
    bench = Bench(cfg, device, args.precision, args.compile)
    counted = bench.count_flops()
    estimate = estimated_flops(cfg, bench.n_params)
    timing = timing_mod.measure(
        bench.step,
        device,
        warmup=args.warmup,
        steps=args.steps,
        min_seconds=args.min_seconds,
        max_steps=args.max_steps,
    )
    step_time = timing["timed_s"] / timing["timed_steps"]
    achieved = counted / step_time / 1e12
    name = contract.device_name(device)
    tf32 = contract.tf32_enabled() if device.type == "cuda" else False
    peak, source = peaks.peak_tflops(device.type, name, bench.precision, tf32)
    loss = float(bench.last_loss) if bench.last_loss is not None else None
    return {
        "device": str(device),
        "name": name,
        "precision": bench.precision,
        "tf32": tf32,
        "compile": args.compile,
        "parameters": bench.n_params,
        "tokens_per_step": cfg.tokens,
        "flops_per_step": counted,
        "flops_estimate_6n": estimate,
        "flops_vs_estimate": counted / estimate,
        **timing,
        "step_time_s": step_time,
        "tokens_per_second": cfg.tokens / step_time,
        "achieved_tflops": achieved,
        "peak_tflops": peak,
        "peak_source": source,
        "mfu": achieved / peak if peak else None,
        "final_loss": loss,
        "loss_finite": loss is not None and math.isfinite(loss),
    }


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", choices=sorted(CONFIGS), default="large")
    p.add_argument("--device", default=None, help="one device (default: cuda if visible, else cpu)")
    p.add_argument("--devices", default=None, help="comma-separated, measured in this order, e.g. cuda,cpu")
    p.add_argument("--precision", choices=["auto", "bf16", "fp16", "fp32"], default="auto")
    p.add_argument(
        "--compile", action="store_true", help="torch.compile the model (compile time reported apart)"
    )
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation happens here)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: enough for --min-seconds)")
    p.add_argument("--min-seconds", type=float, default=1.0, help="time at least this long (default: 1)")
    p.add_argument("--max-steps", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    if args.warmup < 1 or (args.steps is not None and args.steps < 1) or args.min_seconds < 0:
        p.error("--warmup and --steps must be >= 1, --min-seconds >= 0")
    return args


def devices_of(args) -> list[torch.device]:
    names = (
        args.devices.split(",")
        if args.devices
        else [args.device or ("cuda" if torch.cuda.is_available() else "cpu")]
    )
    devices = [torch.device(n.strip()) for n in names if n.strip()]
    if any(d.type == "cuda" for d in devices) and not torch.cuda.is_available():
        raise SystemExit("gpt_bench: --device cuda, but no CUDA device is visible")
    return devices


def report(results: dict, cfg: Config, args) -> dict:
    speedup = None
    if "cuda" in results and "cpu" in results:
        speedup = results["cpu"]["step_time_s"] / results["cuda"]["step_time_s"]
    return {
        "benchmark": "gpt_bench",
        "config": {"name": args.config, **asdict(cfg)},
        "machine": f"{platform.machine()}, torch {torch.__version__}, CUDA build {torch.version.cuda}",
        "devices": results,
        "gpu_vs_cpu_speedup": speedup,
        "same_steps": bool(args.steps),
    }


def print_table(rep: dict) -> None:
    cfg = rep["config"]
    print(
        f"gpt_bench {cfg['name']}: d_model {cfg['d_model']}, {cfg['n_layers']} layers, {cfg['n_heads']} heads, "
        f"seq {cfg['seq']}, batch {cfg['batch']}, vocab {cfg['vocab']}; {rep['machine']}\n"
    )
    rows = [
        ("device", lambda r: r["name"]),
        (
            "precision",
            lambda r: r["precision"] + (" (TF32)" if r["tf32"] and r["precision"] == "fp32" else ""),
        ),
        ("parameters (M)", lambda r: f"{r['parameters'] / 1e6:.1f}"),
        ("FLOPs/step counted (G)", lambda r: f"{r['flops_per_step'] / 1e9:,.1f}"),
        ("counted / 6N estimate", lambda r: f"{r['flops_vs_estimate']:.3f}"),
        ("warm-up + compile (s)", lambda r: f"{r['warmup_and_compile_s']:.2f}"),
        ("timed", lambda r: f"{r['timed_steps']} steps in {r['timed_s']:.2f} s"),
        ("step time (ms)", lambda r: f"{r['step_time_s'] * 1000:.1f}"),
        ("tokens/s", lambda r: f"{r['tokens_per_second']:,.0f}"),
        ("achieved TFLOP/s", lambda r: f"{r['achieved_tflops']:.2f}"),
        ("peak TFLOP/s", lambda r: "n/a" if r["peak_tflops"] is None else f"{r['peak_tflops']:.1f}"),
        ("MFU", lambda r: "n/a" if r["mfu"] is None else f"{r['mfu']:.1%}"),
    ]
    print("| metric | " + " | ".join(rep["devices"]) + " |")
    print("|---|" + "---:|" * len(rep["devices"]))
    for label, cell in rows:
        print(f"| {label} | " + " | ".join(cell(r) for r in rep["devices"].values()) + " |")
    for r in rep["devices"].values():
        print(f"peak for {r['device']}: {r['peak_source']}")
    if rep["gpu_vs_cpu_speedup"]:
        print(f"GPU/CPU speed-up (same code, same steps): {rep['gpu_vs_cpu_speedup']:.1f}x")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {}
    for device in devices_of(args):
        results[device.type] = run_device(device, args)
    rep = report(results, CONFIGS[args.config], args)
    print_table(rep)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rep, indent=2))
    bad = [
        r["device"]
        for r in results.values()
        if not r["loss_finite"] or not 0.9 < r["flops_vs_estimate"] < 1.1
    ]
    if bad:
        print(
            f"gpt_bench: FAILED on {', '.join(bad)}: non-finite loss or FLOPs far from the estimate",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

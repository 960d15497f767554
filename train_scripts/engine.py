"""The training loop: whole dataset on the device, no DataLoader, no host sync inside the step loop.

Each step indexes a device-resident permutation, applies the random-shift augmentation with one
gather, runs forward/backward under autocast (bf16, or fp16 with a GradScaler, as
``contract.choose_precision`` decides), and adds the loss and correct-count into device tensors. The
epoch's sums and the evaluation stay on the device too: the metrics logger's thread reads them, so the
host never waits for the GPU between epochs.
"""

from __future__ import annotations

import math
import time

import data as data_mod
import torch
import torch.nn.functional as F
from contract import all_reduce_sum, autocast, grad_scaler
from torch import nn


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, device: torch.device):
    """AdamW, fused on CUDA (one kernel for the whole update); foreach elsewhere."""
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)  # no weight decay on BN and biases
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kwargs = {"fused": True} if device.type == "cuda" else {"foreach": True}
    return torch.optim.AdamW(groups, lr=lr, **kwargs)


def make_scheduler(optimizer, lr: float, total_steps: int):
    """One-cycle: short warm-up, then cosine annealing to ~0 over the whole run.

    At least 10 steps: OneCycleLR divides by zero when its warm-up phase rounds to zero steps.
    """
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=lr,
        total_steps=max(10, total_steps),
        pct_start=0.2,
        cycle_momentum=False,
        div_factor=10.0,
        final_div_factor=100.0,
    )


def steps_per_epoch(n_train: int, global_batch: int, world_size: int) -> int:
    """Optimizer steps per epoch: each rank's share of the data in full batches (drop_last, at least 1)."""
    per_rank = math.ceil(n_train / world_size)
    return max(1, per_rank // max(1, global_batch // world_size))


class Trainer:
    """Owns the device-resident training split and the step function.

    ``model`` is what runs forward/backward (maybe DDP-wrapped and/or compiled); ``raw_model`` is the
    plain module for evaluation and saving.
    """

    def __init__(
        self,
        model,
        raw_model,
        optimizer,
        scheduler,
        train: data_mod.Split,
        device: torch.device,
        precision: str = "fp32",
        batch_size: int = 128,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        augment_shift: int = 0,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        cuda_graphs: bool = False,
    ):
        self.model, self.raw_model = model, raw_model
        self.optimizer, self.scheduler = optimizer, scheduler
        self.device, self.precision = device, precision
        self.scaler = grad_scaler(device, precision)  # fp16 only: small gradients would underflow
        # torch.compile(mode="reduce-overhead") replays CUDA graphs: each step must be marked as a new
        # one, or the next replay may overwrite outputs still in use (torch >= 2.1 has the marker).
        mark = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)
        self._mark_step = mark if cuda_graphs and mark is not None else None
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.shift = int(augment_shift)
        self.labels = train.labels.to(device)
        images = train.images.to(device)
        if self.shift:
            # Padded once; each step gathers a shifted HxW window per sample.
            images = F.pad(images, (self.shift,) * 4, mode="replicate")
        self.images = images.contiguous()
        self.n = int(self.labels.shape[0])
        self.image_size = int(train.images.shape[-1])
        self.channels = int(train.images.shape[1])
        self.batch_size = max(1, batch_size // world_size)  # --batch-size is global
        # drop_last: every step has the same shape (no recompiles, no tiny noisy last batch)
        self.steps_per_epoch = steps_per_epoch(self.n, batch_size, world_size)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self._ar_h = torch.arange(self.image_size, device=device)
        self._ar_c = torch.arange(self.channels, device=device).view(1, -1, 1, 1)
        self.reset_sums()

    # -- per-epoch state ---------------------------------------------------------------------------
    def reset_sums(self) -> None:
        self.loss_sum = torch.zeros((), dtype=torch.float32, device=self.device)
        self.correct = torch.zeros((), dtype=torch.int64, device=self.device)
        self.count = 0

    def sums_state(self) -> dict:
        return {
            "loss_sum": self.loss_sum.detach().cpu(),
            "correct": self.correct.detach().cpu(),
            "count": self.count,
        }

    def load_sums_state(self, state: dict) -> None:
        self.loss_sum = state["loss_sum"].to(self.device)
        self.correct = state["correct"].to(self.device)
        self.count = int(state["count"])

    def epoch_plan(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's sample order for ``epoch`` and the per-sample shifts, both on the device."""
        perm = data_mod.shard(
            data_mod.epoch_permutation(self.n, self.seed, epoch), self.rank, self.world_size
        )
        shifts = data_mod.epoch_shifts(self.n, self.seed, epoch, self.shift) if self.shift else None
        perm = perm.to(self.device, non_blocking=True)
        if shifts is not None:
            shifts = shifts.to(self.device, non_blocking=True)
        return perm, shifts

    # -- the step ----------------------------------------------------------------------------------
    def batch(self, idx: torch.Tensor, shifts: torch.Tensor | None) -> torch.Tensor:
        if shifts is None:
            x = self.images[idx]
        else:
            s = shifts[idx]
            rows = (s[:, 0:1] + self._ar_h).view(-1, 1, self.image_size, 1)
            cols = (s[:, 1:2] + self._ar_h).view(-1, 1, 1, self.image_size)
            x = self.images[idx.view(-1, 1, 1, 1), self._ar_c, rows, cols]
        return x.contiguous(memory_format=self.memory_format)

    def train_step(self, perm: torch.Tensor, shifts: torch.Tensor | None, step_in_epoch: int) -> None:
        """One optimizer step on batch ``step_in_epoch`` of the epoch; nothing here waits for the device."""
        idx = perm[step_in_epoch * self.batch_size : (step_in_epoch + 1) * self.batch_size]
        x, y = self.batch(idx, shifts), self.labels[idx]
        if self._mark_step is not None:
            self._mark_step()
        with autocast(self.device, self.precision):
            logits = self.model(x)
            loss = self.loss_fn(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.scheduler.step()
        b = y.shape[0]
        self.loss_sum += loss.detach().float() * b
        self.correct += (logits.detach().argmax(dim=1) == y).sum()
        self.count += b

    def epoch_sums(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Global (loss, accuracy) of the epoch so far, as device scalars: one all-reduce, no host read."""
        t = torch.stack(
            [
                self.loss_sum.double(),
                self.correct.double(),
                torch.tensor(float(self.count), dtype=torch.float64, device=self.device),
            ]
        )
        loss_sum, correct, count = all_reduce_sum(t)
        count = count.clamp_min(1.0)
        return loss_sum / count, correct / count

    def warm_up(self, perm: torch.Tensor, shifts: torch.Tensor | None, steps: int = 3) -> float:
        """Compile (and record CUDA graphs for) forward and backward outside the timed epochs: a few
        forward/backward passes on the first batch, then the weights, buffers and gradients are put
        back as they were. Returns the seconds it took."""
        t0 = time.perf_counter()
        saved = {k: v.detach().clone() for k, v in self.raw_model.state_dict().items()}
        idx = perm[: self.batch_size]
        x, y = self.batch(idx, shifts), self.labels[idx]
        for _ in range(steps):
            if self._mark_step is not None:
                self._mark_step()
            with autocast(self.device, self.precision):
                loss = self.loss_fn(self.model(x), y)
            loss.backward()
        self.raw_model.load_state_dict(saved)
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - t0

    # -- evaluation --------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, split: data_mod.Split, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, accuracy) of ``raw_model`` on ``split`` as device scalars (read them when needed);
        each rank takes every world_size-th sample."""
        model = self.raw_model
        was_training = model.training
        model.eval()
        images = split.images[self.rank :: self.world_size]
        labels = split.labels[self.rank :: self.world_size]
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.float64, device=self.device)
        for start in range(0, labels.shape[0], batch_size):
            x = images[start : start + batch_size].to(self.device, non_blocking=True)
            y = labels[start : start + batch_size].to(self.device, non_blocking=True)
            with autocast(self.device, self.precision):
                logits = model(x.contiguous(memory_format=self.memory_format))
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").double()
            correct += (logits.argmax(dim=1) == y).sum().double()
        model.train(was_training)
        t = torch.stack(
            [loss_sum, correct, torch.tensor(float(labels.shape[0]), dtype=torch.float64, device=self.device)]
        )
        loss_sum, correct, count = all_reduce_sum(t)
        count = count.clamp_min(1.0)
        return loss_sum / count, correct / count


class EpochTimer:
    """The wall time of an epoch's steps without waiting for the device: CUDA events on a GPU (read
    later, by whoever needs the number), perf_counter elsewhere (CPU work is done when it returns)."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        if self.cuda:
            self._start = torch.cuda.Event(enable_timing=True)
            self._start.record()
        else:
            self._t0 = time.perf_counter()

    def stop(self):
        """The elapsed seconds: a float on the CPU, a zero-argument callable on CUDA."""
        if not self.cuda:
            return time.perf_counter() - self._t0
        end = torch.cuda.Event(enable_timing=True)
        end.record()
        start = self._start

        def seconds() -> float:
            end.synchronize()
            return start.elapsed_time(end) / 1000.0

        return seconds

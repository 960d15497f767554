"""Datasets: the shipped 8x8 digits, a folder given with ``--data``, or synthetic images at scale.

Everything is returned as float32 tensors (N, C, H, W) plus int64 labels, split into train/val/test
with a fixed split seed (independent of the training seed), and normalised with the training split's
per-channel mean and std.

Folder format for ``--data DIR`` (how an Azure ML ``uri_folder`` input reaches the script):
  * ``DIR/data.npz`` with ``images`` (N, H, W) or (N, C, H, W), any numeric dtype, and ``labels`` (N,)
    integers in 0..K-1; optional ``num_classes`` (scalar). Or
  * one or more ``*.csv`` / ``*.csv.gz`` files (read in name order, concatenated) in the digits format:
    no header, each row is H*H pixel values of a square single-channel image followed by the label.
``DIR`` may also be a path to one such ``.npz`` or ``.csv[.gz]`` file.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
DIGITS_CSV = HERE / "data" / "digits.csv.gz"

SPLIT_SEED = 20_240_601  # fixed: the split never depends on --seed
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
SYNTHETIC_SEED = 12_345


@dataclass
class Split:
    """Tensors of one split: images (N, C, H, W) float32 normalised, labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device, memory_format=torch.contiguous_format) -> Split:
        return Split(self.images.to(device).contiguous(memory_format=memory_format), self.labels.to(device))


@dataclass
class Dataset:
    """Train/val/test splits plus what a model needs to know about the inputs."""

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    in_channels: int
    image_size: int
    mean: list[float]
    std: list[float]

    def describe(self) -> str:
        return (
            f"data {self.name}: train {len(self.train)} / val {len(self.val)} / test {len(self.test)}, "
            f"{self.in_channels}x{self.image_size}x{self.image_size}, {self.num_classes} classes"
        )


def read_csv_rows(path: Path) -> np.ndarray:
    """Read a headerless comma-separated numeric file (optionally gzip-compressed) with numpy only."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        array = np.loadtxt(fh, delimiter=",", dtype=np.float32, ndmin=2)
    return array


def _rows_to_images(rows: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    pixels = rows.shape[1] - 1
    side = int(round(math.sqrt(pixels)))
    if side * side != pixels:
        raise ValueError(
            f"{source}: {pixels} pixel columns is not a square image (expected H*H + 1 label column)"
        )
    return rows[:, :-1].reshape(-1, 1, side, side), rows[:, -1].astype(np.int64)


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The shipped 8x8 digits: 1,797 images (N, 1, 8, 8) with pixel values 0..16, and labels 0..9."""
    return _rows_to_images(read_csv_rows(DIGITS_CSV), str(DIGITS_CSV))


def load_folder_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Read ``--data``: a folder (or file) in the format described in this module's docstring."""
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        npz = path / "data.npz"
        files = (
            [npz]
            if npz.exists()
            else sorted(p for p in path.iterdir() if p.name.endswith(".csv") or p.name.endswith(".csv.gz"))
        )
    else:
        raise FileNotFoundError(f"--data {path}: no such file or folder")
    if not files:
        raise FileNotFoundError(f"--data {path}: expected data.npz or *.csv / *.csv.gz files in it")
    if files[0].suffix == ".npz":
        with np.load(files[0]) as z:
            if "images" not in z or "labels" not in z:
                raise ValueError(f"{files[0]}: needs arrays 'images' and 'labels' (has {sorted(z.files)})")
            images = z["images"].astype(np.float32)
            labels = z["labels"].astype(np.int64).reshape(-1)
            num_classes = int(z["num_classes"]) if "num_classes" in z else None
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4 or images.shape[2] != images.shape[3]:
            raise ValueError(
                f"{files[0]}: images must be (N, H, W) or (N, C, H, W) with H == W, got {images.shape}"
            )
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{files[0]}: {images.shape[0]} images but {labels.shape[0]} labels")
        return images, labels, num_classes
    parts = [_rows_to_images(read_csv_rows(f), str(f)) for f in files]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), None


def synthetic_arrays(
    n: int, image_size: int = 32, channels: int = 3, num_classes: int = 10, noise: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Learnable synthetic images: a smooth per-class template, randomly shifted, scaled, plus noise.

    The class is in the template's shape, so a CNN must learn it; the noise and shifts keep it from
    being trivial. Deterministic (fixed seed), generated in chunks to bound peak memory.
    """
    g = torch.Generator().manual_seed(SYNTHETIC_SEED)
    coarse = torch.randn(num_classes, channels, 4, 4, generator=g)
    templates = torch.nn.functional.interpolate(
        coarse, size=(image_size, image_size), mode="bicubic", align_corners=False
    )
    templates = templates / templates.flatten(1).std(dim=1).view(-1, 1, 1, 1)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    images = torch.empty(n, channels, image_size, image_size)
    max_shift = max(1, image_size // 8)
    for start in range(0, n, 4096):
        y = labels[start : start + 4096]
        x = templates[y]
        shift = torch.randint(-max_shift, max_shift + 1, (2,), generator=g).tolist()
        x = torch.roll(x, shifts=shift, dims=(2, 3))
        scale = 0.5 + torch.rand(len(y), 1, 1, 1, generator=g)
        x = x * scale + noise * torch.randn(x.shape, generator=g)
        images[start : start + 4096] = x
    return images, labels


def split_indices(labels: np.ndarray, fractions=SPLIT_FRACTIONS, seed: int = SPLIT_SEED):
    """A stratified, seeded train/val/test split of ``range(len(labels))``; the same every run."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_train = int(round(fractions[0] * len(idx)))
        n_val = int(round(fractions[1] * len(idx)))
        parts[0].append(idx[:n_train])
        parts[1].append(idx[n_train : n_train + n_val])
        parts[2].append(idx[n_train + n_val :])
    out = []
    for p in parts:
        joined = np.concatenate(p)
        rng.shuffle(joined)
        out.append(joined)
    return tuple(out)


def build_dataset(name: str, images, labels, num_classes: int | None = None) -> Dataset:
    """Split, then normalise every split with the training split's per-channel statistics."""
    images = torch.as_tensor(images, dtype=torch.float32)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    if labels.min() < 0:
        raise ValueError("labels must be integers in 0..K-1")
    k = int(num_classes or int(labels.max()) + 1)
    tr, va, te = (torch.from_numpy(i) for i in split_indices(labels.numpy()))
    mean = images[tr].mean(dim=(0, 2, 3))
    std = images[tr].std(dim=(0, 2, 3)).clamp_min(1e-6)

    def norm(idx):
        return Split(
            ((images[idx] - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)).contiguous(), labels[idx]
        )

    return Dataset(
        name, norm(tr), norm(va), norm(te), k, images.shape[1], images.shape[2], mean.tolist(), std.tolist()
    )


def load_dataset(
    dataset: str, data_dir: str | None, synthetic_size: int = 50_000, synthetic_image_size: int = 32
) -> Dataset:
    """The dataset named on the command line: ``--data DIR`` wins over ``--dataset``."""
    if data_dir:
        images, labels, k = load_folder_arrays(Path(data_dir))
        return build_dataset(f"folder:{data_dir}", images, labels, k)
    if dataset == "digits":
        images, labels = load_digits_arrays()
        return build_dataset("digits", images, labels, 10)
    if dataset == "synthetic":
        images, labels = synthetic_arrays(synthetic_size, synthetic_image_size)
        return build_dataset(f"synthetic({synthetic_size})", images, labels, 10)
    raise ValueError(f"unknown dataset {dataset!r}")


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The training order of one epoch: a pure function of (seed, epoch), so resume replays it exactly."""
    g = torch.Generator().manual_seed(seed * 1000 + epoch)
    return torch.randperm(n, generator=g)


def epoch_shifts(n: int, seed: int, epoch: int, max_shift: int) -> torch.Tensor:
    """Per-sample augmentation offsets (N, 2) in [0, 2*max_shift], also a pure function of (seed, epoch)."""
    g = torch.Generator().manual_seed(seed * 1000 + epoch + 7_777_777)
    return torch.randint(0, 2 * max_shift + 1, (n, 2), generator=g)


def shard(perm: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """This rank's share of an epoch's permutation, DistributedSampler-style: pad by wrapping, then stride."""
    if world_size == 1:
        return perm
    per_rank = math.ceil(len(perm) / world_size)
    total = per_rank * world_size
    if total > len(perm):
        perm = torch.cat([perm, perm[: total - len(perm)]])
    return perm[rank:total:world_size]

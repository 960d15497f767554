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
import hashlib
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
    identity: str = ""  # what a checkpoint's run signature records: the content, not the path

    def describe(self) -> str:
        return (
            f"data {self.name}: train {len(self.train)} / val {len(self.val)} / test {len(self.test)}, "
            f"{self.in_channels}x{self.image_size}x{self.image_size}, {self.num_classes} classes"
        )


FORMAT_HINT = "see --help (data format) or train_scripts/README.md"
MIN_PER_CLASS = 6  # the smallest class size whose 70/15/15 split leaves val and test non-empty


class DataError(ValueError):
    """``--data`` cannot be used: the message says what is wrong and how to fix it, on one line."""


def read_csv_rows(path: Path) -> np.ndarray:
    """Read a headerless comma-separated numeric file (optionally gzip-compressed) with numpy only."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as fh:
            array = np.loadtxt(fh, delimiter=",", dtype=np.float32, ndmin=2)
    except (ValueError, OSError, EOFError) as exc:  # varying column counts, text, broken gzip
        raise DataError(
            f"{path} is not a readable numeric CSV ({_one_line(exc)}); every row must be H*H numbers "
            f"then the label, with the same count on every row; {FORMAT_HINT}"
        ) from None
    return array


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _rows_to_images(rows: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    if rows.shape[0] == 0:
        raise DataError(f"{source} has no rows; give it one row per image; {FORMAT_HINT}")
    pixels = rows.shape[1] - 1
    side = int(round(math.sqrt(max(pixels, 0))))
    if pixels < 1 or side * side != pixels:
        raise DataError(
            f"{source}: {pixels} pixel columns is not a square image; each row must be H*H pixel "
            f"values then 1 label column; {FORMAT_HINT}"
        )
    return rows[:, :-1].reshape(-1, 1, side, side), _labels(rows[:, -1], source)


def _labels(values: np.ndarray, source: str) -> np.ndarray:
    """Integer class labels >= 0, or a DataError naming the first bad value."""
    values = np.asarray(values).reshape(-1)
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        raise DataError(f"{source}: labels have dtype {values.dtype}; labels must be integers 0..K-1")
    as_float = values.astype(np.float64)
    bad = ~np.isfinite(as_float) | (as_float < 0) | (as_float != np.round(as_float))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: label {as_float[row]:g} (row {row}) is not an integer in 0..K-1; fix the labels"
        )
    return as_float.astype(np.int64)


def _check_pixels(images: np.ndarray, source: str) -> None:
    if not np.isfinite(images).all():
        raise DataError(
            f"{source}: {int((~np.isfinite(images)).sum())} pixel values are NaN or infinite; replace or "
            f"drop those images"
        )


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The shipped 8x8 digits: 1,797 images (N, 1, 8, 8) with pixel values 0..16, and labels 0..9."""
    return _rows_to_images(read_csv_rows(DIGITS_CSV), str(DIGITS_CSV))


def _load_npz(path: Path) -> tuple[np.ndarray, np.ndarray, int | None]:
    try:
        # allow_pickle=False: a pickled array could run code; real image data never needs it.
        with np.load(path, allow_pickle=False) as z:
            if "images" not in z.files or "labels" not in z.files:
                raise DataError(
                    f"{path} has arrays {sorted(z.files)}; it needs 'images' and 'labels'; {FORMAT_HINT}"
                )
            images, labels = z["images"], z["labels"]
            num_classes = z["num_classes"] if "num_classes" in z.files else None
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt zip, pickled objects, ...: all mean "unusable"
        raise DataError(
            f"{path} is not a readable .npz of numeric arrays ({_one_line(exc)}); write it with "
            f"numpy.savez(images=..., labels=...) without object arrays; {FORMAT_HINT}"
        ) from None
    if not np.issubdtype(images.dtype, np.number) or np.issubdtype(images.dtype, np.complexfloating):
        raise DataError(f"{path}: images have dtype {images.dtype}; use a real numeric dtype")
    images = images.astype(np.float32)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[2] != images.shape[3]:
        raise DataError(
            f"{path}: images have shape {images.shape}; they must be (N, H, W) or (N, C, H, W) with "
            f"H == W (square); {FORMAT_HINT}"
        )
    labels = _labels(labels, str(path))
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{path}: {images.shape[0]} images but {labels.shape[0]} labels; give one label per image"
        )
    if num_classes is not None:
        k = np.asarray(num_classes)
        if k.size != 1 or not np.issubdtype(k.dtype, np.integer) or int(k.reshape(())) < 1:
            raise DataError(f"{path}: num_classes {num_classes!r} is not a positive integer scalar")
        num_classes = int(k.reshape(()))
        if labels.size and int(labels.max()) >= num_classes:
            raise DataError(
                f"{path}: label {int(labels.max())} is out of range for num_classes {num_classes} "
                f"(labels must be 0..{num_classes - 1}); fix the labels or num_classes"
            )
    _check_pixels(images, str(path))
    return images, labels, num_classes


def load_folder_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Read ``--data``: a folder (or file) in the format described in this module's docstring.

    Raises DataError (a one-line message naming the file) for anything unusable.
    """
    path = Path(path)
    if path.is_file():
        if not (path.name.endswith((".npz", ".csv", ".csv.gz"))):
            raise DataError(f"{path} is not a .npz, .csv or .csv.gz file; {FORMAT_HINT}")
        files = [path]
    elif path.is_dir():
        npz = path / "data.npz"
        files = (
            [npz]
            if npz.exists()
            else sorted(p for p in path.iterdir() if p.name.endswith(".csv") or p.name.endswith(".csv.gz"))
        )
    else:
        raise DataError("no such file or folder; check the path (an Azure ML input's mount path)")
    if not files:
        raise DataError(
            f"expected data.npz or *.csv / *.csv.gz files in the folder, found none; {FORMAT_HINT}"
        )
    if files[0].suffix == ".npz":
        return _load_npz(files[0])
    parts = []
    for f in files:
        images, labels = _rows_to_images(read_csv_rows(f), str(f))
        if parts and images.shape[2:] != parts[0][0].shape[2:]:
            raise DataError(
                f"{f} has {images.shape[2]}x{images.shape[3]} images but {files[0]} has "
                f"{parts[0][0].shape[2]}x{parts[0][0].shape[3]}; all files must hold images of one size"
            )
        _check_pixels(images, str(f))
        parts.append((images, labels))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), None


def fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """A short content hash of a dataset: the same data under another path (a new mount) matches."""
    h = hashlib.sha256()
    for a in (np.ascontiguousarray(images, dtype=np.float32), np.ascontiguousarray(labels, dtype=np.int64)):
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


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
    if len(labels) == 0:
        raise DataError(f"no samples; give at least {MIN_PER_CLASS} samples of every class")
    if labels.min() < 0:
        raise DataError("labels must be integers in 0..K-1")
    k = int(num_classes or int(labels.max()) + 1)
    tr, va, te = (torch.from_numpy(i) for i in split_indices(labels.numpy()))
    if min(len(tr), len(va), len(te)) == 0:
        raise DataError(
            f"{len(labels)} samples are too few for the 70/15/15 train/val/test split (train {len(tr)}, "
            f"val {len(va)}, test {len(te)}); give at least {MIN_PER_CLASS} samples of every class"
        )
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
        ds = build_dataset(f"folder:{data_dir}", images, labels, k)
        ds.identity = f"--data content sha256:{fingerprint(images, labels)} ({len(labels)} samples)"
        return ds
    if dataset == "digits":
        images, labels = load_digits_arrays()
        ds = build_dataset("digits", images, labels, 10)
        ds.identity = "--dataset digits"
        return ds
    if dataset == "synthetic":
        images, labels = synthetic_arrays(synthetic_size, synthetic_image_size)
        ds = build_dataset(f"synthetic({synthetic_size})", images, labels, 10)
        ds.identity = f"--dataset synthetic ({synthetic_size} images of {synthetic_image_size}px)"
        return ds
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

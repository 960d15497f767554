"""Atomic checkpoints: write, keep the last few, and find the newest one that loads cleanly."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

NAME = re.compile(r"^ckpt-(\d{9})\.pt$")


def atomic_save(obj, path) -> None:
    """torch.save to a temp file in the same folder, flush + fsync, then os.replace over ``path``.

    A reader (or a resumed run) sees the old file or the new one, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def checkpoint_path(directory, global_step: int) -> Path:
    return Path(directory) / f"ckpt-{global_step:09d}.pt"


def list_checkpoints(directory) -> list[Path]:
    """Checkpoints in ``directory``, newest (highest global step) first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = [p for p in d.iterdir() if NAME.match(p.name)]
    return sorted(found, key=lambda p: int(NAME.match(p.name).group(1)), reverse=True)


def save_checkpoint(state: dict, directory, global_step: int, keep: int = 3) -> Path:
    """Write the checkpoint for ``global_step`` atomically and delete all but the newest ``keep``."""
    path = checkpoint_path(directory, global_step)
    atomic_save(state, path)
    for old in list_checkpoints(directory)[keep:]:
        old.unlink(missing_ok=True)
    return path


def move_aside(directory) -> Path | None:
    """Move every checkpoint in ``directory`` into a new ``previous-<UTC time>/`` subfolder.

    Returns that folder, or None when there was nothing to move. Nothing is deleted: the old run stays
    recoverable, and the new run's checkpoints are the only ones a later resume can pick.
    """
    found = list_checkpoints(directory)
    if not found:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = Path(directory) / f"previous-{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = Path(directory) / f"previous-{stamp}-{n}"
    target.mkdir()
    for path in found:
        os.replace(path, target / path.name)
    return target


REQUIRED_KEYS = ("model", "optimizer", "scheduler", "epoch", "step_in_epoch", "global_step", "rng")


def load_latest(directory, map_location="cpu", log=print) -> tuple[dict, Path] | tuple[None, None]:
    """The newest checkpoint that loads and has every required key; skips corrupt ones, warning."""
    for path in list_checkpoints(directory):
        try:
            # weights_only=False: the checkpoint holds python/numpy RNG states; it is our own file.
            state = torch.load(path, map_location=map_location, weights_only=False)
            missing = [k for k in REQUIRED_KEYS if k not in state]
            if missing:
                raise ValueError(f"missing keys {missing}")
            return state, path
        except Exception as exc:  # noqa: BLE001 - any failure to read means "try the previous one"
            log(
                f"WARNING: skipping unreadable checkpoint {path}: {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
    return None, None

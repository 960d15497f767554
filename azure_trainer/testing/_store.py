"""A fake Azure ML kept in a folder: its :class:`FakeState` and blobs, shared by processes.

The offline workspace (``--workspace local:DIR``) is one: each CLI invocation, and the simulated run in
the background, loads the folder, serves or changes it, and saves it, under an exclusive lock
(``fcntl.flock``, POSIX). Layout: ``offline-workspace.json`` (the marker that the folder is ours),
``state.json`` (the resources), ``blobs.json`` (the storage account's index) and ``blobs/`` (contents,
named by their SHA-256, written once).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from ._blobstore import FakeBlobStore
from ._state import FakeState

MARKER = "offline-workspace.json"
FORMAT = 1


class StoreError(Exception):
    """The folder cannot hold (or is not) a fake Azure ML."""


class FolderStore:
    """Load and save one fake Azure ML in ``root`` (created on first :meth:`create`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._data: dict[str, bytes] = {}  # content cache: blobs are named by their hash, never change

    @property
    def exists(self) -> bool:
        return (self.root / MARKER).is_file()

    def check(self) -> None:
        """Raise :class:`StoreError` unless ``root`` is a fake Azure ML's folder, or new, or empty."""
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root} exists and is not a folder")
        if self.exists:
            marker = json.loads((self.root / MARKER).read_text(encoding="utf-8"))
            if marker.get("format") != FORMAT:
                raise StoreError(f"{self.root} holds an offline workspace of another format ({marker})")
        elif self.root.is_dir() and any(self.root.iterdir()):
            raise StoreError(
                f"{self.root} holds other files and is not an offline workspace (no {MARKER}); give a new "
                "or empty folder, so nothing of yours is touched"
            )

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock (other processes wait)."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def create(self, state: FakeState, blobs: FakeBlobStore) -> None:
        """Write a new fake (call under :meth:`locked`)."""
        self.save(state, blobs)
        self._write(MARKER, json.dumps({"format": FORMAT, "what": "azure-trainer offline workspace"}))

    def load(self, state: FakeState, blobs: FakeBlobStore) -> None:
        """Replace ``state`` and ``blobs`` (in place: the fake's services keep their references)."""
        loaded = FakeState.from_json(json.loads((self.root / "state.json").read_text(encoding="utf-8")))
        state.__dict__.update(loaded.__dict__)
        blobs.load_json(json.loads((self.root / "blobs.json").read_text(encoding="utf-8")), self._read_data)

    def save(self, state: FakeState, blobs: FakeBlobStore) -> None:
        self._write("blobs.json", json.dumps(blobs.to_json(self._write_data)))
        self._write("state.json", json.dumps(state.to_json()))

    def _write(self, name: str, text: str) -> None:
        tmp = self.root / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.root / name)  # a reader without the lock never sees half a file

    def _write_data(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        path = self.root / "blobs" / key
        if key not in self._data and not path.exists():
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        self._data[key] = data
        return key

    def _read_data(self, key: str) -> bytes:
        if key not in self._data:
            self._data[key] = (self.root / "blobs" / key).read_bytes()
        return self._data[key]

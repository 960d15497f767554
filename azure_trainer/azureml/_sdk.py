"""Every use of azure-ai-ml's private internals, in one place, pinned to the SDK range we test.

azure-ai-ml has no public API for a few things azure-trainer needs: the upload's ignore-file matcher
(so the snapshot check lists exactly what the SDK would upload, offline: loaded from its own file), the
``CommandJob`` behind a ``command()`` node (only that dumps as load_job-readable YAML), the credential
and pipeline options of an ``MLClient`` (to build its registry twin), ``config.json`` discovery as
``MLClient.from_config`` does it, and, for the fake and the offline workspace, routing the SDK's blob
clients through a transport and shortening ``jobs.stream``'s polling. pyproject.toml caps azure-ai-ml to
the minor versions the suite ran against; when that range moves, this module is the one to check.
Everything here imports azure.ai.ml lazily, and the ignore-file matcher not at all.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

EXPERIMENTAL_LOGGER = "azure.ai.ml._utils._experimental"
"""The logger of azure-ai-ml's "this class is experimental" notices (noise for our users)."""


def job_of_node(job: Any) -> Any:
    """The ``CommandJob`` (``SweepJob``) behind a ``Command`` (``Sweep``) node; other jobs as they are.

    A node dumps with a nested ``component:`` block that load_job rejects; its job dumps as CLI v2 YAML.
    """
    to_job = getattr(job, "_to_job", None)
    return to_job() if callable(to_job) else job


def client_options(ml_client: Any) -> tuple[Any, dict[str, Any]]:
    """``(credential, keyword options)`` an ``MLClient`` was built with (transport, retry policy, ...)."""
    return ml_client._credential, dict(getattr(ml_client, "_kwargs", {}) or {})


def find_config_json_file(start: Path, file_name: str, folder: str | None) -> str | None:
    """``MLClient.from_config``'s search: ``start`` and up to 20 parents (in ``folder`` if given)."""
    from azure.ai.ml._file_utils.file_utils import traverse_up_path_and_find_file

    return traverse_up_path_and_find_file(
        path=start, file_name=file_name, directory_name=folder, num_levels=20
    )


# -- the upload's ignore file, offline -----------------------------------------------------------------
# The snapshot check must list exactly what the upload would, and must run in `validate` without the
# 1.5 s `import azure.ai.ml`. The SDK's matcher is its vendored copy of pathspec, a standard-library-only
# file: it is loaded here from that file, without importing the azure.ai.ml package, and IgnoreFile below
# follows azure.ai.ml._utils._asset_utils.IgnoreFile line for line. tests/test_snapshot.py compares the
# result with the SDK's own upload listing.

_PATHSPEC_MODULE = "azure.ai.ml._utils._pathspec"
_AML_IGNORE, _GIT_IGNORE = ".amlignore", ".gitignore"
_READ_ENCODING = "utf-8-sig"  # azure.ai.ml.constants._common.DefaultOpenEncoding.READ
MAX_IGNORE_FILE_BYTES = 1_000_000
"""A bigger ignore file is refused rather than read (it is not a list of patterns)."""


def pathspec() -> ModuleType:
    """azure-ai-ml's vendored pathspec module (``GitWildMatchPattern``, ``normalize_file``), loaded from its
    file when azure.ai.ml is not imported yet (a few milliseconds instead of 1.5 s)."""
    loaded = sys.modules.get(_PATHSPEC_MODULE) or sys.modules.get(__name__ + "._pathspec")
    if loaded is not None:
        return loaded
    found = importlib.util.find_spec("azure.ai.ml")  # imports the namespace packages azure, azure.ai only
    if found is None or not found.submodule_search_locations:
        raise ImportError("azure-ai-ml is not installed: pip install azure-trainer")
    path = Path(next(iter(found.submodule_search_locations)), "_utils", "_pathspec.py")
    spec = importlib.util.spec_from_file_location(__name__ + "._pathspec", path)
    if spec is None or spec.loader is None:  # pragma: no cover - a broken installation
        raise ImportError(f"cannot load azure-ai-ml's ignore-file matcher from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class IgnoreFile:
    """azure-ai-ml's ``IgnoreFile``, as the upload uses it: the patterns of one file, matched against a
    file's path relative to that file's folder; the LAST pattern that matches decides."""

    def __init__(self, file_path: Path | None = None):
        self.path = Path(file_path).resolve() if file_path else None
        self._patterns: list[Any] | None = None

    def exists(self) -> bool:
        return bool(self.path) and self.path.exists()  # type: ignore[union-attr]

    @property
    def base_path(self) -> Path:
        assert self.path is not None
        return self.path.parent

    def patterns(self) -> list[Any]:
        """The compiled patterns (each with ``.regex`` and ``.include``). Raises OSError or
        UnicodeDecodeError when the file cannot be read, ValueError for a line that is no pattern (the
        SDK's ``GitWildMatchPatternError``) or a file over :data:`MAX_IGNORE_FILE_BYTES`."""
        if self._patterns is None:
            self._patterns = []
            if self.exists():
                assert self.path is not None
                if self.path.stat().st_size > MAX_IGNORE_FILE_BYTES:
                    raise ValueError(f"it is over {MAX_IGNORE_FILE_BYTES:,} bytes, not a list of patterns")
                with open(self.path, encoding=_READ_ENCODING) as fh:
                    lines = [line.rstrip() for line in fh if line]
                pattern = pathspec().GitWildMatchPattern
                self._patterns = [pattern(line) for line in lines]
        return self._patterns

    def is_file_excluded(self, file_path: str | os.PathLike) -> bool:
        patterns = self.patterns()
        if not patterns:
            return False
        try:
            rel = os.path.relpath(Path(file_path).absolute(), self.base_path)
        except ValueError:  # another drive (Windows): the SDK excludes it
            return True
        norm_file = pathspec().normalize_file(rel)
        matched = False
        for pattern in patterns:
            if pattern.include is not None and pattern.match_file(norm_file) is not None:
                matched = pattern.include
        return matched


def ignore_file(code_dir: Path) -> IgnoreFile:
    """The ignore file the upload of ``code_dir`` uses: ``.amlignore``, else ``.gitignore``, else none
    (``get_ignore_file`` in azure.ai.ml._utils._asset_utils)."""
    for name in (_AML_IGNORE, _GIT_IGNORE):
        candidate = IgnoreFile(Path(code_dir, name))
        if candidate.exists():
            return candidate
    return IgnoreFile()


def relative_for_match(ignore: IgnoreFile, real_dir: str) -> str | None:
    """``real_dir`` as the matcher sees it (relative to the ignore file's folder), or None when it
    cannot be made relative (another drive on Windows: the SDK skips such files)."""
    try:
        rel = os.path.relpath(real_dir, ignore.base_path)
    except ValueError:
        return None
    return pathspec().normalize_file(rel)


@contextlib.contextmanager
def blob_storage_through(transport: Any) -> Iterator[None]:
    """Send the SDK's blob-storage traffic through ``transport`` for the duration (not thread-safe).

    ``azure.ai.ml._artifacts._blob_storage_helper`` builds its ``BlobServiceClient`` / ``ContainerClient``
    without the MLClient's ``transport=``, so code uploads and log/output downloads would bypass the
    transport every other call goes through. The two names are swapped, in that module only, for
    subclasses that add ``transport=`` (azure-storage-blob's documented keyword). The clients they hand
    out wrap the transport in a ``TransportWrapper`` whose ``sleep`` is a plain ``time.sleep``; it is made
    to ask the transport, so storage's retry back-off (15 s and up) goes where the transport says. The
    in-process fake and the offline workspace need this; a real workspace never does.
    """
    from azure.ai.ml._artifacts import _blob_storage_helper as helper
    from azure.storage.blob import BlobServiceClient, ContainerClient
    from azure.storage.blob._shared.base_client import TransportWrapper

    class _ServiceClient(BlobServiceClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("transport", transport)
            super().__init__(*args, **kwargs)

    class _ContainerClient(ContainerClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("transport", transport)
            super().__init__(*args, **kwargs)

    saved = helper.BlobServiceClient, helper.ContainerClient, TransportWrapper.__dict__.get("sleep")
    helper.BlobServiceClient, helper.ContainerClient = _ServiceClient, _ContainerClient
    TransportWrapper.sleep = lambda self, duration: self._transport.sleep(duration)  # type: ignore[method-assign]
    try:
        yield
    finally:
        helper.BlobServiceClient, helper.ContainerClient = saved[0], saved[1]
        if saved[2] is None:
            del TransportWrapper.sleep
        else:
            TransportWrapper.sleep = saved[2]  # type: ignore[method-assign]


@contextlib.contextmanager
def stream_polling_interval(seconds: float) -> Iterator[None]:
    """``jobs.stream`` polls run history with ``time.sleep`` (at least 2 s, read at import time); poll every
    ``seconds`` instead, for the duration."""
    from azure.ai.ml.operations._run_history_constants import RunHistoryConstants as constants

    saved = (
        constants._WAIT_COMPLETION_POLLING_INTERVAL_MIN,
        constants._WAIT_COMPLETION_POLLING_INTERVAL_MAX,
    )
    constants._WAIT_COMPLETION_POLLING_INTERVAL_MIN = seconds
    constants._WAIT_COMPLETION_POLLING_INTERVAL_MAX = seconds
    try:
        yield
    finally:
        (
            constants._WAIT_COMPLETION_POLLING_INTERVAL_MIN,
            constants._WAIT_COMPLETION_POLLING_INTERVAL_MAX,
        ) = saved


_UPLOAD_HELPERS = (
    "azure.ai.ml._artifacts._blob_storage_helper",
    "azure.ai.ml._artifacts._gen2_storage_helper",
)


@contextlib.contextmanager
def no_upload_epilogue() -> Iterator[None]:
    """Leave out the line the SDK's code upload ends with, for the duration.

    ``show_progress=False`` drops the upload bar, but both storage helpers still end every upload with
    ``print(Fore.RESET + "\\n", file=sys.stderr)``: a stray colour escape and two blank lines on stderr,
    where no display should be. A module-level ``print`` in those two modules drops exactly that call.
    """
    import importlib

    from colorama import Fore

    def _print(*args: Any, **kwargs: Any) -> None:
        if args == (Fore.RESET + "\n",) and kwargs.get("file") is sys.stderr:
            return
        print(*args, **kwargs)

    modules = [importlib.import_module(name) for name in _UPLOAD_HELPERS]
    saved = [module.__dict__.get("print") for module in modules]
    for module in modules:
        module.print = _print  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, old in zip(modules, saved, strict=True):
            if old is None:
                del module.print
            else:
                module.print = old  # type: ignore[attr-defined]

"""Every use of azure-ai-ml's private internals, in one place, pinned to the SDK range we test.

azure-ai-ml has no public API for a few things azure-trainer needs: the upload's ignore-file matcher
(so the snapshot check lists exactly what the SDK would upload), the ``CommandJob`` behind a
``command()`` node (only that dumps as load_job-readable YAML), the credential and pipeline options of
an ``MLClient`` (to build its registry twin), ``config.json`` discovery as ``MLClient.from_config``
does it, and, for the fake and the offline workspace, routing the SDK's blob clients through a transport
and shortening ``jobs.stream``'s polling. pyproject.toml caps azure-ai-ml to the minor versions the suite ran against; when that range
moves, this module is the one to check. Everything here imports azure.ai.ml lazily.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
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


def ignore_file(code_dir: Path) -> Any:
    """The SDK's ignore-file object for ``code_dir`` (.amlignore, else .gitignore), as upload uses it."""
    from azure.ai.ml._utils._asset_utils import get_ignore_file

    return get_ignore_file(code_dir)


def ignore_patterns(ignore: Any) -> list[Any]:
    """The compiled patterns of an ignore file (each with ``.regex`` and ``.include``)."""
    # IgnoreFile caches its compiled patterns in _path_spec; fill the cache the way it does
    if getattr(ignore, "_path_spec", None) is None:
        ignore._path_spec = ignore._create_pathspec()
    return list(ignore._path_spec)


def relative_for_match(ignore: Any, real_dir: str) -> str | None:
    """``real_dir`` as the SDK's matcher sees it (relative to the ignore file's folder), or None when
    it cannot be made relative (another drive on Windows: the SDK skips such files)."""
    from azure.ai.ml._utils._pathspec import normalize_file

    try:
        rel = os.path.relpath(real_dir, ignore.base_path)
    except ValueError:
        return None
    return normalize_file(rel)


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

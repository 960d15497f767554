"""Every use of azure-ai-ml's private internals, in one place, pinned to the SDK range we test.

azure-ai-ml has no public API for a few things azure-trainer needs: the upload's ignore-file matcher
(so the snapshot check lists exactly what the SDK would upload), the ``CommandJob`` behind a
``command()`` node (only that dumps as load_job-readable YAML), the credential and pipeline options of
an ``MLClient`` (to build its registry twin), and ``config.json`` discovery as ``MLClient.from_config``
does it. pyproject.toml caps azure-ai-ml to the minor versions the suite ran against; when that range
moves, this module is the one to check. Everything here imports azure.ai.ml lazily.
"""

from __future__ import annotations

import os
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

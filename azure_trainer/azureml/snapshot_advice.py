"""Safe advice for a snapshot that is too big: the ``.amlignore`` lines that would shrink it the most.

Advice a user follows blindly must not break the job: a line never matches the entry script or a file
the command names, never a Python source file, and every line is checked with azure-ai-ml's own matcher
(it matches what it is meant to and nothing that must stay) before it is suggested. The largest
folders and files come first; a folder holding something that must stay is opened up and its largest
parts suggested instead.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from . import _sdk

if TYPE_CHECKING:
    from .snapshot import SnapshotReport

__all__ = ["ignore_line", "ignore_suggestions"]

MAX_LINES = 5
_SPECIAL = re.compile(r"([\\*?\[\]])")


def ignore_line(path: str, is_dir: bool) -> str | None:
    """The anchored ignore-file line for upload path ``path`` (``/data/``, ``/model.ckpt``), with the
    pattern characters in the name escaped; None when no line can name it (a newline in the name)."""
    if "\n" in path or "\r" in path or not path:
        return None
    escaped = _SPECIAL.sub(r"\\\1", path)
    stripped = escaped.rstrip(" ")  # the SDK strips trailing spaces from every line: [ ] keeps them
    escaped = stripped + "[ ]" * (len(escaped) - len(stripped))
    return f"/{escaped}/" if is_dir else f"/{escaped}"


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder + "/")


def ignore_suggestions(
    report: SnapshotReport,
    keep: Iterable[str],
    *,
    by: Literal["bytes", "files"],
    limit: int,
) -> list[str]:
    """Up to :data:`MAX_LINES` verified ignore lines, largest first, that bring the snapshot's bytes (or
    files) down towards ``limit`` without touching ``keep`` (upload paths; a folder keeps all it holds)."""
    keep_paths = {k.strip("/").removeprefix("./") for k in keep if k.strip("/")}
    keep_files = [p for p in report.files if p in keep_paths or any(_under(p, k) for k in keep_paths)]
    keep_files += [p for p in _python_sources(report.files) if p not in keep_files]
    total = report.total_bytes if by == "bytes" else report.file_count
    excess = total - limit
    weight = 0 if by == "bytes" else 1
    children = _Children(report)
    heap: list[tuple[int, str, bool]] = [(-(v[weight]), p, True) for p, v in children.folders("")]
    heap += [(-(size if by == "bytes" else 1), p, False) for p, size in children.files("")]
    heapq.heapify(heap)
    lines: list[str] = []
    removed = 0
    while heap and len(lines) < MAX_LINES and removed < max(excess, 1):
        negative, path, is_dir = heapq.heappop(heap)
        if is_dir and any(_under(k, path) for k in keep_files):
            heap += [(-(v[weight]), p, True) for p, v in children.folders(path)]
            heap += [(-(s if by == "bytes" else 1), p, False) for p, s in children.files(path)]
            heapq.heapify(heap)
            continue
        if path in keep_paths or any(_under(path, k) for k in keep_paths) or path.endswith(".py"):
            continue
        line = ignore_line(path, is_dir)
        if line is not None and _verified(line, path, is_dir, report, keep_files):
            lines.append(line)
            removed += -negative
    return lines


def _python_sources(files: tuple[str, ...]) -> list[str]:
    """The ``.py`` files the script may import: every one but those inside a virtual environment (a
    folder holding ``pyvenv.cfg``), which is never the job's source and may be ignored whole."""
    venvs = [p.rsplit("/", 1)[0] if "/" in p else "" for p in files if p.rsplit("/", 1)[-1] == "pyvenv.cfg"]
    return [p for p in files if p.endswith(".py") and not any(v == "" or _under(p, v) for v in venvs)]


def _verified(line: str, path: str, is_dir: bool, report: SnapshotReport, keep_files: list[str]) -> bool:
    """The line, appended to an ignore file, excludes ``path`` (every file under it) and no kept file."""
    try:
        pattern: Any = _sdk.pathspec().GitWildMatchPattern(line)
    except ValueError:
        return False
    if pattern.include is not True:
        return False
    targets = [p for p in report.files if _under(p, path)] if is_dir else [path]
    if not targets or not all(pattern.match_file(p) is not None for p in targets):
        return False
    return not any(pattern.match_file(k) is not None for k in keep_files)


class _Children:
    """The direct sub-folders and files of a folder of the snapshot (``""``: the code folder)."""

    def __init__(self, report: SnapshotReport):
        self._report = report

    def folders(self, parent: str) -> list[tuple[str, tuple[int, int]]]:
        depth = parent.count("/") + 1 if parent else 0
        return [
            (p, totals)
            for p, totals in self._report.folder_totals.items()
            if p.count("/") == depth and (not parent or _under(p, parent))
        ]

    def files(self, parent: str) -> list[tuple[str, int]]:
        prefix = parent + "/" if parent else ""
        return [
            (p, s) for p, s in self._report.file_sizes if p.startswith(prefix) and "/" not in p[len(prefix) :]
        ]

"""Preflight check of the code snapshot: what azure-ai-ml would upload from the job's ``code`` folder.

Azure ML uploads the ``code`` folder of a command job as a snapshot. People upload data sets and
checkpoints by accident; this module predicts exactly which files the SDK would upload and flags
snapshots that are too big or have too many files, *before* anything is uploaded.

What azure-ai-ml (1.x) does, and what this module reproduces
-----------------------------------------------------------
A command/sweep job's local ``code`` becomes ``Code(base_path=..., path=code)``; its ignore file is
``azure.ai.ml._utils._asset_utils.get_ignore_file(code_dir)`` and the file list comes from
``get_upload_files_from_folder(code_dir, ignore_file=...)`` (also used for the content hash):

* Only ONE ignore file is used, the one in the code root: ``.amlignore`` if it exists, else
  ``.gitignore``; they are never merged, and ignore files in sub-folders are not read.
* No default exclusions for jobs: ``__pycache__``, ``.git`` and the ignore file itself are uploaded
  unless a pattern excludes them. (Only *components* use ``ComponentIgnoreFile``, which adds
  ``__pycache__``; jobs do not.)
* Patterns are gitignore-style, compiled by the SDK's own ``GitWildMatchPattern``; lines are
  ``rstrip()``-ed; the LAST matching pattern wins and it is matched against each FILE's path
  (relative to the code root) on its own. So, unlike git, ``data/`` followed by
  ``!data/keep.txt`` DOES upload ``data/keep.txt``.
* The walk is ``os.walk(code_dir, followlinks=True)``: symlinked folders are followed, and each
  file is matched by its *resolved* folder (``Path(root).resolve()``), so a pattern naming a
  symlinked folder does not exclude the files in it.

This module calls the SDK's own ``IgnoreFile.is_file_excluded`` for every file it lists, so the
verdict per file is the SDK's. The difference is the walk: it does not descend into a folder when
the SDK's patterns provably exclude every path beneath it (an exclude pattern matches the folder
as a directory, and no later ``!`` pattern can match anything under it), so a code folder beside
a 100,000-file ignored ``data/`` folder is scanned in milliseconds. Symlink loops, which the SDK
would follow until the OS refuses, are reported instead of followed.

``azure.ai.ml`` is imported lazily (inside :func:`scan_snapshot`), never at import time.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..findings import Finding
from ..progress import report_scan
from . import _sdk

__all__ = [
    "MB",
    "WARN_BYTES",
    "MAX_BYTES",
    "MAX_FILES",
    "SnapshotEntry",
    "SnapshotReport",
    "scan_snapshot",
    "check_snapshot",
    "human_size",
]

#: azure-ai-ml counts megabytes as 10**6 bytes (its own "> 100 MB" upload warning does too).
MB = 10**6
#: Above this the snapshot gets a warning (``snapshot-large``).
WARN_BYTES = 100 * MB
#: Above this the snapshot is an error (``snapshot-too-large``): Azure ML's snapshot limit.
MAX_BYTES = 300 * MB
#: Above this many files the snapshot is an error (``snapshot-too-many-files``).
MAX_FILES = 2000
#: How many entries messages name.
TOP_N = 5

_AML_IGNORE = ".amlignore"
_GIT_IGNORE = ".gitignore"


@dataclass(frozen=True)
class SnapshotEntry:
    """A file or a top-level folder of the snapshot; ``path`` is POSIX, relative to the code folder."""

    path: str
    bytes: int
    files: int = 1
    is_dir: bool = False

    @property
    def label(self) -> str:
        """``data/ (350.0 MB, 12 files)`` or ``model.ckpt (50.0 MB)``."""
        if self.is_dir:
            noun = "file" if self.files == 1 else "files"
            return f"{self.path}/ ({human_size(self.bytes)}, {self.files:,} {noun})"
        return f"{self.path} ({human_size(self.bytes)})"


@dataclass(frozen=True)
class SnapshotReport:
    """What azure-ai-ml would upload from ``code_dir``.

    ``files`` are the upload paths (POSIX, relative to the code folder, symlink names kept), sorted.
    ``top_level`` are the code folder's direct children that upload anything, biggest first.
    ``pruned_dirs`` are folders the ignore file excludes entirely (not walked).
    """

    code_dir: Path
    file_count: int
    total_bytes: int
    ignore_file: Path | None
    largest_files: tuple[SnapshotEntry, ...] = ()
    top_level: tuple[SnapshotEntry, ...] = ()
    files: tuple[str, ...] = ()
    pruned_dirs: tuple[str, ...] = ()
    symlink_loops: tuple[str, ...] = ()
    broken_links: tuple[str, ...] = ()

    @property
    def largest_entries(self) -> tuple[SnapshotEntry, ...]:
        """The biggest top-level entries (folders and files), at most :data:`TOP_N`."""
        return self.top_level[:TOP_N]


def human_size(n: int) -> str:
    """Decimal units, as azure-ai-ml prints them: ``350.0 MB``."""
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# pruning: may a whole folder be skipped? (decided with the SDK's own compiled patterns)
# --------------------------------------------------------------------------------------------

_DIR_SUFFIXES = ("(?P<ps_d>/).*$", "(?:(?P<ps_d>/).*)?$")
_REGEX_META = set(".^$*+?{}[]()|")


def _literal_prefix(regex: str) -> str:
    """The literal text every match of an anchored ``regex`` starts with ('' if unknown)."""
    if not regex.startswith("^"):
        return ""
    out: list[str] = []
    i = 1
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            if i + 1 >= len(regex) or regex[i + 1].isalnum():  # \d, \w, ...: not a literal
                break
            out.append(regex[i + 1])
            i += 2
            continue
        if ch in _REGEX_META:
            break
        out.append(ch)
        i += 1
    # a quantifier after the last literal applies to it ("ab?" does not guarantee "b")
    if i < len(regex) and regex[i] in "*?{" and out:
        out.pop()
    return "".join(out)


class _Pruner:
    """Decides, from the SDK's pattern list, whether every path under a folder is excluded."""

    def __init__(self, patterns: list[Any]):
        # (include, regex) for the patterns that take part in matching, in file order
        self._patterns = [(p.include, p.regex) for p in patterns if p.include is not None]
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._patterns)

    @staticmethod
    def _covers(regex: Any, rel_dir: str) -> bool:
        """True when ``regex`` matches ``rel_dir + '/' + s`` for EVERY s (without a newline)."""
        if not regex.pattern.endswith(_DIR_SUFFIXES):
            return False
        m = regex.match(rel_dir + "/")
        # the directory group matched a "/" at or before the end of rel_dir; ".*$" takes the rest
        return m is not None and m.groupdict().get("ps_d") is not None

    @staticmethod
    def _may_match_under(regex: Any, rel_dir: str) -> bool:
        """False only when ``regex`` provably matches nothing under ``rel_dir``."""
        prefix = _literal_prefix(regex.pattern)
        under = rel_dir + "/"
        return under.startswith(prefix) or prefix.startswith(under)

    def excludes_all_under(self, rel_dir: str) -> bool:
        hit = self._cache.get(rel_dir)
        if hit is None:
            hit = self._decide(rel_dir)
            self._cache[rel_dir] = hit
        return hit

    def _decide(self, rel_dir: str) -> bool:
        covered = False
        for include, regex in self._patterns:
            if include:
                if not covered and self._covers(regex, rel_dir):
                    covered = True
            elif covered and self._may_match_under(regex, rel_dir):
                # a later "!pattern" might re-include a file below: walk it, let the SDK decide
                covered = False
        return covered


# --------------------------------------------------------------------------------------------
# the scan
# --------------------------------------------------------------------------------------------


def scan_snapshot(code_dir: Path | str) -> SnapshotReport:
    """List what azure-ai-ml would upload from ``code_dir``, without walking ignored folders.

    Raises ``FileNotFoundError`` if ``code_dir`` does not exist and the SDK's
    ``GitWildMatchPatternError`` (a ``ValueError``) if the ignore file has an invalid pattern.
    """
    # the SDK resolves the code path (Path(base_path, code).resolve()) before anything else
    root = Path(code_dir).resolve()
    if not root.exists():
        raise FileNotFoundError(f"code folder not found: {code_dir}")
    if not root.is_dir():  # `code:` may name a single file: it is uploaded alone, no ignore file
        size = root.stat().st_size
        entry = SnapshotEntry(root.name, size)
        return SnapshotReport(root, 1, size, None, (entry,), (entry,), (root.name,))

    ignore = _sdk.ignore_file(root)
    ignore_path = Path(ignore.path) if ignore.exists() else None
    pruner = _Pruner(_sdk.ignore_patterns(ignore)) if ignore_path else _Pruner([])

    files: list[str] = []
    sizes: list[tuple[int, str]] = []
    top: dict[str, list[int]] = {}  # name -> [bytes, files, is_dir]
    pruned: list[str] = []
    loops: list[str] = []
    broken: list[str] = []

    # (walk path, resolved path, upload prefix, resolved ancestors)
    stack: list[tuple[str, str, str, frozenset[str]]] = [(str(root), str(root), "", frozenset({str(root)}))]
    seen = 0  # entries looked at, for the progress display on large folders
    while stack:
        walk_dir, real_dir, prefix, ancestors = stack.pop()
        try:
            entries = list(os.scandir(walk_dir))
        except OSError:  # os.walk(onerror=None) skips unreadable folders silently; so does the SDK
            continue
        seen += len(entries)
        if seen >= 2000:
            report_scan(len(files))
            seen = 0
        for entry in entries:
            name = entry.name
            rel = prefix + name
            try:
                is_dir = entry.is_dir()  # follows symlinks, like os.walk
            except OSError:
                is_dir = False
            if is_dir:
                sub_real = os.path.realpath(entry.path) if entry.is_symlink() else real_dir + os.sep + name
                if sub_real in ancestors:
                    loops.append(rel)
                    continue
                if pruner:
                    match_rel = _sdk.relative_for_match(ignore, sub_real)
                    if match_rel is not None and pruner.excludes_all_under(match_rel):
                        pruned.append(rel)
                        continue
                stack.append((entry.path, sub_real, rel + "/", ancestors | {sub_real}))
                continue
            # a file: the SDK's own verdict, on the path the SDK builds (resolved folder + name)
            if pruner and ignore.is_file_excluded(Path(real_dir, name).as_posix()):
                continue
            try:
                size = entry.stat().st_size  # follows symlinks: the SDK uploads the target
            except OSError:
                broken.append(rel)
                size = 0
            files.append(rel)
            sizes.append((size, rel))
            top_name = rel.split("/", 1)[0]
            acc = top.setdefault(top_name, [0, 0, int("/" in rel)])
            acc[0] += size
            acc[1] += 1

    largest = tuple(SnapshotEntry(p, s) for s, p in heapq.nlargest(TOP_N * 2, sizes))
    top_level = tuple(
        sorted(
            (SnapshotEntry(n, b, f, bool(d)) for n, (b, f, d) in top.items()),
            key=lambda e: (-e.bytes, -e.files, e.path),
        )
    )
    return SnapshotReport(
        code_dir=root,
        file_count=len(files),
        total_bytes=sum(s for s, _ in sizes),
        ignore_file=ignore_path,
        largest_files=largest,
        top_level=top_level,
        files=tuple(sorted(files)),
        pruned_dirs=tuple(sorted(pruned)),
        symlink_loops=tuple(sorted(loops)),
        broken_links=tuple(sorted(broken)),
    )


# --------------------------------------------------------------------------------------------
# the preflight check
# --------------------------------------------------------------------------------------------


def _ignore_hint(report: SnapshotReport, entries: Iterable[SnapshotEntry]) -> str:
    lines = [f"/{e.path}/" if e.is_dir else f"/{e.path}" for e in entries]
    target = report.code_dir / _AML_IGNORE
    hint = f"add {', '.join(lines)} to {target}" if lines else f"add the paths to {target}"
    if report.ignore_file is not None and report.ignore_file.name == _GIT_IGNORE:
        hint += f" (an {_AML_IGNORE} replaces {_GIT_IGNORE} entirely: copy its patterns over)"
    return (
        f"Fix: {hint}, or move data and checkpoints out of the code folder into a data asset "
        "and pass it to the job as an input."
    )


def _largest_text(report: SnapshotReport, entries: tuple[SnapshotEntry, ...]) -> str:
    text = "largest: " + ", ".join(e.label for e in entries)
    # a big folder hides the file that makes it big: name the biggest files too
    extra = [f for f in report.largest_files[:3] if f.path not in {e.path for e in entries}]
    if extra and any(e.is_dir for e in entries):
        text += "; largest files: " + ", ".join(f.label for f in extra)
    return text


def check_snapshot(code_dir: Path | str) -> list[Finding]:
    """Preflight findings for the code snapshot of ``code_dir`` (empty list: fine)."""
    path = Path(code_dir)
    try:
        report = scan_snapshot(path)
    except FileNotFoundError:
        return [
            Finding(
                "error",
                "code-missing",
                f"Code folder {path} does not exist. Fix the job config's `code:` path "
                "(relative paths are resolved against the job config's folder).",
            )
        ]
    except ValueError as exc:  # the SDK's GitWildMatchPatternError: the upload would fail the same way
        return [
            Finding(
                "error",
                "snapshot-ignore-invalid",
                f"The ignore file in {path} has an invalid pattern, so azure-ai-ml cannot upload the "
                f"code folder: {exc}. Fix or remove that line.",
            )
        ]

    findings: list[Finding] = []
    where = f"Code folder {report.code_dir}"
    using = (
        f" (honouring {report.ignore_file.name})" if report.ignore_file else " (no .amlignore or .gitignore)"
    )
    if report.total_bytes > MAX_BYTES or report.total_bytes > WARN_BYTES:
        too_large = report.total_bytes > MAX_BYTES
        top = report.largest_entries
        limit = MAX_BYTES if too_large else WARN_BYTES
        findings.append(
            Finding(
                "error" if too_large else "warning",
                "snapshot-too-large" if too_large else "snapshot-large",
                f"{where} would upload {human_size(report.total_bytes)} in {report.file_count:,} files"
                f"{using}, over the {human_size(limit)} "
                f"{'snapshot limit' if too_large else 'that slows every submission'}; "
                f"{_largest_text(report, top)}. {_ignore_hint(report, top[:3])}",
            )
        )
    if report.file_count > MAX_FILES:
        by_count = tuple(sorted(report.top_level, key=lambda e: (-e.files, -e.bytes, e.path))[:TOP_N])
        findings.append(
            Finding(
                "error",
                "snapshot-too-many-files",
                f"{where} would upload {report.file_count:,} files{using}, over the limit of "
                f"{MAX_FILES:,} files; most files: "
                + ", ".join(e.label for e in by_count)
                + f". {_ignore_hint(report, [e for e in by_count[:3] if e.is_dir])}",
            )
        )
    if report.symlink_loops:
        findings.append(
            Finding(
                "error",
                "snapshot-symlink-loop",
                f"{where} has symlinked folders that point back into themselves: "
                + ", ".join(report.symlink_loops[:TOP_N])
                + ". azure-ai-ml follows symlinks and would upload the same files again and again; "
                "remove the links or add them to .amlignore.",
            )
        )
    if report.broken_links:
        findings.append(
            Finding(
                "error",
                "snapshot-broken-link",
                f"{where} has broken symlinks azure-ai-ml cannot upload: "
                + ", ".join(report.broken_links[:TOP_N])
                + ". Remove them or add them to .amlignore.",
            )
        )
    return findings

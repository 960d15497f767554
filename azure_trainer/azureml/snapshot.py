"""The code snapshot check (``validate``, ``submit`` before sign-in, preflight): what azure-ai-ml would
upload from the job's ``code`` folder.

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

* Files are uploaded from their resolved path: a link to a file or folder OUTSIDE the code folder
  uploads what it points to (``key -> ../../.ssh/id_rsa``). Such links are reported (with their
  targets) and never walked: the snapshot must not leave the code folder.

Every file's verdict is the SDK's own matcher's (its vendored ``pathspec``, loaded by
:mod:`._sdk` without importing azure.ai.ml, so the check runs offline in ``validate``). The difference
is the walk: it does not descend into a folder when the patterns provably exclude every path beneath it
(an exclude pattern matches the folder as a directory, and no later ``!`` pattern can match anything
under it), so a code folder beside a 100,000-file ignored ``data/`` folder is scanned in milliseconds;
and it is bounded (:data:`SCAN_ENTRY_LIMIT` entries, :data:`SCAN_SECONDS`), so ``code: /`` is refused in
a fraction of a second instead of walked for minutes. Symlink loops, which the SDK would follow until
the OS refuses, are reported instead of followed.
"""

from __future__ import annotations

import heapq
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..findings import Finding
from ..progress import report_scan
from . import _sdk
from .credential_files import credential_kind
from .snapshot_advice import ignore_suggestions

__all__ = [
    "MB",
    "WARN_BYTES",
    "MAX_BYTES",
    "MAX_FILES",
    "SCAN_ENTRY_LIMIT",
    "SCAN_SECONDS",
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
#: The walk stops after this many files and folders (not counting pruned ones): five times the file limit,
#: so a code folder that could be uploaded is walked to its end unless its ignore file excludes thousands
#: of files one by one (a warning says so).
SCAN_ENTRY_LIMIT = 5 * MAX_FILES
#: ... or after this long (a slow network file system): the snapshot check answers in well under a second.
SCAN_SECONDS = 0.4

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
    outside_links: tuple[tuple[str, str], ...] = ()
    """``(upload path, resolved target)`` of each link that leads out of the code folder (not walked)."""
    special_files: tuple[str, ...] = ()
    """FIFOs, sockets and devices: reading them blocks or fails."""
    complete: bool = True
    """False when the walk stopped at :data:`SCAN_ENTRY_LIMIT` or :data:`SCAN_SECONDS`: counts are lower
    bounds."""
    file_sizes: tuple[tuple[str, int], ...] = field(default=(), repr=False)
    """``(upload path, bytes)`` of every file listed."""
    folder_totals: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    """Folder (upload path) -> ``(bytes, files)`` of everything under it that is uploaded."""

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


class _Walk:
    """The running totals of one scan."""

    def __init__(self, root: str):
        self.root_prefix = root.rstrip(os.sep) + os.sep
        self.root = root
        self.files: list[str] = []
        self.sizes: list[tuple[int, str]] = []
        self.folders: dict[str, list[int]] = {}  # folder -> [bytes, files]
        self.pruned: list[str] = []
        self.loops: list[str] = []
        self.broken: list[str] = []
        self.outside: list[tuple[str, str]] = []
        self.special: list[str] = []
        self.entries = 0

    def inside(self, real: str) -> bool:
        return real == self.root or real.startswith(self.root_prefix)

    def add_file(self, rel: str, size: int) -> None:
        self.files.append(rel)
        self.sizes.append((size, rel))
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            acc = self.folders.setdefault("/".join(parts[:depth]), [0, 0])
            acc[0] += size
            acc[1] += 1


def scan_snapshot(code_dir: Path | str) -> SnapshotReport:
    """List what azure-ai-ml would upload from ``code_dir``, without walking ignored folders, without
    leaving the code folder, and within :data:`SCAN_ENTRY_LIMIT` entries / :data:`SCAN_SECONDS`.

    Raises ``FileNotFoundError`` if ``code_dir`` does not exist, ``ValueError`` if the ignore file has an
    invalid pattern (the SDK's ``GitWildMatchPatternError``) or is absurdly large, and ``OSError`` /
    ``UnicodeDecodeError`` if it cannot be read.
    """
    # the SDK resolves the code path (Path(base_path, code).resolve()) before anything else
    root = Path(code_dir).resolve()
    if not root.exists():
        raise FileNotFoundError(f"code folder not found: {code_dir}")
    if not root.is_dir():  # `code:` may name a single file: it is uploaded alone, no ignore file
        size = root.stat().st_size
        entry = SnapshotEntry(root.name, size)
        return SnapshotReport(
            root, 1, size, None, (entry,), (entry,), (root.name,), file_sizes=((root.name, size),)
        )

    ignore = _sdk.ignore_file(root)
    ignore_path = ignore.path if ignore.exists() else None
    pruner = _Pruner(ignore.patterns())
    walk = _Walk(str(root))
    complete = _walk(walk, ignore, pruner, time.monotonic() + SCAN_SECONDS)

    top: dict[str, list[int]] = {}  # name -> [bytes, files, is_dir]
    for size, rel in walk.sizes:
        acc = top.setdefault(rel.split("/", 1)[0], [0, 0, int("/" in rel)])
        acc[0] += size
        acc[1] += 1
    top_level = tuple(
        sorted(
            (SnapshotEntry(n, b, f, bool(d)) for n, (b, f, d) in top.items()),
            key=lambda e: (-e.bytes, -e.files, e.path),
        )
    )
    return SnapshotReport(
        code_dir=root,
        file_count=len(walk.files),
        total_bytes=sum(s for s, _ in walk.sizes),
        ignore_file=ignore_path,
        largest_files=tuple(SnapshotEntry(p, s) for s, p in heapq.nlargest(TOP_N * 2, walk.sizes)),
        top_level=top_level,
        files=tuple(sorted(walk.files)),
        pruned_dirs=tuple(sorted(walk.pruned)),
        symlink_loops=tuple(sorted(walk.loops)),
        broken_links=tuple(sorted(walk.broken)),
        outside_links=tuple(sorted(walk.outside)),
        special_files=tuple(sorted(walk.special)),
        complete=complete,
        file_sizes=tuple((p, s) for s, p in walk.sizes),
        folder_totals={k: (v[0], v[1]) for k, v in walk.folders.items()},
    )


def _walk(walk: _Walk, ignore: _sdk.IgnoreFile, pruner: _Pruner, deadline: float) -> bool:
    """Walk the code folder as ``os.walk(followlinks=True)`` would, into ``walk``; False if it stopped
    at the entry or time limit."""
    # (walk path, resolved path, upload prefix, resolved ancestors)
    stack: list[tuple[str, str, str, frozenset[str]]] = [(walk.root, walk.root, "", frozenset({walk.root}))]
    while stack:
        walk_dir, real_dir, prefix, ancestors = stack.pop()
        try:
            entries = list(os.scandir(walk_dir))
        except OSError:  # os.walk(onerror=None) skips unreadable folders silently; so does the SDK
            continue
        if walk.entries // 2000 != (walk.entries + len(entries)) // 2000:
            report_scan(len(walk.files))  # the progress display on large folders
        for entry in entries:
            walk.entries += 1
            if walk.entries > SCAN_ENTRY_LIMIT or (walk.entries % 256 == 0 and time.monotonic() > deadline):
                return False
            rel = prefix + entry.name
            try:
                is_dir = entry.is_dir()  # follows symlinks, like os.walk
            except OSError:
                is_dir = False
            if is_dir:
                _visit_folder(walk, entry, rel, real_dir, ancestors, ignore, pruner, stack)
            else:
                _visit_file(walk, entry, rel, real_dir, ignore, pruner)
    return True


def _visit_folder(
    walk: _Walk,
    entry: os.DirEntry[str],
    rel: str,
    real_dir: str,
    ancestors: frozenset[str],
    ignore: _sdk.IgnoreFile,
    pruner: _Pruner,
    stack: list[tuple[str, str, str, frozenset[str]]],
) -> None:
    link = entry.is_symlink()
    sub_real = os.path.realpath(entry.path) if link else real_dir + os.sep + entry.name
    if sub_real in ancestors:
        walk.loops.append(rel)
        return
    if pruner:
        match_rel = _sdk.relative_for_match(ignore, sub_real)
        if match_rel is not None and pruner.excludes_all_under(match_rel):
            walk.pruned.append(rel)
            return
    if link and not walk.inside(sub_real):
        # never walked into the report; reported when the upload would take anything from it
        if _uploads_anything(entry.path, sub_real, ignore, pruner):
            walk.outside.append((rel + "/", sub_real))
        return
    stack.append((entry.path, sub_real, rel + "/", ancestors | {sub_real}))


_PEEK_ENTRIES = 1000
"""How far a link out of the code folder is looked into to see whether the upload would take a file."""


def _uploads_anything(path: str, real: str, ignore: _sdk.IgnoreFile, pruner: _Pruner) -> bool:
    """Whether the upload would take any file from the folder ``path`` (resolved: ``real``); True when
    that cannot be told within :data:`_PEEK_ENTRIES` entries."""
    if not pruner:
        return True
    stack, seen = [(path, real)], 0
    while stack:
        walk_dir, real_dir = stack.pop()
        try:
            entries = list(os.scandir(walk_dir))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > _PEEK_ENTRIES:
                return True
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                if not ignore.is_file_excluded(Path(real_dir, entry.name).as_posix()):
                    return True
                continue
            sub_real = os.path.realpath(entry.path)
            match_rel = _sdk.relative_for_match(ignore, sub_real)
            if sub_real != real_dir and not (match_rel is not None and pruner.excludes_all_under(match_rel)):
                stack.append((entry.path, sub_real))
    return False


def _visit_file(
    walk: _Walk, entry: os.DirEntry[str], rel: str, real_dir: str, ignore: _sdk.IgnoreFile, pruner: _Pruner
) -> None:
    # the SDK's verdict, on the path the SDK builds (resolved folder + name)
    if pruner and ignore.is_file_excluded(Path(real_dir, entry.name).as_posix()):
        return
    try:
        info = entry.stat()  # follows symlinks: the SDK uploads the target
    except OSError:
        walk.broken.append(rel)
        walk.add_file(rel, 0)
        return
    if entry.is_symlink():
        target = os.path.realpath(entry.path)
        if not walk.inside(target):
            walk.outside.append((rel, target))
    if not stat.S_ISREG(info.st_mode):
        walk.special.append(rel)
        walk.add_file(rel, 0)
        return
    walk.add_file(rel, info.st_size)


# --------------------------------------------------------------------------------------------
# the preflight check
# --------------------------------------------------------------------------------------------


def _ignore_hint(report: SnapshotReport, lines: list[str]) -> str:
    target = report.code_dir / _AML_IGNORE
    hint = f"add {', '.join(lines)} to {target}" if lines else f"list what the job does not need in {target}"
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


def _names(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(items[:TOP_N])
    return shown + (f" and {len(items) - TOP_N} more" if len(items) > TOP_N else "")


def _read_failure(path: Path, exc: Exception) -> Finding:
    if isinstance(exc, FileNotFoundError):
        return Finding(
            "error",
            "code-missing",
            f"Code folder {path} does not exist. Fix the job config's `code:` path "
            "(relative paths are resolved against the job config's folder).",
        )
    if isinstance(exc, ValueError) and not isinstance(exc, UnicodeDecodeError):
        problem = f"has an invalid pattern, so azure-ai-ml cannot upload the code folder: {exc}"
        fix = "Fix or remove that line."
    else:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        problem = f"cannot be read ({detail}), so azure-ai-ml cannot upload the code folder"
        fix = "Make it a readable UTF-8 text file, or remove it."
    return Finding("error", "snapshot-ignore-invalid", f"The ignore file in {path} {problem}. {fix}")


def check_snapshot(
    code_dir: Path | str, *, keep: Iterable[str] = (), allow: Iterable[str] = ()
) -> list[Finding]:
    """Preflight findings for the code snapshot of ``code_dir`` (empty list: fine).

    ``keep`` are upload paths the job needs (its entry script, files its command names): advice never
    suggests ignoring them. ``allow`` (the job's ``preflight.allow``) names credential-looking files
    that are not secrets (an upload path, a file name, or a glob such as ``certs/*.pem``).
    """
    path = Path(code_dir)
    try:
        report = scan_snapshot(path)
    except (OSError, ValueError) as exc:
        return [_read_failure(path, exc)]
    where = f"Code folder {report.code_dir}"
    findings = _size_findings(report, where, set(keep))
    findings += _link_findings(report, where)
    credentials = [(p, kind) for p in report.files if (kind := credential_kind(p)) and not _allowed(p, allow)]
    if credentials:
        lines = ", ".join(f"{p} ({kind})" for p, kind in credentials[:TOP_N])
        more = f" and {len(credentials) - TOP_N} more" if len(credentials) > TOP_N else ""
        ignore_lines = ", ".join(f"/{p}" for p, _ in credentials[:TOP_N])
        findings.append(
            Finding(
                "error",
                "snapshot-credential-file",
                f"{where} would upload credential files: {lines}{more}. The snapshot is stored in the "
                "workspace and readable by everyone with access to it. Add "
                f"{ignore_lines} to {report.code_dir / _AML_IGNORE} and read secrets at run time (Azure "
                "Key Vault with the job's managed identity); if a file holds no secret, list it in "
                "`preflight: {allow: [...]}`.",
            )
        )
    return findings


def _allowed(upload_path: str, allow: Iterable[str]) -> bool:
    from fnmatch import fnmatchcase

    name = upload_path.rsplit("/", 1)[-1]
    return any(upload_path == a or name == a or fnmatchcase(upload_path, a) for a in allow)


def _size_findings(report: SnapshotReport, where: str, keep: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    using = (
        f" (honouring {report.ignore_file.name})" if report.ignore_file else " (no .amlignore or .gitignore)"
    )
    at_least = "" if report.complete else "at least "
    stopped = (
        ""
        if report.complete
        else f" (the check stopped counting after {SCAN_ENTRY_LIMIT:,} entries or {SCAN_SECONDS:g} s)"
    )
    if report.total_bytes > WARN_BYTES:
        too_large = report.total_bytes > MAX_BYTES
        limit = MAX_BYTES if too_large else WARN_BYTES
        lines = ignore_suggestions(report, keep, by="bytes", limit=limit)
        findings.append(
            Finding(
                "error" if too_large else "warning",
                "snapshot-too-large" if too_large else "snapshot-large",
                f"{where} would upload {at_least}{human_size(report.total_bytes)} in {report.file_count:,} "
                f"files{using}{stopped}, over the {human_size(limit)} "
                f"{'snapshot limit' if too_large else 'that slows every submission'}; "
                f"{_largest_text(report, report.largest_entries)}. {_ignore_hint(report, lines)}",
            )
        )
    if report.file_count > MAX_FILES:
        by_count = tuple(sorted(report.top_level, key=lambda e: (-e.files, -e.bytes, e.path))[:TOP_N])
        lines = ignore_suggestions(report, keep, by="files", limit=MAX_FILES)
        findings.append(
            Finding(
                "error",
                "snapshot-too-many-files",
                f"{where} would upload {at_least}{report.file_count:,} files{using}{stopped}, over the "
                f"limit of {MAX_FILES:,} files; most files: "
                + ", ".join(e.label for e in by_count)
                + f". {_ignore_hint(report, lines)}",
            )
        )
    elif not report.complete:
        findings.append(
            Finding(
                "warning",
                "snapshot-scan-incomplete",
                f"{where} has over {SCAN_ENTRY_LIMIT:,} files and folders that the ignore file excludes one "
                f"by one{stopped}, so the snapshot could not be checked to its end, and the upload walks them "
                "all. Exclude whole folders instead (a line such as `data/` lets both skip it).",
            )
        )
    return findings


def _link_findings(report: SnapshotReport, where: str) -> list[Finding]:
    findings: list[Finding] = []
    if report.outside_links:
        links = _names(f"{link} -> {target}" for link, target in report.outside_links)
        findings.append(
            Finding(
                "error",
                "snapshot-link-outside",
                f"{where} has links to outside it, which azure-ai-ml follows and uploads: {links}. The "
                "snapshot must hold only the code folder: copy what the job needs into it (or pass data "
                "as an input) and remove the links; a link to a file can also be listed in .amlignore.",
            )
        )
    if report.symlink_loops:
        findings.append(
            Finding(
                "error",
                "snapshot-symlink-loop",
                f"{where} has symlinked folders that point back into themselves: "
                + _names(report.symlink_loops)
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
                + _names(report.broken_links)
                + ". Remove them or add them to .amlignore.",
            )
        )
    if report.special_files:
        findings.append(
            Finding(
                "error",
                "snapshot-special-file",
                f"{where} holds files that are not regular files (FIFOs, sockets or devices): "
                + _names(report.special_files)
                + ". azure-ai-ml would block or fail reading them; remove them or add them to .amlignore.",
            )
        )
    return findings

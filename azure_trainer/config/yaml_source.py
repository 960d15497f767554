"""Safe YAML loading that remembers where every key came from (file and line).

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two duplicate keys; a config
error must name the line, and a duplicate key is almost always a mistake, so we compose the node tree
ourselves and build both the data and a map ``key path -> (file, line)``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

KeyPath = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Where each key path was written: ``{("args", "lr"): ("jobs/x.yaml", 12)}``."""

    locations: dict[KeyPath, tuple[str, int | None]] = field(default_factory=dict)
    hidden: set[KeyPath] = field(default_factory=set)
    """Key paths whose values must not appear in messages (secret-looking ``--set`` values)."""

    def locate(self, path: KeyPath) -> tuple[str | None, int | None]:
        """The location of ``path``, or of its nearest written ancestor."""
        for end in range(len(path), -1, -1):
            where = self.locations.get(tuple(path[:end]))
            if where is not None:
                return where
        return None, None

    def drop_under(self, prefix: KeyPath) -> None:
        """Forget every location at or under ``prefix`` (the value there was replaced whole)."""
        n = len(prefix)
        for key in [k for k in self.locations if k[:n] == prefix]:
            del self.locations[key]


def nearest_location(
    locations: Mapping[str, tuple[str, int | None]], key_path: str, file: str | None
) -> tuple[str | None, int | None]:
    """``(file, line)`` where the dotted ``key_path`` (e.g. ``compute.gpu``) or its nearest parent was
    written, in ``locations`` keyed by dotted path; ``(file, None)`` when nothing closer is known."""
    parts = key_path.split(".")
    for end in range(len(parts), 0, -1):
        where = locations.get(".".join(parts[:end]))
        if where is not None:
            return where
    return file, None


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):  # outside the working folder; or a path no file system accepts
        return str(path) if "\0" not in str(path) else repr(str(path))


MAX_DEPTH = 100
"""Deepest nesting a config may have (a job config needs a handful of levels)."""
MAX_NODES = 100_000
"""Most values (mappings, lists and scalars, aliases expanded) one YAML document may build."""

_STANDARD_TAG = "tag:yaml.org,2002:"
_TOO_DEEP = (
    f"nested too deeply (more than {MAX_DEPTH} levels, aliases expanded); "
    "a job config needs only a few levels: is it the right file?"
)


MAX_FILE_BYTES = 1 << 20
"""Largest YAML file a job config (or an environment or conda file it names) may be: 1 MiB."""

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_text_file(path: Path, what: str = "a job config") -> str:
    """The UTF-8 text of ``path``, which must be a regular file of at most :data:`MAX_FILE_BYTES`.

    Checked before reading, so a FIFO never blocks, a device such as /dev/zero is never read, and a huge
    file is never loaded; every refusal is a ConfigError naming the file. ``what`` names the file's role.
    """
    shown = display_path(path)
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError("file not found; check the path", file=shown) from None
    except ValueError:  # a NUL byte in the path
        raise ConfigError("is not a usable path (it holds a NUL byte)", file=repr(str(path))[:80]) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=shown[:200]) from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"is a folder, expected a YAML file ({what})", file=shown)
    for test, kind in _KINDS:
        if test(info.st_mode):
            raise ConfigError(f"is {kind}, not a regular file; {what} is a YAML file", file=shown)
    too_big = ConfigError(
        f"is larger than {MAX_FILE_BYTES // 1024} KiB; {what} is a short YAML file: is it the right file?",
        file=shown,
    )
    if info.st_size > MAX_FILE_BYTES:
        raise too_big
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=shown) from None
    if len(raw) > MAX_FILE_BYTES:
        raise too_big
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"is not a UTF-8 text file ({what} is YAML text); is it the right file?", file=shown
        ) from None


def load_yaml_with_lines(path: Path, what: str = "a job config") -> tuple[Any, SourceMap]:
    """Parse ``path`` safely (see :func:`read_text_file`); return the data and the source map of its keys."""
    return load_yaml_text(read_text_file(path, what), display_path(path))


def load_yaml_text(text: str, file: str, *, empty_as_mapping: bool = True) -> tuple[Any, SourceMap]:
    """Parse YAML ``text`` (from ``file``, a name for messages) safely; return the data and its source map.

    Text with no document (only comments) gives ``{}``, or None when ``empty_as_mapping`` is false.

    Beyond PyYAML's safe loader this refuses duplicate keys, merge keys, tags other than the standard
    ones, an alias inside its own anchor, nesting deeper than :data:`MAX_DEPTH`, and documents that
    build more than :data:`MAX_NODES` values once aliases are expanded (an "alias bomb").
    """
    loader: _Loader | None = None
    try:
        loader = _Loader(text, file)  # the reader checks for control characters here
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = exc.problem or "invalid YAML"
        if "maximum nesting depth" in problem:  # libyaml's own limit (1,000 levels) met before ours
            raise ConfigError(_TOO_DEEP, file=file, line=line) from None
        if exc.context and exc.context_mark and exc.context.endswith("; first occurrence"):
            # PyYAML puts the duplicate-anchor news in the context and "second occurrence" in the problem
            problem = f"{exc.context.removesuffix('; first occurrence')} (first on line {exc.context_mark.line + 1})"
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(
            f"not a text file: it holds the control character #x{exc.character:04x}; is it the right file?",
            file=file,
            line=line,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {str(exc).splitlines()[0]}", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    smap = SourceMap()
    if node is None:
        return ({} if empty_as_mapping else None), smap
    data = _Builder(file, smap).construct(node, ())
    return data, smap


try:  # libyaml's event parser, when PyYAML was built with it: about 5x faster than PyYAML's own
    from yaml._yaml import CParser as _EventParser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    _EventParser = None


class _MeasuringComposer(yaml.composer.Composer):
    """PyYAML's composer, measuring what it builds.

    PyYAML composes an alias as a reference to the anchored node, so a few lines can describe a
    structure that is enormous (or infinite) once expanded; we expand it (every key needs its own line
    in the source map), so the composer refuses such structures first, naming the line. The events come
    from libyaml when available (else from PyYAML's pure-Python scanner and parser); either way this
    composer builds the node tree, so the same checks run.
    """

    def _start(self, file: str) -> None:
        self._file = file
        self._depth = 0
        self._open_anchors: set[str] = set()
        self._shape: dict[int, tuple[int, int]] = {}  # id(node) -> (values once expanded, height)
        self._total = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                raise ConfigError(
                    f"alias *{event.anchor} refers to itself (it is inside &{event.anchor}); "
                    "a YAML value cannot contain itself",
                    file=self._file,
                    line=line,
                )
            node = super().compose_node(parent, index)
            size, height = self._shape[id(node)]
            self._check(self._depth + height, size, line, f"alias *{event.anchor}")
            return node
        self._check(self._depth + 1, 1, line, "this value")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        shapes = [self._shape[id(child)] for child in children]
        self._shape[id(node)] = (1 + sum(s for s, _ in shapes), 1 + max((h for _, h in shapes), default=0))
        return node

    def _check(self, depth: int, size: int, line: int, what: str) -> None:
        if depth > MAX_DEPTH:
            raise ConfigError(_TOO_DEEP, file=self._file, line=line)
        self._total += size
        if self._total > MAX_NODES:
            raise ConfigError(
                f"{what} makes the document more than {MAX_NODES:,} values once aliases are expanded "
                "(aliases of aliases multiply); write the values out, or use fewer nested aliases",
                file=self._file,
                line=line,
            )


if _EventParser is not None:

    class _Loader(_MeasuringComposer, _EventParser, yaml.resolver.Resolver):  # type: ignore[misc,valid-type]
        def __init__(self, text: str, file: str) -> None:
            _EventParser.__init__(self, text)  # the reader checks for control characters here
            yaml.composer.Composer.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._start(file)

else:  # pragma: no cover

    class _Loader(_MeasuringComposer, yaml.SafeLoader):  # type: ignore[no-redef]
        def __init__(self, text: str, file: str) -> None:
            yaml.SafeLoader.__init__(self, text)
            self._start(file)


class _Builder:
    """Builds plain data from a composed node tree, recording the line of every key path."""

    def __init__(self, file: str, smap: SourceMap) -> None:
        self.file = file
        self.smap = smap
        # One constructor for the whole document: creating a loader per scalar is slow.
        self._constructor = yaml.constructor.SafeConstructor()

    def construct(self, node: yaml.Node, path: KeyPath) -> Any:
        self.smap.locations.setdefault(path, (self.file, node.start_mark.line + 1))
        if isinstance(node, yaml.MappingNode):
            self._check_tag(node, "map")
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise ConfigError(
                        "YAML merge keys (<<) are not supported; use `extends:` instead",
                        file=self.file,
                        line=line,
                    )
                key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if key is None:
                    raise ConfigError("keys must be plain names", file=self.file, line=line)
                key = str(key) if not isinstance(key, str) else key
                if key in result:
                    raise ConfigError(
                        f"duplicate key {key!r} (the later one would silently win); keep one",
                        file=self.file,
                        line=line,
                        key_path=dotted(path + (key,)),
                    )
                child = path + (key,)
                self.smap.locations[child] = (self.file, line)
                result[key] = self.construct(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, "seq")
            return [self.construct(item, path + (i,)) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag not in self._constructor.yaml_constructors:
            self._unsupported_tag(node)
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(
                f"invalid value: {problem}", file=self.file, line=node.start_mark.line + 1
            ) from None

    def _check_tag(self, node: yaml.Node, standard: str) -> None:
        if node.tag != _STANDARD_TAG + standard:
            self._unsupported_tag(node)

    def _unsupported_tag(self, node: yaml.Node) -> None:
        tag = node.tag
        shown = "!!" + tag[len(_STANDARD_TAG) :] if tag.startswith(_STANDARD_TAG) else tag
        raise ConfigError(
            f"the YAML tag {shown} is not supported: a job config is plain data (strings, numbers, "
            "booleans, lists, mappings); remove the tag",
            file=self.file,
            line=node.start_mark.line + 1,
        )


def dotted(path: KeyPath) -> str:
    """A key path as messages write it: ``("args", "lr")`` -> ``args.lr``, ``("x", 0)`` -> ``x[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out

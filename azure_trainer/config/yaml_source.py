"""Safe YAML loading that remembers where every key came from (file and line).

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two duplicate keys; a config
error must name the line, and a duplicate key is almost always a mistake, so we compose the node tree
ourselves and build both the data and a map ``key path -> (file, line)``.
"""

from __future__ import annotations

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

    def locate(self, path: KeyPath) -> tuple[str | None, int | None]:
        """The location of ``path``, or of its nearest written ancestor."""
        for end in range(len(path), -1, -1):
            where = self.locations.get(tuple(path[:end]))
            if where is not None:
                return where
        return None, None

    def update(self, other: SourceMap) -> None:
        self.locations.update(other.locations)

    def drop_under(self, prefix: KeyPath) -> None:
        """Forget every location at or under ``prefix`` (the value there was replaced whole)."""
        n = len(prefix)
        for key in [k for k in self.locations if k[:n] == prefix]:
            del self.locations[key]


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_yaml_with_lines(path: Path) -> tuple[Any, SourceMap]:
    """Parse ``path`` safely; return the data and the source map of its keys."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found; check the path", file=shown) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, expected a YAML file", file=shown) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=shown) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = exc.problem or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}", file=shown, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=shown) from None
    smap = SourceMap()
    if node is None:
        return {}, smap
    data = _construct(node, (), shown, smap)
    return data, smap


def _construct(node: yaml.Node, path: KeyPath, file: str, smap: SourceMap) -> Any:
    smap.locations.setdefault(path, (file, node.start_mark.line + 1))
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError(
                    "YAML merge keys (<<) are not supported; use `extends:` instead",
                    file=file,
                    line=key_node.start_mark.line + 1,
                )
            key = _scalar(key_node, file)
            if isinstance(key, (dict, list)) or key is None:
                raise ConfigError("keys must be plain names", file=file, line=key_node.start_mark.line + 1)
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                raise ConfigError(
                    f"duplicate key {key!r} (the later one would silently win); keep one",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    key_path=_dotted(path + (key,)),
                )
            child = path + (key,)
            smap.locations[child] = (file, key_node.start_mark.line + 1)
            result[key] = _construct(value_node, child, file, smap)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (i,), file, smap) for i, item in enumerate(node.value)]
    return _scalar(node, file)


def _scalar(node: yaml.Node, file: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return _construct(node, (), file, SourceMap())
    try:
        return yaml.SafeLoader(node.value).construct_object(node, deep=True)  # type: ignore[arg-type]
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid value: {exc}", file=file, line=node.start_mark.line + 1) from None


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out

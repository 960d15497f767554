"""Load a job config: YAML -> ``extends`` chain -> ``--set`` overrides -> validated :class:`JobConfig`.

Relative paths are resolved against the folder of the file that wrote them, before merging, so a base
config in another folder keeps meaning what it says.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .model import JobConfig
from .yaml_source import KeyPath, SourceMap, _dotted, display_path, load_yaml_with_lines

REMOTE_PREFIXES = (  # a path that starts with none of these is a local path
    "azureml:",
    "http://",
    "https://",
    "wasbs://",
    "abfss://",
    "adl://",
    "gs://",
    "s3://",
)
_SETTING_RE = re.compile(r"^\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*=(.*)$", re.S)


def load_config(
    path: str | Path,
    overrides: Iterable[str] = (),
    *,
    use_gpu: bool | None = None,
) -> JobConfig:
    """Load, merge and validate a job config.

    ``overrides`` are ``key.path=value`` strings (values typed as YAML, as with ``--set``); ``use_gpu``
    (from ``--gpu``/``--cpu``) wins over the file and the overrides. Raises :class:`ConfigError` with
    the file, line and key path of the first problem.
    """
    path = Path(path)
    data, smap = _load_chain(path, ())
    for setting in overrides:
        _apply_setting(data, smap, setting)
    if use_gpu is not None:
        data["use_gpu"] = use_gpu
        smap.locations[("use_gpu",)] = ("--gpu" if use_gpu else "--cpu", None)
    data.pop("extends", None)
    config = validate_config(data, smap, display_path(path))
    config._source = display_path(path)
    config._locations = {".".join(str(k) for k in key): where for key, where in smap.locations.items() if key}
    return config


def validate_config(data: Any, smap: SourceMap | None = None, file: str | None = None) -> JobConfig:
    """Validate plain data (already merged) into a :class:`JobConfig`, with located error messages."""
    smap = smap or SourceMap()
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level must be a mapping of keys, got {type(data).__name__}", file=file, line=1
        )
    try:
        return JobConfig.model_validate(data)
    except ValidationError as exc:
        raise _located_error(exc, smap, file) from None


# -- the extends chain ------------------------------------------------------------------------------


def _load_chain(path: Path, stack: tuple[Path, ...]) -> tuple[dict[str, Any], SourceMap]:
    resolved = path.resolve()
    data, smap = load_yaml_with_lines(path)
    shown = display_path(path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level must be a mapping of keys, got {type(data).__name__}", file=shown, line=1
        )
    _resolve_paths(data, path.parent)
    parent = data.pop("extends", None)
    if parent is None:
        return data, smap
    bases = parent if isinstance(parent, list) else [parent]
    merged: dict[str, Any] = {}
    merged_map = SourceMap()
    for i, base in enumerate(bases):
        if not isinstance(base, str) or not base:
            line = smap.locate(("extends",))[1]
            raise ConfigError(
                "`extends` takes a file path or a list of paths", file=shown, line=line, key_path="extends"
            )
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        line = smap.locate(("extends", i) if isinstance(parent, list) else ("extends",))[1]
        if not base_path.is_file():
            raise ConfigError(
                f"base config {base!r} not found (looked in {display_path(base_path)})",
                file=shown,
                line=line,
                key_path="extends",
            )
        if base_path.resolve() in (*stack, resolved):
            cycle = " -> ".join(display_path(p) for p in (*stack, resolved, base_path.resolve()))
            raise ConfigError(
                f"`extends` cycle: {cycle}; remove one of the links",
                file=shown,
                line=line,
                key_path="extends",
            )
        base_data, base_map = _load_chain(base_path, (*stack, resolved))
        _deep_merge(merged, merged_map, base_data, base_map, ())
    _deep_merge(merged, merged_map, data, smap, ())
    return merged, merged_map


def _deep_merge(dst: dict, dst_map: SourceMap, src: Mapping, src_map: SourceMap, prefix: KeyPath) -> None:
    for key, value in src.items():
        here = (*prefix, key)
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            dst_map.locations[here] = src_map.locations.get(here, dst_map.locations.get(here))
            _deep_merge(dst[key], dst_map, value, src_map, here)
        else:
            dst[key] = copy.deepcopy(value)
            dst_map.drop_under(here)
            dst_map.update(SourceMap({k: v for k, v in src_map.locations.items() if k[: len(here)] == here}))


def _is_local_path(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not value.startswith(REMOTE_PREFIXES)


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make the file-relative paths of one config file absolute (code, env YAMLs, local inputs)."""

    def absolute(value: str) -> str:
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())

    if _is_local_path(data.get("code")):
        data["code"] = absolute(data["code"])
    env = data.get("environment")
    if isinstance(env, str) and _looks_like_env_file(env):
        data["environment"] = absolute(env)
    elif isinstance(env, dict):
        for flavour, ref in env.items():
            if isinstance(ref, str) and _looks_like_env_file(ref):
                env[flavour] = absolute(ref)
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        for spec in inputs.values():
            if not isinstance(spec, dict):
                continue
            if _is_local_path(spec.get("local_path")):
                spec["local_path"] = absolute(spec["local_path"])
            if spec.get("type", "uri_folder") not in (
                "string",
                "integer",
                "number",
                "boolean",
            ) and _is_local_path(spec.get("path")):
                spec["path"] = absolute(spec["path"])


def _looks_like_env_file(ref: str) -> bool:
    return _is_local_path(ref) and ref.endswith((".yaml", ".yml"))


# -- --set overrides --------------------------------------------------------------------------------


def _apply_setting(data: dict[str, Any], smap: SourceMap, setting: str) -> None:
    source = f"--set {setting}"
    match = _SETTING_RE.match(setting)
    if not match:
        raise ConfigError("expected KEY.PATH=VALUE, e.g. --set args.lr=0.01", file=source)
    dotted, raw = match.group(1), match.group(2)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"the value is not valid YAML ({problem}); quote it", file=source) from None
    keys = dotted.split(".")
    node = data
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
            smap.locations[tuple(keys[: depth + 1])] = (source, None)
        elif not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise ConfigError(
                f"{where} is a {type(child).__name__}, not a mapping; cannot set {dotted}",
                file=source,
                key_path=where,
            )
        node = child
    node[keys[-1]] = value
    here = tuple(keys)
    smap.drop_under(here)
    smap.locations[here] = (source, None)


# -- error messages ---------------------------------------------------------------------------------


def _located_error(exc: ValidationError, smap: SourceMap, file: str | None) -> ConfigError:
    errors = exc.errors(include_url=False)
    err = errors[0]
    loc = _strip_union_tags(tuple(err["loc"]))
    # One wrong value that fails every branch of a union is one problem, not N.
    errors = [e for e in errors if _strip_union_tags(tuple(e["loc"]))[: len(loc)] != loc] + [err]
    message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    marker = re.match(r"^@([\w.]+): (.*)$", message, re.S)
    if marker:
        loc = loc + tuple(marker.group(1).split("."))
        message = marker.group(2)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else (f"; allowed: {', '.join(allowed)}" if allowed else "")
        )
        message = f"unknown key {loc[-1]!r}{hint}"
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "literal_error":
        expected = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
        got = err.get("input")
        close = difflib.get_close_matches(str(got), expected, n=1, cutoff=0.6)
        message = f"{got!r} is not one of {', '.join(expected)}" + (
            f"; did you mean {close[0]!r}?" if close else ""
        )
    elif (
        "input" in err
        and loc[:1] != ("environment_variables",)
        and kind not in ("value_error", "assertion_error")
    ):
        message = f"{message} (got {_short(err['input'])})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    src_file, line = smap.locate(loc)
    return ConfigError(message, file=src_file or file, line=line, key_path=_dotted(loc) or None)


_TYPE_TAG = re.compile(r"^(str|int|float|bool|none|list|dict|tuple|[a-z-]+\[.*\])$")


def _strip_union_tags(loc: KeyPath) -> KeyPath:
    """Drop pydantic's union-branch names (``str``, ``list[...]``) from an error location."""
    return tuple(part for part in loc if not (isinstance(part, str) and _TYPE_TAG.match(part)))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def allowed_keys(loc: KeyPath) -> list[str]:
    """The keys the schema allows in the mapping at ``loc`` (for "did you mean")."""
    schema = JobConfig.model_json_schema()
    defs = schema.get("$defs", {})
    node: dict[str, Any] = schema
    for part in loc:
        node = _deref(node, defs)
        props = node.get("properties", {})
        if isinstance(part, str) and part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return []
    node = _deref(node, defs)
    return sorted(node.get("properties", {}))


def _deref(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while True:
        if "$ref" in node:
            node = defs[node["$ref"].split("/")[-1]]
        elif "anyOf" in node:
            objects = [n for n in node["anyOf"] if "$ref" in n or n.get("type") == "object"]
            if not objects:
                return node
            node = objects[0]
        else:
            return node

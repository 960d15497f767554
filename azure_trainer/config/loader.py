"""Load a job config: YAML -> ``extends`` chain -> ``--set`` overrides -> validated :class:`JobConfig`.

Relative paths are resolved against the folder of the file that wrote them, before merging, so a base
config in another folder keeps meaning what it says.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ApiUsageError, ConfigError
from ..secrets_guard import REDACTED, classify
from .model import JobConfig
from .yaml_source import KeyPath, SourceMap, _dotted, display_path, load_yaml_text, load_yaml_with_lines

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
    overrides: Mapping[str, Any] | Iterable[str] = (),
    *,
    use_gpu: bool | None = None,
) -> JobConfig:
    """Load, merge and validate a job config.

    ``overrides``: ``{"args.epochs": 3, "compute": "gpu-big"}`` (values as Python values), or
    ``["args.epochs=3"]`` strings (values typed as YAML, as with the CLI's ``--set``); ``use_gpu`` wins
    over the file and the overrides. Raises :class:`ConfigError` with the file, line and key path of the
    first problem, an override named as ``overrides['KEY.PATH']``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ApiUsageError(f"load_config() takes the path of a job YAML file, not {type(path).__name__}")
    if use_gpu is not None and not isinstance(use_gpu, bool):
        raise ApiUsageError(f"load_config(use_gpu=...) takes True, False or None, not {use_gpu!r}")
    try:
        return load_config_from_cli(path, _settings(overrides), use_gpu=use_gpu)
    except ConfigError as exc:
        raise _in_api_terms(exc) from None


def _settings(overrides: Mapping[str, Any] | Iterable[str]) -> list[str]:
    """API overrides as ``KEY.PATH=VALUE`` settings; a mapping's values are written as JSON (which is
    YAML), so 3 stays an int, "3" a string and None null."""
    if isinstance(overrides, Mapping):
        settings = []
        for key, value in overrides.items():
            if not isinstance(key, str):
                raise ApiUsageError(f"load_config(overrides=...): keys are 'KEY.PATH' strings, not {key!r}")
            try:
                settings.append(f"{key}={json.dumps(value)}")
            except (TypeError, ValueError):
                raise ApiUsageError(
                    f"load_config(overrides={{{key!r}: ...}}): the value must be a str, number, bool, None, "
                    f"list or dict, not {type(value).__name__}"
                ) from None
        return settings
    if isinstance(overrides, (str, bytes)):
        raise ApiUsageError(
            "load_config(overrides=...) takes a dict {'KEY.PATH': value} or a list of 'KEY.PATH=VALUE' "
            "strings, not one string"
        )
    settings = list(overrides)
    if not all(isinstance(setting, str) for setting in settings):
        raise ApiUsageError(
            "load_config(overrides=...) takes a dict {'KEY.PATH': value} or a list of 'KEY.PATH=VALUE' strings"
        )
    return settings


_SET_LABEL = re.compile(r"^--set ([A-Za-z_][\w-]*(?:\.[\w-]+)*)")


def _in_api_terms(exc: ConfigError) -> ConfigError:
    """The CLI's wording of an override error (``--set KEY=V``, ``--gpu``) in the API's terms
    (``overrides['KEY']``, ``use_gpu=True``)."""
    file = exc.file
    if file:
        match = _SET_LABEL.match(file)
        if match:
            file = f"overrides[{match.group(1)!r}]" + (
                " (value hidden)" if "hidden" in file or REDACTED in file else ""
            )
        elif file.startswith("--set"):
            file = "overrides"
        file = {"--gpu": "use_gpu=True", "--cpu": "use_gpu=False"}.get(file, file)
    detail = exc.detail.replace("e.g. --set args.lr=0.01", "e.g. overrides={'args.lr': 0.01}")
    detail = re.sub(r"--set\b", "overrides", detail)
    return ConfigError(detail, file=file, line=exc.line, key_path=exc.key_path)


def load_config_from_cli(path: str | Path, overrides: list[str], *, use_gpu: bool | None = None) -> JobConfig:
    """:func:`load_config` as the CLI calls it: ``--set`` strings, errors worded with the CLI's flags."""
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
        if not isinstance(base, str) or not base.strip():
            line = smap.locate(("extends",))[1]
            raise ConfigError(
                "`extends` takes a file path or a list of paths", file=shown, line=line, key_path="extends"
            )
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        line = smap.locate(("extends", i) if isinstance(parent, list) else ("extends",))[1]
        if not base_path.is_file():
            problem = "is a folder; name a YAML file in it" if base_path.is_dir() else "not found"
            raise ConfigError(
                f"base config {base!r} {problem} (looked in {display_path(base_path)})",
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
        _deep_merge(merged, merged_map, base_data, base_map)
    _deep_merge(merged, merged_map, data, smap)
    return merged, merged_map


def _deep_merge(dst: dict, dst_map: SourceMap, src: Mapping, src_map: SourceMap) -> None:
    """Merge ``src`` into ``dst`` (mappings merge, anything else replaces), and their source maps."""
    replaced: set[KeyPath] = set()
    _merge_data(dst, src, (), replaced)
    # One pass over each map (not one per key): a file with many keys must not make this quadratic.
    stale = [k for k in dst_map.locations if any(k[:i] in replaced for i in range(1, len(k) + 1))]
    for key in stale:
        del dst_map.locations[key]
    dst_map.locations.update((k, v) for k, v in src_map.locations.items() if k)


def _merge_data(dst: dict, src: Mapping, prefix: KeyPath, replaced: set[KeyPath]) -> None:
    for key, value in src.items():
        here = (*prefix, key)
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _merge_data(dst[key], value, here, replaced)
        else:
            dst[key] = copy.deepcopy(value)
            replaced.add(here)


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
    match = _SETTING_RE.match(setting)
    if not match:
        name = re.split(r"[=:\s]", setting.strip(), maxsplit=1)[0]
        hidden = _is_secret_setting(name.split("."), setting)
        source = f"--set {name} (value hidden)" if hidden else f"--set {setting}"
        raise ConfigError("expected KEY.PATH=VALUE, e.g. --set args.lr=0.01", file=source)
    dotted, raw = match.group(1), match.group(2)
    keys = dotted.split(".")
    hidden = _is_secret_setting(keys, raw)
    if hidden:
        source = f"--set {dotted}={REDACTED}"
    elif len(setting) > 100 or "\n" in setting:  # an error message stays one readable line
        source = f"--set {dotted}={raw[:60].splitlines()[0] if raw.strip() else ''}..."
    else:
        source = f"--set {setting}"
    if keys[0] == "extends":
        raise ConfigError(
            "`extends` is read from the config file only; write it there (or merge the files yourself)",
            file=source,
            key_path="extends",
        )
    value: Any = ""
    if raw.strip():
        try:
            value, _ = load_yaml_text(raw, source, empty_as_mapping=False)
        except ConfigError as exc:
            if exc.detail.startswith("invalid YAML"):
                # PyYAML's problem may quote the value: leave it out for a secret one
                problem = "" if hidden else f" ({exc.detail.removeprefix('invalid YAML: ')})"
                detail = f"the value is not valid YAML{problem}; quote it"
            else:
                detail = "the value cannot be read as YAML" if hidden else exc.detail
            raise ConfigError(detail, file=source, key_path=dotted) from None
    node = data
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
            smap.locations[tuple(keys[: depth + 1])] = (source, None)
        elif not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise ConfigError(
                f"{where} is {_a_type(child)}, not a mapping; cannot set {dotted}",
                file=source,
                key_path=where,
            )
        node = child
    node[keys[-1]] = value
    here = tuple(keys)
    smap.drop_under(here)
    smap.locations[here] = (source, None)
    if hidden:
        smap.hidden.add(here)


def _is_secret_setting(keys: list[str], raw: str) -> bool:
    """Whether a ``--set`` must not be echoed: an environment variable, or a secret-looking name or value."""
    return keys[0] == "environment_variables" or any(classify(key, raw) is not None for key in keys)


def _a_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    return names.get(type(value), f"a {type(value).__name__}")


# -- error messages ---------------------------------------------------------------------------------


def _located_error(exc: ValidationError, smap: SourceMap, file: str | None) -> ConfigError:
    errors = exc.errors(include_url=False)
    err = errors[0]
    loc = _strip_union_tags(tuple(err["loc"]))
    # One wrong value that fails every branch of a union is one problem, not N.
    errors = [e for e in errors if _strip_union_tags(tuple(e["loc"]))[: len(loc)] != loc] + [err]
    message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    marker = re.match(r"^@([\w.-]+): (.*)$", message, re.S)
    if marker:
        loc = loc + tuple(marker.group(1).split("."))
        message = marker.group(2)
    kind = err["type"]
    # a secret --set value may be the input itself, or inside it when the error is on a parent key
    hidden = loc[:1] == ("environment_variables",) or any(
        loc[: len(h)] == h or h[: len(loc)] == loc for h in smap.hidden
    )
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
        message = f"{'the value' if hidden else repr(got)} is not one of {', '.join(expected)}" + (
            f"; did you mean {close[0]!r}?" if close else ""
        )
    elif "input" in err and not hidden and kind not in ("value_error", "assertion_error"):
        message = f"{message} (got {_short(err['input'])})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    src_file, line = smap.locate(loc)
    return ConfigError(message, file=src_file or file, line=line, key_path=_dotted(loc) or None)


_TYPE_TAG = re.compile(r"^(str|int|float|bool|none|list|dict|tuple|[a-z-]+\[.*\])$")


def _strip_union_tags(loc: KeyPath) -> KeyPath:
    """Drop pydantic's union-branch names (``str``, ``list[...]``) and its ``[key]`` marker (an error in a
    mapping's key rather than its value) from an error location."""
    return tuple(
        part for part in loc if not (isinstance(part, str) and (_TYPE_TAG.match(part) or part == "[key]"))
    )


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
        elif len(node.get("patternProperties", {})) == 1:  # a map whose keys have a pattern (io names)
            node = next(iter(node["patternProperties"].values()))
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

"""Load a job config: YAML -> ``extends`` chain -> ``--set`` overrides -> validated :class:`JobConfig`.

Relative paths are resolved against the folder of the file that wrote them, before merging, so a base
config in another folder keeps meaning what it says (``load_job`` resolves them against the job file's
folder; with one file the two agree). Every problem found while validating is reported, each with its
file, line and key path (:meth:`ConfigError.several`); an old azure-trainer key names the Azure ML key
that replaced it.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ApiUsageError, ConfigError
from ..secrets_guard import REDACTED, classify
from .environment import EnvironmentConfig
from .fields import did_you_mean
from .model import RENAMED_KEYS, SWEEP_ONLY, TRIAL_KEYS, JobConfig, job_model
from .yaml_source import KeyPath, SourceMap, display_path, dotted, load_yaml_text, load_yaml_with_lines

REMOTE_PREFIXES = (  # a path that starts with none of these is a local path
    "azureml:",
    "http://",
    "https://",
    "wasbs://",
    "wasb://",
    "abfss://",
    "abfs://",
    "adl://",
    "gs://",
    "s3://",
    "git+",
)
MAX_VALUE_LENGTH = 131_072
"""Longest string value: Linux's limit for one argument or environment string (MAX_ARG_STRLEN)."""
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
    over the file and the overrides. Raises :class:`ConfigError` naming the file, line and key path of
    each problem, an override named as ``overrides['KEY.PATH']``.
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
    if not isinstance(overrides, Iterable):  # overrides=5: a TypeError from list() would name no parameter
        raise ApiUsageError(
            "load_config(overrides=...) takes a dict {'KEY.PATH': value} or a list of 'KEY.PATH=VALUE' "
            f"strings, not {type(overrides).__name__}"
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
    (``overrides['KEY']``, ``use_gpu=True``); each problem of a several-problem error alike."""
    if len(exc.problems) > 1:
        return ConfigError.several([_in_api_terms(p) for p in exc.problems], file=exc.file)
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
    """Validate plain data (already merged) into a command or sweep :class:`JobConfig`, with located errors."""
    smap = smap or SourceMap()
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level must be a mapping of keys, got {type(data).__name__}", file=file, line=1
        )
    kind = data.get("type", "command")
    cls = job_model(kind.lower()) if isinstance(kind, str) else None
    if cls is None:
        src, line = smap.locate(("type",))
        raise ConfigError(
            f"azure-trainer runs Azure ML command and sweep jobs: type is command (the default) or sweep, "
            f"not {str(kind)[:60]!r}",
            file=src or file,
            line=line,
            key_path="type",
        )
    return _validated(cls, data, smap, file)


def load_environment_file(path: Path) -> EnvironmentConfig:
    """The environment YAML a ``file:`` reference names, validated, its relative paths made absolute
    (against its own folder, as azure-ai-ml resolves them); located ConfigErrors otherwise."""
    data, smap = load_yaml_with_lines(path, "an environment file")
    shown = display_path(path)
    if not isinstance(data, dict):
        raise ConfigError(
            "an environment file is a mapping of keys (image, conda_file, ...)", file=shown, line=1
        )
    _resolve_environment(data, path.parent)
    return _validated(EnvironmentConfig, data, smap, shown)


def _validated(model: type[BaseModel], data: dict[str, Any], smap: SourceMap, file: str | None) -> Any:
    """``model`` validated from ``data``, or one ConfigError listing every problem, each located: values
    no job can use (a NUL byte, a string longer than an argument may be), then pydantic's errors."""
    problems = _bad_strings(data, (), smap, file)
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        problems += _located_errors(exc, model, smap, file)
    else:
        if not problems:
            return validated
    raise ConfigError.several(problems, file=file)


# -- the extends chain ------------------------------------------------------------------------------


def _load_chain(path: Path, stack: tuple[Path, ...]) -> tuple[dict[str, Any], SourceMap]:
    data, smap = load_yaml_with_lines(path)  # first: it refuses a path no file system accepts
    resolved = path.resolve()
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
        line = smap.locate(("extends", i) if isinstance(parent, list) else ("extends",))[1]
        if not isinstance(base, str) or not base.strip() or "\0" in base or len(base) > 4096:
            raise ConfigError(
                "`extends` takes a file path or a list of paths", file=shown, line=line, key_path="extends"
            )
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        if base_path.is_dir() or not base_path.exists():  # anything else: reading it says what is wrong
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


# -- relative paths ---------------------------------------------------------------------------------


def is_local_path(value: Any) -> bool:
    """Whether a code, input or build path names this machine's file system (not Azure or a URL)."""
    return isinstance(value, str) and bool(value.strip()) and not value.startswith(REMOTE_PREFIXES)


def _absolute(value: str, base: Path) -> str:
    if "\0" in value or len(value) > 4096:
        return value  # the model refuses it, with its key path
    try:
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())
    except (OSError, RuntimeError):  # a path the file system cannot resolve: the model says why
        return value


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make the file-relative paths of one config file absolute: code, environment files and build
    contexts, local inputs (in a command job and a sweep's trial)."""
    for holder in (data, data.get("trial")):
        if not isinstance(holder, dict):
            continue
        if is_local_path(holder.get("code")):
            holder["code"] = _absolute(holder["code"], base)
        env = holder.get("environment")
        if isinstance(env, dict) and env and set(env) <= {"gpu", "cpu"}:
            for flavour, side in env.items():
                env[flavour] = _resolve_environment(side, base)
        elif env is not None:
            holder["environment"] = _resolve_environment(env, base)
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        for spec in inputs.values():
            if not isinstance(spec, dict) or "value" in spec:
                continue
            for key in ("path", "local_path"):
                value = spec.get(key)
                if isinstance(value, str) and value.startswith("file:"):
                    value = value[len("file:") :]
                if is_local_path(value):
                    spec[key] = _absolute(value, base)


def _resolve_environment(env: Any, base: Path) -> Any:
    """``file:PATH`` -> ``file:/ABSOLUTE``; an inline definition's build context and conda file likewise."""
    if isinstance(env, str) and env.startswith("file:") and env[len("file:") :].strip():
        return "file:" + _absolute(env[len("file:") :], base)
    if isinstance(env, dict):
        build = env.get("build")
        if isinstance(build, dict) and is_local_path(build.get("path")):
            build["path"] = _absolute(build["path"], base)
        conda = env.get("conda_file")
        if isinstance(conda, str) and conda.startswith("file:"):
            conda = conda[len("file:") :]
        if is_local_path(conda):
            env["conda_file"] = _absolute(conda, base)
    return env


# -- --set overrides --------------------------------------------------------------------------------


def _apply_setting(data: dict[str, Any], smap: SourceMap, setting: str) -> None:
    match = _SETTING_RE.match(setting)
    if not match:
        name = re.split(r"[=:\s]", setting.strip(), maxsplit=1)[0]
        hidden = _is_secret_setting(name.split("."), setting)
        source = f"--set {name[:60]} (value hidden)" if hidden else f"--set {setting[:100]}"
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
    value = _resolved_setting(keys, value)
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


def _resolved_setting(keys: list[str], value: Any) -> Any:
    """A ``--set`` value with the paths in it made absolute against the current folder (a path given on
    the command line is relative to where the command runs)."""
    patch: dict[str, Any] = {}
    node = patch
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    _resolve_paths(patch, Path.cwd())
    node = patch
    for key in keys[:-1]:
        node = node[key]
    return node[keys[-1]]


def _is_secret_setting(keys: list[str], raw: str) -> bool:
    """Whether a ``--set`` must not be echoed: an environment variable, or a secret-looking name or value."""
    return "environment_variables" in keys or any(classify(key, raw) is not None for key in keys)


def _a_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    return names.get(type(value), f"a {type(value).__name__}")


# -- error messages ---------------------------------------------------------------------------------


def _bad_strings(data: Any, path: KeyPath, smap: SourceMap, file: str | None) -> list[ConfigError]:
    """Values no job can use, wherever they are: a NUL byte (no path, argument or variable can hold one)
    or a string longer than an argument may be (MAX_ARG_STRLEN). Keys count too."""
    problems: list[ConfigError] = []
    stack: list[tuple[KeyPath, Any]] = [(path, data)]
    while stack:
        here, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and ("\0" in key or len(key) > 1000):
                    problems.append(_string_problem(here, "a key", key, smap, file))
                    continue
                stack.append(((*here, key), item))
        elif isinstance(value, list):
            stack.extend(((*here, i), item) for i, item in enumerate(value))
        elif isinstance(value, str) and ("\0" in value or len(value) > MAX_VALUE_LENGTH):
            problems.append(_string_problem(here, "the value", value, smap, file))
    return sorted(problems, key=lambda e: (e.file or "", e.line or 0, e.key_path or ""))


def _string_problem(here: KeyPath, what: str, text: str, smap: SourceMap, file: str | None) -> ConfigError:
    why = (
        f"{what} holds a NUL byte, which no path, argument or environment variable can hold; remove it"
        if "\0" in text
        else f"{what} is {len(text):,} characters long; the most one argument or variable can be is "
        f"{MAX_VALUE_LENGTH:,} (is it the right value?)"
    )
    src, line = smap.locate(here)
    return ConfigError(why, file=src or file, line=line, key_path=dotted(here) or None)


def _located_errors(
    exc: ValidationError, cls: type[BaseModel], smap: SourceMap, file: str | None
) -> list[ConfigError]:
    """One located ConfigError per problem pydantic found (a value that fails every branch of a union
    counts once)."""
    seen: set[KeyPath] = set()
    problems: list[ConfigError] = []
    for err in exc.errors(include_url=False):
        raw_loc = tuple(err["loc"])
        loc = _strip_union_tags(raw_loc)
        message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        marker = re.match(r"^@([\w.\[\]-]+): (.*)$", message, re.S)
        if marker:
            loc = loc + tuple(marker.group(1).split("."))
            message = marker.group(2)
        if any(loc[: len(s)] == s for s in seen) and not marker:
            continue
        seen.add(loc)
        problems.append(_located_error(err, raw_loc, loc, message, cls, smap, file))
    return sorted(problems, key=lambda e: (e.file or "", e.line or 0, e.key_path or ""))


def _located_error(
    err: dict[str, Any],
    raw_loc: KeyPath,
    loc: KeyPath,
    message: str,
    cls: type[BaseModel],
    smap: SourceMap,
    file: str | None,
) -> ConfigError:
    kind = err["type"]
    # a secret --set value may be the input itself, or inside it when the error is on a parent key
    hidden = "environment_variables" in loc or any(
        loc[: len(h)] == h or h[: len(loc)] == loc for h in smap.hidden
    )
    if kind == "extra_forbidden":
        message = _unknown_key_message(cls, raw_loc, loc)
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "literal_error":
        expected = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
        got = err.get("input")
        message = (
            f"{'the value' if hidden else repr(got)} is not one of {', '.join(expected)}"
            + did_you_mean(str(got), expected)
        )
    elif kind == "union_tag_invalid":
        message = "not a valid value here"
    elif "input" in err and not hidden and kind not in ("value_error", "assertion_error"):
        message = f"{message} (got {_short(err['input'])})"
    src_file, line = smap.locate(loc)
    return ConfigError(message, file=src_file or file, line=line, key_path=dotted(loc) or None)


def _unknown_key_message(cls: type[BaseModel], raw_loc: KeyPath, loc: KeyPath) -> str:
    key = str(loc[-1])
    renamed = _renamed_hint(cls, loc)
    if renamed:
        return f"unknown key {key!r}: {renamed}"
    allowed = allowed_keys(cls, raw_loc[:-1])
    old = {p[-1]: h for p, h in RENAMED_KEYS.items() if len(p) == len(loc) and p[-1] not in allowed}
    close = difflib.get_close_matches(key, [*allowed, *old], n=1, cutoff=0.6)
    if close and close[0] in old and _renamed_hint(cls, (*loc[:-1], close[0])):
        return f"unknown key {key!r}; did you mean {close[0]!r}? {_renamed_hint(cls, (*loc[:-1], close[0]))}"
    hint = (
        f"; did you mean {close[0]!r}?" if close else (f"; allowed: {', '.join(allowed)}" if allowed else "")
    )
    return f"unknown key {key!r}{hint}"


def _renamed_hint(cls: type[BaseModel], loc: KeyPath) -> str | None:
    """What to write instead of a key azure-trainer used to spell its own way, or one in the wrong job type."""
    parts = tuple(str(p) for p in loc)
    for pattern, hint in RENAMED_KEYS.items():
        if len(pattern) == len(parts) and all(p in ("*", q) for p, q in zip(pattern, parts, strict=True)):
            return hint
    sweep = "trial" in cls.model_fields
    if len(parts) == 1 and sweep and parts[0] in TRIAL_KEYS:
        return f"in a sweep job, `{parts[0]}` goes under `trial:`"
    if len(parts) == 1 and not sweep and "command" in cls.model_fields and parts[0] in SWEEP_ONLY:
        return f"`{parts[0]}` belongs to a sweep job: add `type: sweep` (and move the command under `trial:`)"
    return None


_TYPE_TAG = re.compile(r"^(str|int|float|bool|none|list|dict|tuple|[a-z-]+\[.*\])$")
_UNION_TAGS = ("name", "per_device", "reference", "inline", "single", "object", "function-after[", "[key]")


def _strip_union_tags(loc: KeyPath) -> KeyPath:
    """Drop pydantic's union-branch names (``str``, ``list[...]``, our discriminator tags) and its
    ``[key]`` marker (an error in a mapping's key rather than its value) from an error location."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if isinstance(part, str) and (_TYPE_TAG.match(part) or part == "[key]"):
            continue
        if isinstance(part, str) and part in _UNION_TAGS and i > 0 and _is_tagged_field(loc[i - 1]):
            continue
        out.append(part)
    return tuple(out)


def _is_tagged_field(part: Any) -> bool:
    return part in ("compute", "instance_type", "environment", "gpu", "cpu", "sampling_algorithm", "single")


def allowed_keys(cls: type[BaseModel], loc: KeyPath) -> list[str]:
    """The keys the model allows in the mapping at ``loc`` (a raw pydantic location, tags included)."""
    model = _model_at(cls, loc)
    if model is None:
        return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _model_at(cls: Any, loc: KeyPath) -> type[BaseModel] | None:
    node: Any = cls
    for part in loc:
        node, by_tag = _unwrap(node, part)
        if by_tag:
            continue
        if isinstance(node, type) and issubclass(node, BaseModel):
            fields = {(f.alias or name): f for name, f in node.model_fields.items()}
            field = fields.get(str(part))
            if field is None:
                return None
            node = field.annotation
        elif typing.get_origin(node) is dict:
            node = typing.get_args(node)[1]
        elif typing.get_origin(node) is list:
            node = typing.get_args(node)[0]
        else:
            return None
    node, _ = _unwrap(node, None)
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _unwrap(node: Any, part: Any) -> tuple[Any, bool]:
    """Strip Optional, Annotated and unions: to the member tagged ``part`` (then True: the location part
    was the tag), else to the one member that is a model or a container."""
    while True:
        origin = typing.get_origin(node)
        if origin is typing.Annotated:
            node = typing.get_args(node)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [m for m in typing.get_args(node) if m is not type(None)]
            tagged = [m for m in members if part is not None and _tag_of(m) == part]
            if tagged:
                return typing.get_args(tagged[0])[0], True
            models = [m for m in members if _is_container(_unwrap(m, None)[0])]
            if len(models) == 1:
                node = models[0]
                continue
            if len(members) == 1:
                node = members[0]
                continue
        return node, False


def _tag_of(member: Any) -> str | None:
    if typing.get_origin(member) is typing.Annotated:
        for meta in typing.get_args(member)[1:]:
            if type(meta).__name__ == "Tag":
                return meta.tag
    return None


def _is_container(node: Any) -> bool:
    return (isinstance(node, type) and issubclass(node, BaseModel)) or typing.get_origin(node) in (dict, list)


def _short(value: Any) -> str:
    from ..secrets_guard import redact_value

    text = redact_value(value)  # before shortening: no part of a secret is ever shown
    return text if len(text) <= 60 else text[:57] + "..."

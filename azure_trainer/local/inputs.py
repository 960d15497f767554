"""The inputs of a local run: ``--input NAME=PATH`` parsed, each input's local value resolved and checked.

``${{inputs.X}}`` -> the input's ``--input`` path, its ``local_path``, or its ``path`` when that is
local (literal inputs: their value; an optional input, undeclared and used inside ``$[[...]]``: its
``--input`` value, else its block is dropped). An input the command uses that has no local data is an error
(naming the config line); one it does not use is a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config.loader import REMOTE_PREFIXES
from ..config.model import InputConfig
from ..errors import LocalRunError
from ..planning.command_line import placeholders
from ..planning.spec import JobSpec
from ..secrets_guard import redact_text

__all__ = ["parse_input_args", "resolve_inputs"]


def parse_input_args(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["data=./d", ...]`` (``--input NAME=PATH``) -> ``{"data": "./d"}``; LocalRunError if malformed."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        name = name.strip()
        if not sep or not name or not path:
            raise LocalRunError(f"--input {item!r}: expected NAME=PATH, e.g. --input data=./data")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise LocalRunError(f"--input {item!r}: {name!r} is not an input name (letters, digits, _ . -)")
        if name in result:
            raise LocalRunError(f"--input {name}=... is given twice; give each input once")
        result[name] = path
    return result


def _literal(value: Any) -> str:
    return str(value)  # as the Azure ML SDK renders literal inputs (True/False for booleans)


def _check_path(spec: JobSpec, name: str, item: InputConfig, raw: str, source: str, key: str | None) -> str:
    """``raw`` (as given) resolved to a local path that exists and fits the input's type. Messages show
    the path with any credential in it hidden (redact_text)."""
    where = spec.where(key) if key else ""
    how = f"give it with --input {name}=PATH, or set `local_path:` under inputs.{name} in the config"
    shown = redact_text(raw, spec)
    if raw.startswith(REMOTE_PREFIXES):
        raise LocalRunError(
            f"input {name!r}: {source} {shown} is not on this machine{where}; run-local reads local files: "
            f"download it first and {how}"
        )
    try:
        path = Path(raw).expanduser().resolve()
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, RuntimeError, ValueError):
        raise LocalRunError(f"input {name!r}: {source} {shown} is not a usable path{where}; {how}") from None
    if shown != raw:  # a credential in a local path: show what was given, hidden, not its resolved form
        path_text = shown
    else:
        path_text = str(path)
    if not exists:
        raise LocalRunError(f"input {name!r}: {source} {path_text} does not exist{where}; {how}")
    if item.type == "uri_file" and is_dir:
        raise LocalRunError(
            f"input {name!r} is a uri_file but {source} {path_text} is a folder{where}; give a file"
        )
    if item.type in ("uri_folder", "mltable") and not is_dir:
        raise LocalRunError(
            f"input {name!r} is a {item.type} but {source} {path_text} is not a folder{where}; "
            "give a folder (or declare the input `type: uri_file`)"
        )
    return str(path)


def resolve_inputs(
    spec: JobSpec, given: Mapping[str, str], warnings: list[str]
) -> dict[tuple[str, str], str | None]:
    """The local value of each input: ``{("inputs", name): value or None}``."""
    known = set(spec.inputs) | set(spec.optional_inputs)
    unknown = sorted(set(given) - known)
    if unknown:
        have = f"its inputs: {', '.join(sorted(known))}" if known else "it declares no `inputs:`"
        raise LocalRunError(f"--input {unknown[0]}=...: the job has no input named {unknown[0]!r} ({have})")
    used = {name for kind, name in placeholders(spec.command) if kind == "inputs"}
    values: dict[tuple[str, str], str | None] = {}
    for name in spec.optional_inputs:  # undeclared, used inside $[[...]]: given, or its block is dropped
        values[("inputs", name)] = given.get(name)
    for name, item in spec.inputs.items():
        key = ("inputs", name)
        if name in given:
            raw = given[name]
            if item.is_literal:
                values[key] = raw
            else:
                values[key] = _check_path(spec, name, item, raw, "the --input path", None)
        elif item.is_literal:
            values[key] = _literal(item.value)
        elif item.local_path:
            values[key] = _check_path(
                spec, name, item, str(item.local_path), "local_path", f"inputs.{name}.local_path"
            )
        elif item.path and not item.path.startswith(REMOTE_PREFIXES):
            values[key] = _check_path(spec, name, item, str(item.path), "path", f"inputs.{name}.path")
        elif name in used:
            raise LocalRunError(
                f"input {name!r} has no local data: its path {redact_text(item.path, spec)} is on Azure ML"
                f"{spec.where(f'inputs.{name}')}; give it with --input {name}=PATH, "
                f"or add `local_path: PATH` under inputs.{name} in the config"
            )
        else:
            values[key] = None
            warnings.append(
                f"input {name!r} has no local data (path {redact_text(item.path or '', spec)}); the command "
                "does not use it"
            )
    return values

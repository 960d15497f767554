"""The options a training script declares, read from its source: so ``-p X`` is judged as ``--password X``.

A short option says nothing about what it holds; the script's own ``add_argument("-p", "--password")``
does. This module reads the entry script's syntax tree (never runs it) for argparse's ``add_argument``
and click's ``option`` calls, and maps every option string to the names it stands for (its long forms
and ``dest``). Long options may be abbreviated on the command line (argparse's ``allow_abbrev``):
:meth:`ScriptOptions.names` resolves a unique prefix as argparse does.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

_MAX_SOURCE_BYTES = 2_000_000
"""A bigger "script" is not a script: it is not read."""
_CALLS = frozenset({"add_argument", "option", "argument"})
_cache: dict[tuple[str, int, int], ScriptOptions] = {}


@dataclass(frozen=True)
class ScriptOptions:
    """Option string (``-p``, ``--password``) -> every name of that option (``password``, ``pw``...)."""

    options: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def names(self, option: str) -> tuple[str, ...]:
        """The names ``option`` (as written, dashes included) stands for; () when unknown. A long option
        may be a unique prefix of a declared one, as argparse accepts it."""
        if option in self.options:
            return self.options[option]
        if option.startswith("--") and len(option) > 2:
            matches = [o for o in self.options if o.startswith(option)]
            if len(matches) == 1:
                return self.options[matches[0]]
        return ()


def read_script_options(path: Path) -> ScriptOptions:
    """The options declared in the Python file ``path`` (empty when it cannot be read or parsed)."""
    try:
        stat = path.stat()
        if not path.is_file() or stat.st_size > _MAX_SOURCE_BYTES:
            return ScriptOptions()
        key = (os.fspath(path), stat.st_mtime_ns, stat.st_size)
        if key in _cache:
            return _cache[key]
        source = path.read_bytes()
        if not _declares_secret_option(source):
            _cache[key] = ScriptOptions()  # nothing it declares could make an argument a secret
            return _cache[key]
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return ScriptOptions()
    options: dict[str, tuple[str, ...]] = {}
    for node in ast.walk(tree):
        flags, dest = _declared(node)
        if not flags:
            continue
        names = tuple(dict.fromkeys([*(f.lstrip("-") for f in flags), *([dest] if dest else [])]))
        for flag in flags:
            options[flag] = names
    result = ScriptOptions(options)
    _cache[key] = result
    return result


_OPTION_LITERAL = re.compile(
    rb"""["'](-{1,2}[A-Za-z][A-Za-z0-9_-]*)["']|dest\s*=\s*["']([A-Za-z_][A-Za-z0-9_]*)["']"""
)


def _declares_secret_option(source: bytes) -> bool:
    """Whether any option string (or ``dest``) in ``source`` looks like a secret: only then is the
    syntax tree worth reading (parsing a long script costs more than the rest of ``validate``)."""
    from ._classify import secret_name_part

    for match in _OPTION_LITERAL.finditer(source):
        name = (match.group(1) or match.group(2)).decode("ascii").lstrip("-")
        if secret_name_part(name):
            return True
    return False


def _declared(node: ast.AST) -> tuple[list[str], str | None]:
    """``(["-p", "--password"], "password")`` for an ``add_argument("-p", "--password")`` call."""
    if not isinstance(node, ast.Call):
        return [], None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in _CALLS:
        return [], None
    flags = [
        a.value
        for a in node.args
        if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("-")
    ]
    dest = next(
        (
            k.value.value
            for k in node.keywords
            if k.arg == "dest" and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)
        ),
        None,
    )
    return flags, dest

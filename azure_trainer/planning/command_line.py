"""Render a job's command line, and fill its ``${{inputs.X}}`` / ``${{outputs.X}}`` placeholders locally.

Azure ML substitutes placeholders textually and runs the command with a shell. Locally we must not
paste a path with spaces or quotes into shell text, so each placeholder becomes a reference to an
environment variable holding the value, written to suit the quoting context it sits in.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

PLACEHOLDER_RE = re.compile(r"\$\{\{\s*(inputs|outputs|search_space)\.([A-Za-z0-9_.-]+)\s*\}\}")
_OPTIONAL_RE = re.compile(r"\$\[\[(.*?)\]\]", re.S)
_SDK_OPTIONAL_INPUT_RE = re.compile(r"\[[\w\.\s-]*\$\{\{inputs\.([\w\.-]+)\}\}\]")
"""How azure-ai-ml recognises an optional input in a command (``_validate_inputs_for``): one that it
lets the job leave undeclared."""


def render_args(args: Mapping[str, Any]) -> list[str]:
    """``{"lr": 0.1, "amp": True, "layers": [1, 2]}`` -> ``["--lr", "0.1", "--amp", "--layers", "1", "2"]``.

    ``true`` is a bare flag; ``false`` and ``null`` leave the option out; a list gives the option once
    followed by each value (argparse ``nargs="+"``).
    """
    tokens: list[str] = []
    for key, value in args.items():
        flag = f"--{key}"
        if value is None or value is False:
            continue
        if value is True:
            tokens.append(flag)
        elif isinstance(value, list):
            if value:
                tokens.append(flag)
                tokens.extend(_scalar(v) for v in value)
        else:
            tokens.extend([flag, _scalar(value)])
    return tokens


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def quote_token(token: str) -> str:
    """Shell-quote one token, leaving a bare ``${{...}}`` placeholder readable (Azure ML paths need no quoting)."""
    if PLACEHOLDER_RE.fullmatch(token):
        return token
    return shlex.quote(token)


def script_command(script: str, args: Mapping[str, Any]) -> str:
    """The command line for ``script`` + ``args``: ``python SCRIPT --key value ...``, every token quoted."""
    return " ".join(quote_token(t) for t in ["python", script, *render_args(args)])


def placeholders(command: str) -> list[tuple[str, str]]:
    """The ``(kind, name)`` pairs a command refers to, in order, e.g. ``[("inputs", "data")]``."""
    return [(m.group(1), m.group(2)) for m in PLACEHOLDER_RE.finditer(command)]


def optional_inputs(command: str) -> set[str]:
    """Inputs the command refers to in a way azure-ai-ml accepts for an input the job does not declare:
    alone at the end of a ``$[[...]]`` block, e.g. ``$[[--extra ${{inputs.extra}}]]``."""
    return set(_SDK_OPTIONAL_INPUT_RE.findall(command))


def placeholder_problem(command: str) -> str | None:
    """What is wrong with ``command``'s placeholders, or None when each is well formed.

    Azure ML fills in ``${{inputs.NAME}}``, ``${{outputs.NAME}}`` (and ``${{search_space.NAME}}`` in
    a sweep trial) and drops ``$[[...]]`` blocks whose inputs are not given; anything else that starts
    with ``${{`` or ``$[[`` would reach the shell as it is written.
    """
    for match in re.finditer(r"\$\{\{", command):
        if PLACEHOLDER_RE.match(command, match.start()):
            continue
        end = command.find("}}", match.end())
        if end < 0 or "${{" in command[match.end() : end]:
            return (
                f"unclosed placeholder {_excerpt(command[match.start() :])}: "
                "close it with }}, e.g. ${{inputs.NAME}}"
            )
        return (
            f"{_excerpt(command[match.start() : end + 2])} is not a placeholder Azure ML fills in; "
            "use ${{inputs.NAME}} or ${{outputs.NAME}} (names: letters, digits, '_')"
        )
    for match in re.finditer(r"\$\[\[", command):
        if "]]" not in command[match.end() :]:
            return f"unclosed optional block {_excerpt(command[match.start() :])}: close it with ]]"
    return None


def _excerpt(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def env_var_for(kind: str, name: str) -> str:
    """The local environment variable that carries ``${{kind.name}}``'s value."""
    # Injective: "_" is doubled and every other non-word character becomes _XX (its hex code), so
    # inputs `a-b` and `a_b` never share a variable.
    escaped = "".join(
        c if c.isalnum() and c.isascii() else "__" if c == "_" else f"_{ord(c):02X}" for c in name
    )
    return f"AZT_{kind.upper()}_{escaped}"


def localize_command(
    command: str, values: Mapping[tuple[str, str], str | None]
) -> tuple[str, dict[str, str]]:
    """Rewrite ``command`` for a local shell: placeholders become ``$AZT_...`` references.

    ``values`` maps ``(kind, name)`` to the local value, or None for an optional input that is not
    given (its ``$[[...]]`` block is dropped, as Azure ML does). Returns the shell text and the
    environment variables to run it with; the values never pass through shell parsing.
    """

    def optional_block(match: re.Match[str]) -> str:
        inner = match.group(1)
        refs = placeholders(inner)
        return inner if all(values.get(ref) is not None for ref in refs) else ""

    command = _OPTIONAL_RE.sub(optional_block, command)
    env: dict[str, str] = {}
    out: list[str] = []
    quote: str | None = None  # None, "'" or '"'
    i = 0
    while i < len(command):
        match = PLACEHOLDER_RE.match(command, i)
        if match:
            ref = (match.group(1), match.group(2))
            value = values.get(ref)
            if value is None:
                raise KeyError(ref)
            var = env_var_for(*ref)
            env[var] = value
            if quote == "'":
                # Inside single quotes nothing expands: close, splice a double-quoted reference, reopen.
                out.append(f"'\"${{{var}}}\"'")
            elif quote == '"':
                out.append(f"${{{var}}}")
            else:
                out.append(f'"${{{var}}}"')
            i = match.end()
            continue
        ch = command[i]
        if ch == "\\" and quote != "'" and i + 1 < len(command):
            out.append(command[i : i + 2])
            i += 2
            continue
        if ch in "'\"":
            if quote is None:
                quote = ch
            elif quote == ch:
                quote = None
        out.append(ch)
        i += 1
    return "".join(out), env

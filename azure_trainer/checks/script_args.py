"""The job's command-line options checked against the script's own ``--help``, before any cluster queues.

``--set args.learning-rate=0.1`` for a script whose flag is ``--lr`` passes every other check and fails
only after the job has queued and started. For a Python entry script (``script`` + ``args``, or a
``command`` that starts with ``python X.py``) this runs ``python X.py --help`` once, in the code
folder, on the interpreter run-local would use, reads the options from its argparse/click-style help
and names each option of the job it does not know ("did you mean"). argparse's unique-prefix
abbreviations are accepted with a warning. ``--help`` runs only when an argument parser (argparse,
click, typer, ...) appears in the code folder: a script without one would start training instead. A
script that cannot be probed (no parser, no usage text, an error, more than :data:`PROBE_TIMEOUT_S`) is
said to be unchecked, never blocked.

``--help`` of a training script usually imports torch (seconds), so results are cached per content of
the code folder's Python files, in ``$XDG_CACHE_HOME/azure-trainer`` (default ``~/.cache``).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..findings import Finding
from ..planning.command_line import PLACEHOLDER_RE, render_args
from ..planning.spec import JobSpec

PROBE_TIMEOUT_S = 30.0
CACHE_FORMAT = 2
"""Part of the cache key: a new way of reading ``--help`` does not reuse what an older one cached."""
MAX_HASHED_FILES = 2000
_OPTION = re.compile(r"(?:^|[\s,\[(|])(--?[A-Za-z0-9][\w-]*)")
_USAGE = re.compile(r"^\s*usage:", re.I | re.M)
_PYTHON = re.compile(r"^python(?:3(?:\.\d+)?)?$")
_PARSER = re.compile(
    rb"\b(?:argparse|ArgumentParser|click|typer|jsonargparse|simple_parsing|absl\.flags|fire)\b"
)
"""A command-line parser's name in the code: without one, ``--help`` would just start the training."""
_SUBCOMMANDS = re.compile(r"\{[\w.,-]+\}\s+\.\.\.|^\W*Commands\b", re.M)
"""Subcommands in a help text: argparse's ``{train,eval} ...`` usage, click's and typer's ``Commands``
section. Their options are listed by ``SCRIPT SUB --help`` only."""
_KNOWN_ARGS = re.compile(rb"\bparse_known_args\b")
"""A parser that ignores the options it does not know, instead of refusing them."""


@dataclass(frozen=True)
class Probe:
    """What the script's ``--help`` says it accepts; ``options`` is None when it could not be read."""

    options: frozenset[str] | None
    why_unchecked: str | None = None
    lenient: bool = False
    """The code parses with ``parse_known_args``: an option it does not list is ignored, not refused."""


def check_script_args(spec: JobSpec, python: str) -> list[Finding]:
    """Findings for the job's options against the entry script's ``--help`` (see the module docstring)."""
    target = entry_script(spec)
    if target is None or spec.code is None:  # no local code folder (none, or on Azure ML): nothing to probe
        return []
    script, flags = target
    if not flags:
        return []  # no option to check: no need to run the script
    probe = probe_options(python, spec.code_dir, script)
    if probe.options is None:
        return [
            Finding(
                "warning",
                "script-args-unchecked",
                f"the options of {script} were not checked: {probe.why_unchecked} (not an error; fix it, or "
                "add script-args-unchecked to preflight.skip)",
            )
        ]
    return [
        f
        for flag, origin in flags
        if (f := _judge(flag, origin, script, probe.options, probe.lenient)) is not None
    ]


def entry_script(spec: JobSpec) -> tuple[str, list[tuple[str, str]]] | None:
    """``(script, [(option, where it comes from), ...])`` of a Python entry script, else None."""
    if spec.script:
        flags = [(token, f"args.{token[2:]}") for token in render_args(spec.args) if token.startswith("--")]
        return spec.script, _named_only(flags)
    try:  # an optional block $[[...]] holds options too
        tokens = shlex.split(spec.command.replace("$[[", " ").replace("]]", " "))
    except ValueError:
        return None
    if len(tokens) < 2 or not _PYTHON.match(Path(tokens[0]).name) or not tokens[1].endswith(".py"):
        return None
    flags = [
        (t.split("=", 1)[0], "command")
        for t in tokens[2:]
        if t.startswith("-") and not PLACEHOLDER_RE.match(t)
    ]
    return tokens[1], _named_only(flags)


def _named_only(flags: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # "-" alone (stdin), "--" (end of options) and negative numbers are values, not options
    return [(f, o) for f, o in flags if re.match(r"^--?[A-Za-z]", f)]


def _judge(
    flag: str, origin: str, script: str, options: frozenset[str], lenient: bool = False
) -> Finding | None:
    if flag in options:
        return None
    if not flag.startswith("--") and len(flag) > 2 and flag[:2] in options:
        return None  # -kVALUE: a short option with its value attached, as argparse accepts it
    longer = [o for o in options if flag.startswith("--") and o.startswith(flag)]
    if len(longer) == 1:
        return Finding(
            "warning",
            "script-arg-abbreviated",
            f"{flag} (from {origin}) is an abbreviation of {script}'s {longer[0]}: argparse accepts it today; "
            f"write {longer[0]} so a new option cannot make it ambiguous",
        )
    close = difflib.get_close_matches(flag, sorted(options), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else f"; it accepts: {', '.join(sorted(options))}"
    if lenient:
        return Finding(
            "warning",
            "unknown-script-arg",
            f"{script} does not list option {flag} (from {origin}); its code parses with parse_known_args, so "
            f"the option would be silently ignored{hint}",
        )
    return Finding(
        "error",
        "unknown-script-arg",
        f"{script} has no option {flag} (from {origin}), so the job would fail as soon as it starts{hint}",
    )


def probe_options(python: str, code: Path, script: str) -> Probe:
    """The options ``python SCRIPT --help`` lists, run in ``code`` (cached by the code's content)."""
    key = _cache_key(python, code, script)
    cached = _cache_path(key)
    try:
        data = json.loads(cached.read_text(encoding="utf-8"))
        options = frozenset(data["options"]) if data["options"] is not None else None
        return Probe(options, data["why"], bool(data.get("lenient")))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    files = _python_files(code)
    if not any(_PARSER.search(_read(path)) for path in files):
        return Probe(
            None,
            "no argument parser (argparse, click, typer, ...) appears in the code folder, so "
            "`--help` would run the script itself; it was not run",
        )
    probe = _run_help(python, code, script)
    if probe.options is not None and any(_KNOWN_ARGS.search(_read(path)) for path in files):
        probe = Probe(probe.options, lenient=True)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        options = sorted(probe.options) if probe.options is not None else None
        record = {"options": options, "why": probe.why_unchecked, "lenient": probe.lenient}
        cached.write_text(json.dumps(record), encoding="utf-8")
    except OSError:
        pass  # no cache: the next validate probes again
    return probe


def _run_help(python: str, code: Path, script: str) -> Probe:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TRAIN_DISABLE_MLFLOW": "1"}
    try:
        proc = subprocess.Popen(
            [python, script, "--help"],
            cwd=code,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # a timeout stops whatever it started too
        )
    except OSError as exc:
        return Probe(None, f"`python {script} --help` could not start ({exc.strerror or exc})")
    try:
        stdout, stderr = proc.communicate(timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Probe(None, f"`python {script} --help` took more than {PROBE_TIMEOUT_S:g}s (stopped)")
    text = stdout + stderr
    if proc.returncode != 0:
        last = (text.strip().splitlines() or [""])[-1][:120]
        return Probe(
            None, f"`python {script} --help` exited {proc.returncode}" + (f" ({last})" if last else "")
        )
    if not _USAGE.search(text):
        return Probe(None, f"`python {script} --help` printed no usage text (not an argparse-style script)")
    if _SUBCOMMANDS.search(text):
        return Probe(
            None,
            f"`python {script} --help` lists subcommands, and each subcommand's options only its own --help",
        )
    return Probe(frozenset(_OPTION.findall(text)))


def _cache_key(python: str, code: Path, script: str) -> str:
    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{python}\0{script}\0".encode())
    for path in _python_files(code):
        try:
            digest.update(str(path.relative_to(code)).encode() + b"\0" + path.read_bytes())
        except OSError:
            continue
    return digest.hexdigest()[:32]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _python_files(code: Path) -> list[Path]:
    """The code folder's .py files (bounded: a huge folder is the snapshot check's business)."""
    found = []
    for root, dirs, files in os.walk(code):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules")
        )
        found += [Path(root) / f for f in sorted(files) if f.endswith(".py")]
        if len(found) >= MAX_HASHED_FILES:
            break
    return found[:MAX_HASHED_FILES]


def _cache_path(key: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "azure-trainer" / "script-help" / f"{key}.json"

"""The run folder of a local run (or a local sweep): claimed, checked, its files written, its metrics read.

A folder is a run folder only when azure-trainer wrote its marker, ``.azure-trainer/folder.json``, which
names the job it belongs to (experiment, job file, code folder) and a fingerprint of the resolved job.
Nothing else counts: a folder of the user's that happens to hold a ``log.txt`` is refused, so nothing of
theirs is ever overwritten or appended to; a run folder of another job is refused (its outputs are that
job's); the code folder itself can never be one. The same job may reuse its folder (a rerun resumes from
its checkpoints), also with other settings (``--set args.epochs=40``).

config.yaml and command.sh never hold a secret (every value :func:`~azure_trainer.secrets_guard.redact_text`
would hide): config.yaml writes them as ``***``, command.sh asks for them as environment variables.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ..errors import LocalRunError
from ..planning.spec import JobSpec

FolderKind = Literal["run", "sweep"]
MARKER = Path(".azure-trainer") / "folder.json"
"""The file that makes a folder azure-trainer's (relative to the folder)."""
SECRET_VARIABLE_PREFIX = "AZT_SECRET_"
"""command.sh asks for the i-th secret of the command as ``AZT_SECRET_<i>``."""


def job_identity(spec: JobSpec) -> dict[str, str | None]:
    """What makes two runs the same job: its experiment, job file and code folder."""
    source = str(Path(spec.source).resolve()) if spec.source and not spec.source.startswith("--") else None
    code = str(Path(spec.code).resolve()) if spec.code is not None else None  # no local code folder
    return {"experiment": spec.experiment_name, "source": source, "code": code}


def job_fingerprint(spec: JobSpec) -> str:
    """A digest of the resolved job (secrets hidden first: the marker must not be a way to guess one)."""
    from ..secrets_guard import redact_data

    record = json.dumps(redact_data(dict(spec.record), spec), sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(record.encode("utf-8", "surrogatepass")).hexdigest()


def marker_text(spec: JobSpec, kind: FolderKind) -> str:
    """The marker's content for ``spec``'s run (or sweep) folder."""
    from .. import __version__

    data = {
        "kind": kind,
        **job_identity(spec),
        "fingerprint": job_fingerprint(spec),
        "azure_trainer": __version__,
    }
    return json.dumps(data, indent=2) + "\n"


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_run_dir(run_dir: str | Path, spec: JobSpec, kind: FolderKind = "run") -> Path:
    """``run_dir`` (an explicit --run-dir) as an absolute path, if this job may use it: new, empty, or
    marked as this job's (``kind``) folder. Never the code folder, never a folder of the user's, never
    another job's. Creates nothing."""
    what = "run folder" if kind == "run" else "sweep folder"
    if not str(run_dir).strip():
        raise LocalRunError("--run-dir: give a folder name (or leave it out for a new one under runs/)")
    try:
        path = Path(run_dir).expanduser().resolve()
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, RuntimeError, ValueError) as exc:
        shown = repr(str(run_dir)) if "\0" in str(run_dir) else run_dir
        raise LocalRunError(f"--run-dir {shown}: not a usable folder name ({exc})") from None
    if exists and not is_dir:
        raise LocalRunError(f"--run-dir {run_dir}: exists and is not a folder")
    if spec.code_dir is not None and path == Path(spec.code_dir).resolve():
        raise LocalRunError(
            f"--run-dir {run_dir}: is the job's code folder; a {what} must be another folder "
            "(its files would overwrite yours, and be uploaded with the code)"
        )
    if not is_dir or not any(path.iterdir()):
        return path
    marker = _read_marker(path)
    if marker is None:
        legacy = any((path / name).exists() for name in ("run.json", "log.txt", "command.sh", "sweep.json"))
        raise LocalRunError(
            f"--run-dir {run_dir}: holds other files and is not a {what} (no {MARKER.as_posix()} written by "
            "azure-trainer); give a new or empty folder (so nothing of yours is overwritten)"
            + ("; a folder from an older azure-trainer cannot be reused" if legacy else "")
        )
    if marker.get("kind") != kind:
        other = "sweep folder" if marker.get("kind") == "sweep" else "run folder"
        raise LocalRunError(f"--run-dir {run_dir}: is a {other}, not a {what}; give a new or empty folder")
    mine = job_identity(spec)
    differs = [k for k in ("experiment", "source", "code") if marker.get(k) != mine[k]]
    if differs:
        theirs = (
            f"experiment {marker.get('experiment')!r}, job file {marker.get('source') or '(built in code)'}"
        )
        raise LocalRunError(
            f"--run-dir {run_dir}: is the {what} of another job ({theirs}; its {', '.join(differs)} "
            "differs), and reusing it would overwrite that job's outputs; give a new or empty folder"
        )
    return path


def create_folder(
    path: Path, shown: str | Path, spec: JobSpec | None = None, kind: FolderKind = "run"
) -> Path:
    """Create ``path`` (and its parents) and, given ``spec``, mark it as that job's ``kind`` folder;
    LocalRunError naming ``shown`` (what the user wrote) if it cannot."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        if spec is not None:
            (path / MARKER).parent.mkdir(exist_ok=True)
            (path / MARKER).write_text(marker_text(spec, kind), encoding="utf-8")
    except OSError as exc:
        raise LocalRunError(f"--run-dir {shown}: cannot create it: {exc.strerror or exc}") from None
    return path


def new_folder_name(base: Path, experiment: str) -> Path:
    """A folder under ``base`` that does not exist yet: ``<experiment>-<YYYYmmdd-HHMMSS>[-N]``."""
    stem = f"{_safe_name(experiment)}-{datetime.now():%Y%m%d-%H%M%S}"
    for i in range(1, 1000):
        path = base / (stem if i == 1 else f"{stem}-{i}")
        if not path.exists():
            return path
    raise LocalRunError(f"cannot find a free folder name under {base}")  # pragma: no cover


def _safe_name(experiment: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", experiment).strip("-.")[:64]
    return name or "job"


def choose_run_dir(spec: JobSpec, run_dir: str | Path | None) -> Path:
    """The run folder to use: ``run_dir`` (checked: see :func:`check_run_dir`), else a new
    ``runs/<experiment>-<time>`` in the current folder. Creates nothing (a run that cannot start must not
    leave a folder behind)."""
    if run_dir is not None:
        return check_run_dir(run_dir, spec, "run")
    return new_folder_name(Path.cwd() / "runs", spec.experiment_name)


def secret_names(spec: JobSpec, env: Mapping[str, str]) -> set[str]:
    """The names in ``env`` whose values hold a secret (not allowed by ``preflight.allow``)."""
    from ..secrets_guard import redact_env, redact_text

    redacted = redact_env(env, spec.preflight.allow)
    return {k for k, v in env.items() if redacted[k] != v or redact_text(v, spec) != v}


def config_yaml_text(spec: JobSpec) -> str:
    """config.yaml: the resolved config of the run, every secret (environment values, arguments, input
    credentials) as ``***``."""
    import yaml

    from ..secrets_guard import redact_data

    header = (
        "# The resolved job config of this local run (extends merged, --set and --gpu/--cpu applied).\n"
        f"# Source: {spec.source or '(built in code)'}. Secrets are written as ***.\n"
    )
    return header + yaml.safe_dump(redact_data(dict(spec.record), spec), sort_keys=False, allow_unicode=True)


def shown_command(spec: JobSpec, text: str) -> str:
    """``text`` (a command line, or one word of one) as it may be shown or recorded: every secret ``***``."""
    from ..secrets_guard import redact_command, redact_text, script_options

    shown, _ = redact_command(text, spec.preflight.allow, options=script_options(spec))
    return redact_text(shown, spec)


def _shell_message(text: str) -> str:
    """``text`` safe inside ``"${VAR:?...}"`` (no quote, backtick, dollar or backslash)."""
    return re.sub(r"[^A-Za-z0-9 _.,;:()=+/-]", "", text)


def command_sh_text(
    spec: JobSpec,
    exports: Mapping[str, str],
    secrets: set[str],
    nodes: list[tuple[list[str], Mapping[str, str]]],
    cwd: Path | None = None,
) -> str:
    """command.sh: the run's exact command, rerunnable with ``bash command.sh``. ``nodes`` holds each
    node's argv and its own variables; several nodes run side by side and the script waits for all of
    them (in ``cwd``, else the code folder). No secret is written: an environment value that is one, and each secret of the command line,
    is asked for as a variable (``AZT_SECRET_<i>``) that the script stops without."""
    from ..secrets_guard import redact_command, redact_text, script_options

    lines = [
        "#!/usr/bin/env bash",
        "# The exact command of this azure-trainer run-local run. Rerun it with: bash command.sh",
        "# (outputs land in the same folders; a script that resumes from its checkpoints will resume).",
        "set -e",
        f"cd {shlex.quote(str(cwd if cwd is not None else spec.code_dir))}",
    ]
    for name, value in exports.items():
        if name in secrets:
            lines.append(
                f'export {name}="${{{name}:?{name} looks like a secret and is not written here; '
                'export it first}"'
            )
        else:
            lines.append(f"export {name}={shlex.quote(value)}")
    hidden: dict[str, tuple[str, list[str]]] = {}  # a bash -c script -> (its text with variables, labels)

    def shown(argv: list[str]) -> list[str]:
        out = []
        for i, arg in enumerate(argv):
            if i > 0 and argv[i - 1] == "-c":  # bash -c SCRIPT: its secrets become variables
                if arg not in hidden:
                    prefix = SECRET_VARIABLE_PREFIX + (f"{len(hidden) + 1}_" if hidden else "")
                    text, labels = redact_command(
                        arg, spec.preflight.allow, options=script_options(spec), variables=prefix
                    )
                    hidden[arg] = (
                        redact_text(text, spec),
                        [f"{prefix}{n}:{label}" for n, label in enumerate(labels, 1)],
                    )
                out.append(hidden[arg][0])
            else:
                out.append(redact_text(arg, spec))
        return out

    def command(argv: list[str], env: Mapping[str, str], prefix: str = "") -> str:
        assignments = [f"{k}={shlex.quote(redact_text(v, spec))}" for k, v in env.items()]
        return " ".join([*assignments, *([prefix] if prefix else []), *(shlex.quote(a) for a in shown(argv))])

    commands = [command(argv, env, "exec" if len(nodes) == 1 else "") for argv, env in nodes]
    for _, labels in hidden.values():
        for entry in labels:
            var, label = entry.split(":", 1)
            why = _shell_message(f"{label} looks like a secret and is not written here; export {var} first")
            lines.append(f'export {var}="${{{var}:?{why}}}"')
    if len(nodes) == 1:
        lines.append(commands[0])
    else:
        lines += [c + " &" for c in commands]
        lines.append('status=0; for pid in $(jobs -p); do wait "$pid" || status=$?; done; exit "$status"')
    return "\n".join(lines) + "\n"

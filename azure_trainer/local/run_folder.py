"""The run folder of a local run: created (or reused), its files written, its metrics read back.

The run folder holds config.yaml, command.sh, log.txt, run.json and outputs/. config.yaml and
command.sh never hold a secret-looking environment value (``***`` / an ``export`` the user must give).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from ..errors import LocalRunError
from ..planning.spec import JobSpec

RUN_FOLDER_MARKERS = ("run.json", "log.txt", "command.sh")
"""Files only a run folder has: an existing --run-dir without any of them is someone else's folder."""


def check_run_dir(run_dir: str | Path, markers: tuple[str, ...], what: str) -> Path:
    """``run_dir`` (an explicit --run-dir) as an absolute path, if it may be used: new, empty, or made by
    us (one of ``markers`` is in it); never a folder of the user's own. Creates nothing."""
    if not str(run_dir).strip():
        raise LocalRunError("--run-dir: give a folder name (or leave it out for a new one under runs/)")
    path = Path(run_dir).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise LocalRunError(f"--run-dir {run_dir}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not any(any(path.glob(m)) for m in markers):
        raise LocalRunError(
            f"--run-dir {run_dir}: holds other files and is not {what}; give a new or empty folder "
            "(so nothing of yours is overwritten)"
        )
    return path


def create_folder(path: Path, shown: str | Path) -> Path:
    """Create ``path`` (and its parents); LocalRunError naming ``shown`` (what the user wrote) if it cannot."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalRunError(f"--run-dir {shown}: cannot create it: {exc.strerror or exc}") from None
    return path


def choose_run_dir(experiment: str, run_dir: str | Path | None) -> Path:
    """The run folder to use: ``run_dir`` (checked: see :func:`check_run_dir`), else a new
    ``runs/<experiment>-<time>`` in the current folder. Creates nothing (a run that cannot start must not
    leave a folder behind)."""
    if run_dir is not None:
        return check_run_dir(run_dir, RUN_FOLDER_MARKERS, "a run folder (no run.json or log.txt)")
    base = Path.cwd() / "runs"
    stem = f"{experiment}-{datetime.now():%Y%m%d-%H%M%S}"
    for i in range(1, 1000):
        path = base / (stem if i == 1 else f"{stem}-{i}")
        if not path.exists():
            return path
    raise LocalRunError(f"cannot find a free run folder name under {base}")  # pragma: no cover


def secret_names(spec: JobSpec, env: Mapping[str, str]) -> set[str]:
    """The names in ``env`` whose values look like secrets (not allowed by ``preflight.allow``)."""
    from ..secrets_guard import redact_env

    return {k for k, v in redact_env(env, spec.preflight.allow).items() if v != env[k]}


def config_yaml_text(spec: JobSpec) -> str:
    """config.yaml: the resolved config of the run, secret-looking environment values as ``***``."""
    import yaml

    from ..secrets_guard import redact_env

    data = dict(spec.record)
    if data.get("environment_variables"):
        data["environment_variables"] = redact_env(data["environment_variables"], spec.preflight.allow)
    trial = data.get("trial")  # a sweep trial's variables are the trial's
    if isinstance(trial, dict) and trial.get("environment_variables"):
        data["trial"] = {
            **trial,
            "environment_variables": redact_env(trial["environment_variables"], spec.preflight.allow),
        }
    header = (
        "# The resolved job config of this local run (extends merged, --set and --gpu/--cpu applied).\n"
        f"# Source: {spec.source or '(built in code)'}. Secret-looking environment values are ***.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def command_sh_text(
    cwd: Path, exports: Mapping[str, str], secrets: set[str], nodes: list[tuple[list[str], Mapping[str, str]]]
) -> str:
    """command.sh: the run's exact command, rerunnable with ``bash command.sh``; a secret-looking value
    is not written, the script asks for it instead. ``nodes`` holds each node's argv and its own
    variables; several nodes run side by side and the script waits for all of them."""
    lines = [
        "#!/usr/bin/env bash",
        "# The exact command of this azure-trainer run-local run. Rerun it with: bash command.sh",
        "# (outputs land in the same folders; a script that resumes from its checkpoints will resume).",
        "set -e",
        f"cd {shlex.quote(str(cwd))}",
    ]
    for name, value in exports.items():
        if name in secrets:
            lines.append(
                f'export {name}="${{{name}:?{name} looks like a secret and is not written here; '
                'export it first}"'
            )
        else:
            lines.append(f"export {name}={shlex.quote(value)}")

    def command(argv: list[str], env: Mapping[str, str], prefix: str = "") -> str:
        assignments = [f"{k}={shlex.quote(v)}" for k, v in env.items()]
        return " ".join([*assignments, *([prefix] if prefix else []), *(shlex.quote(a) for a in argv)])

    if len(nodes) == 1:
        lines.append(command(*nodes[0], prefix="exec"))
    else:
        lines += [command(argv, env) + " &" for argv, env in nodes]
        lines.append('status=0; for pid in $(jobs -p); do wait "$pid" || status=$?; done; exit "$status"')
    return "\n".join(lines) + "\n"

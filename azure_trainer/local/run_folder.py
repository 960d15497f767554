"""The run folder of a local run: created (or reused), its files written, its metrics read back.

The run folder holds config.yaml, command.sh, log.txt, run.json and outputs/. config.yaml and
command.sh never hold a secret-looking environment value (``***`` / an ``export`` the user must give).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config.model import JobConfig
from ..errors import LocalRunError

RUN_FOLDER_MARKERS = ("run.json", "log.txt", "command.sh")
"""Files only a run folder has: an existing --output-dir without any of them is someone else's folder."""


def prepare_output_dir(run_dir: str | Path, markers: tuple[str, ...], what: str) -> Path:
    """Create ``run_dir`` (an --output-dir), or reuse it when it is empty or was made by us (one of
    ``markers`` is in it); never write into a folder of the user's own. Raises LocalRunError."""
    if not str(run_dir).strip():
        raise LocalRunError("--output-dir: give a folder name (or leave it out for a new one under runs/)")
    path = Path(run_dir).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise LocalRunError(f"--output-dir {run_dir}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not any(any(path.glob(m)) for m in markers):
        raise LocalRunError(
            f"--output-dir {run_dir}: holds other files and is not {what}; give a new or empty folder "
            "(so nothing of yours is overwritten)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalRunError(f"--output-dir {run_dir}: cannot create it: {exc.strerror or exc}") from None
    return path


def _make_run_dir(experiment: str, run_dir: str | Path | None) -> Path:
    if run_dir is not None:
        return prepare_output_dir(run_dir, RUN_FOLDER_MARKERS, "a run folder (no run.json or log.txt)")
    base = Path.cwd() / "runs"
    stem = f"{experiment}-{datetime.now():%Y%m%d-%H%M%S}"
    for i in range(1, 1000):
        path = base / (stem if i == 1 else f"{stem}-{i}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path.resolve()
        except FileExistsError:
            continue
        except OSError as exc:
            raise LocalRunError(f"cannot create the run folder {path}: {exc.strerror or exc}") from None
    raise LocalRunError(f"cannot find a free run folder name under {base}")  # pragma: no cover


def _redact(config: JobConfig, env: Mapping[str, str], warnings: list[str]) -> dict[str, str]:
    try:
        from ..secrets_guard import redact_env
    except ImportError:  # pragma: no cover - the guard ships with the package
        warnings.append("azure_trainer.secrets_guard is missing: environment values are written unredacted")
        return dict(env)
    try:
        return redact_env(env, config.preflight.allow_env)
    except TypeError:  # pragma: no cover - an older redact_env(env)
        return redact_env(env)


def _write_config_yaml(config: JobConfig, path: Path, warnings: list[str]) -> None:
    import yaml

    data = config.model_dump(mode="json", exclude_none=True)
    if data.get("environment_variables"):
        data["environment_variables"] = _redact(config, data["environment_variables"], warnings)
    header = (
        "# The resolved job config of this local run (extends merged, --set and --gpu/--cpu applied).\n"
        f"# Source: {config.source or '(built in code)'}. Secret-looking environment values are ***.\n"
    )
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _write_command_sh(
    path: Path, cwd: Path, exports: Mapping[str, str], secret_names: set[str], argv: list[str]
) -> None:
    lines = [
        "#!/usr/bin/env bash",
        "# The exact command of this azure-trainer run-local run. Rerun it with: bash command.sh",
        "# (outputs land in the same folders; a script that resumes from its checkpoints will resume).",
        "set -e",
        f"cd {shlex.quote(str(cwd))}",
    ]
    for name, value in exports.items():
        if name in secret_names:
            lines.append(
                f'export {name}="${{{name}:?{name} looks like a secret and is not written here; '
                'export it first}"'
            )
        else:
            lines.append(f"export {name}={shlex.quote(value)}")
    lines.append("exec " + " ".join(shlex.quote(a) for a in argv))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o755)


def _last_metrics(outputs_dir: Path, since: float = 0.0) -> dict[str, Any]:
    """The last JSON line of the newest ``metrics.jsonl`` under ``outputs_dir`` written after ``since``."""
    files = [p for p in outputs_dir.rglob("metrics.jsonl") if p.is_file()] if outputs_dir.is_dir() else []
    files = [p for p in files if p.stat().st_mtime >= since]  # a reused run folder: not an old run's
    for path in sorted(files, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in reversed(text.splitlines()):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                return record
    return {}

"""``azure-trainer export JOB``: the job as Azure ML CLI v2 YAML, for ``az ml job create -f``.

The YAML is the job file itself with azure-trainer's additions resolved (see README: "What use_gpu
adds"); local paths are written relative to the folder of ``-o FILE`` (else the current folder), so the
exported file can be committed and used on another machine.

``-o FILE`` never overwrites the job's own config (JOB or any file it ``extends``), and overwrites any
other existing file only with ``--force``; the file is written whole or not at all.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._common import Context, add_job_options, load_spec

HELP = "print the job as Azure ML CLI v2 YAML (az ml job create -f)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_job_options(parser)
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the YAML to FILE instead of stdout (local paths relative to FILE's folder; never one of "
        "the job's own config files)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..azureml.build import to_yaml
    from ..secrets_guard import redact_yaml

    spec = load_spec(args)
    target = check_output(args.output, config_files(args.job, spec), force=args.force)
    hidden: list[str] = []
    folder = os.path.dirname(os.path.abspath(target)) if target is not None else None
    text = to_yaml(spec, allow=spec.preflight.allow, hidden=hidden, relative_to=folder)
    safe = redact_yaml(text, spec)  # what the job's own checks flag (short options, literal inputs, ...)
    if safe != text:
        text = safe
        hidden.append("values the secrets checks flag")
    if hidden:
        print(
            f"azure-trainer: warning: {', '.join(sorted(set(hidden)))} looked like secrets and were written "
            "as ***; keep secrets out of job definitions (Key Vault + the job's identity; a datastore for "
            "storage), or list the name in `preflight: {allow: [...]}` if it is not a secret",
            file=sys.stderr,
        )
    if target is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        write_whole(target, text, shown=args.output)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def config_files(job: str | os.PathLike[str], spec: Any) -> list[Path]:
    """The job's own config files: JOB, every file of its ``extends`` chain, and every file a value of
    the resolved job was written in (the files a user would lose by overwriting them)."""
    files: list[Path] = []
    pending = [Path(job)]
    while pending:
        path = pending.pop()
        if path in files or len(files) > 100:
            continue
        files.append(path)
        pending += [path.parent / base for base in _extends_of(path)]
    for where, _ in getattr(spec, "locations", {}).values():
        if where and not where.startswith("--"):
            files.append(Path(where))
    return files


def _extends_of(path: Path) -> list[str]:
    """The ``extends:`` entries of a job file (none when it cannot be read: it was loaded already)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        if "extends" not in text:
            return []
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe
    except (OSError, ValueError, yaml.YAMLError):
        return []
    bases = data.get("extends") if isinstance(data, dict) else None
    bases = bases if isinstance(bases, list) else [bases]
    return [b for b in bases if isinstance(b, str) and b.strip()]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_output(
    output: str | None, sources: list[Path], *, force: bool, what: str = "the export", kept: str = ""
) -> Path | None:
    """The file ``-o`` names (None: print to stdout), if ``what`` may be written there: never a file of
    the job's own config; an existing file only with ``force``. Raises ConfigError (exit 2) before
    anything is built or written. ``kept`` says why an existing file is kept (after "exists")."""
    if output is None:
        return None
    if not output.strip():
        raise ConfigError("-o/--output: give a file name (or leave -o out to print to stdout)")
    if "\0" in output:
        raise ConfigError(f"-o {output!r}: not a usable file name (it holds a NUL byte)")
    target = Path(output)
    try:
        exists, is_dir = target.exists(), target.is_dir()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"-o {output}: not a usable file name ({exc})") from None
    if is_dir:
        raise ConfigError(f"-o {output}: is a folder; give a file name")
    if exists:
        source = next((s for s in sources if _same_file(target, s)), None)
        if source is not None:
            raise ConfigError(
                f"-o {output}: is the job's own config ({source}); {what} would replace it. Give "
                "another file name"
            )
        if not force:
            raise ConfigError(
                f"-o {output}: exists{kept}; pass --force to overwrite it, or give another file name"
            )
    return target


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_whole(target: Path, text: str, *, shown: str) -> None:
    """Write ``text`` to ``target`` (through a symlink, to the file it names) via a temporary file, so a
    failure leaves the old file as it was."""
    real = Path(os.path.realpath(target))
    try:
        import tempfile  # only when writing a file (the CLI's start-up imports every command module)

        fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, real.stat().st_mode & 0o7777 if real.exists() else 0o666 & ~_umask())
            os.replace(tmp, real)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"-o {shown}: cannot write there: {exc.strerror or exc}") from None

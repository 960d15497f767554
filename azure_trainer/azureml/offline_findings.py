"""The secrets and snapshot checks, which need no Azure, in one call: :func:`offline_findings`.

The secrets guard (environment variables, the command line, literal inputs, input paths) and the code
snapshot (size, file count, ignore file, links out of the code folder, credential files) judge only the
planned job and the local code folder. :mod:`azure_trainer.checks` runs them with the other offline
checks, in ``validate``, at the start of ``submit`` (before any sign-in) and in ``preflight``. Imports
neither azure.ai.ml nor torch: the snapshot check uses azure-ai-ml's ignore-file matcher loaded from its
own file (see :mod:`._sdk`).
"""

from __future__ import annotations

from pathlib import Path

from ..findings import Finding
from ..planning.spec import JobSpec

__all__ = ["offline_findings", "referenced_paths", "snapshot_findings"]


def offline_findings(spec: JobSpec) -> list[Finding]:
    """The findings of every check that needs no Azure, for a planned ``spec``: secrets first, then the
    snapshot. Codes in the job's ``preflight.skip`` are dropped. Never raises for a bad code folder or
    ignore file: those are findings too."""
    from ..secrets_guard import check_job_secrets

    skip = set(spec.preflight.skip)
    findings = check_job_secrets(spec) + snapshot_findings(spec)
    return [f for f in findings if f.code not in skip]


def snapshot_findings(spec: JobSpec) -> list[Finding]:
    """The code snapshot's findings; advice never suggests ignoring what :func:`referenced_paths` names."""
    from .snapshot import check_snapshot

    if spec.code is None:  # no local code folder (an azureml: asset, a URL, or none): nothing is uploaded
        return []
    return check_snapshot(spec.code, keep=referenced_paths(spec), allow=spec.preflight.allow)


def referenced_paths(spec: JobSpec) -> set[str]:
    """Upload paths (relative to the code folder) the job needs by name: the entry script, and every word
    of the command (or value of ``--k=v`` / ``k=v``) that names a file or folder in the code folder;
    ``python -m pkg.mod`` names ``pkg/``."""
    from ..secrets_guard import shell_words

    code = Path(spec.code)
    words = [w.text for w in shell_words(spec.command)]
    candidates = [spec.script] if spec.script else []
    for i, word in enumerate(words):
        candidates.append(word)
        if "=" in word:
            candidates.append(word.split("=", 1)[1])
        if word == "-m" and i + 1 < len(words):
            candidates.append(words[i + 1].split(".", 1)[0])
    found = set()
    for candidate in candidates:
        rel = candidate.strip().removeprefix("./").rstrip("/")
        if not rel or len(rel) > 1024 or rel.startswith(("/", "-", "$")) or "\0" in rel:
            continue
        try:
            if (code / rel).exists():
                found.add(Path(rel).as_posix())
        except (OSError, ValueError):
            continue
    return found

"""Which files of a code snapshot are credentials: judged by their path, never by reading them.

The code snapshot is stored in the workspace and readable by everyone with access to it; a ``.env``,
an SSH key or a cloud CLI's token cache in the code folder would be uploaded with it. The list follows
what secret scanners (gitleaks, GitHub's push protection) treat as credential files; templates such as
``.env.example`` are not credentials.
"""

from __future__ import annotations

import fnmatch
import re

__all__ = ["credential_kind"]

_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".tmpl", ".md")

# (glob on the file name, what it is); matched case-insensitively
_NAMES: tuple[tuple[str, str], ...] = (
    (".env", "a dotenv file"),
    (".env.*", "a dotenv file"),
    ("*.env", "a dotenv file"),
    ("*.pem", "a PEM key or certificate"),
    ("*.key", "a private key"),
    ("*.p12", "a PKCS#12 key store"),
    ("*.pfx", "a PKCS#12 key store"),
    ("id_rsa", "an SSH private key"),
    ("id_dsa", "an SSH private key"),
    ("id_ecdsa", "an SSH private key"),
    ("id_ed25519", "an SSH private key"),
    ("*.ppk", "a PuTTY private key"),
    (".netrc", "a .netrc with passwords"),
    ("_netrc", "a .netrc with passwords"),
    (".git-credentials", "git's stored credentials"),
    (".pgpass", "PostgreSQL passwords"),
    (".pypirc", "package index credentials"),
    ("kubeconfig", "a Kubernetes config"),
    ("*.kubeconfig", "a Kubernetes config"),
)
# (glob on the whole upload path, what it is)
_PATHS: tuple[tuple[str, str], ...] = (
    ("*/.aws/credentials", "AWS credentials"),
    ("*/.kube/config", "a Kubernetes config"),
    ("*/.docker/config.json", "Docker registry credentials"),
)
_FOLDERS: tuple[tuple[str, str], ...] = (
    (".azure", "the Azure CLI's tokens and profile"),
    (".ssh", "SSH keys"),
    (".gnupg", "GnuPG keys"),
)


def _one_regex(globs: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?P<g{i}>{fnmatch.translate(g)})" for i, (g, _) in enumerate(globs)))


_NAME_RE, _PATH_RE = _one_regex(_NAMES), _one_regex(_PATHS)


def credential_kind(upload_path: str) -> str | None:
    """What credential ``upload_path`` (POSIX, relative to the code folder) looks like, or None."""
    path = upload_path.lower()
    parts = path.split("/")
    name = parts[-1]
    for folder, kind in _FOLDERS:
        if folder in parts[:-1]:
            return kind
    if name.endswith(_TEMPLATE_SUFFIXES) or name.endswith(".pub"):
        return None
    for regex, table, text in ((_PATH_RE, _PATHS, "/" + path), (_NAME_RE, _NAMES, name)):
        match = regex.match(text)
        if match is not None and match.lastgroup:
            return table[int(match.lastgroup[1:])][1]
    return None

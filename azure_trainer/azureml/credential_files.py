"""Which files of a code snapshot are credentials: judged by their path, never by reading them.

The code snapshot is stored in the workspace and readable by everyone with access to it; a ``.env``,
an SSH key or a cloud CLI's token cache in the code folder would be uploaded with it. The list follows
what secret scanners (gitleaks, GitHub's push protection) treat as credential files; templates such as
``.env.example`` are not credentials.
"""

from __future__ import annotations

__all__ = ["credential_kind"]

_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".tmpl", ".md", ".pub")

# what a file NAME says (matched lowercased): whole names, then prefixes, then suffixes
_NAMES = {
    ".env": "a dotenv file",
    "id_rsa": "an SSH private key",
    "id_dsa": "an SSH private key",
    "id_ecdsa": "an SSH private key",
    "id_ed25519": "an SSH private key",
    ".netrc": "a .netrc with passwords",
    "_netrc": "a .netrc with passwords",
    ".git-credentials": "git's stored credentials",
    ".pgpass": "PostgreSQL passwords",
    ".pypirc": "package index credentials",
    "kubeconfig": "a Kubernetes config",
}
_PREFIXES = ((".env.", "a dotenv file"),)
_SUFFIXES = (
    (".env", "a dotenv file"),
    (".pem", "a PEM key or certificate"),
    (".key", "a private key"),
    (".p12", "a PKCS#12 key store"),
    (".pfx", "a PKCS#12 key store"),
    (".ppk", "a PuTTY private key"),
    (".kubeconfig", "a Kubernetes config"),
)
# what the last two parts of the PATH say
_PATHS = {
    (".aws", "credentials"): "AWS credentials",
    (".kube", "config"): "a Kubernetes config",
    (".docker", "config.json"): "Docker registry credentials",
}
# any file under one of these folders
_FOLDERS = {
    ".azure": "the Azure CLI's tokens and profile",
    ".ssh": "SSH keys",
    ".gnupg": "GnuPG keys",
}


def credential_kind(upload_path: str) -> str | None:
    """What credential ``upload_path`` (POSIX, relative to the code folder) looks like, or None."""
    parts = upload_path.lower().split("/")
    name = parts[-1]
    for folder in parts[:-1]:
        if folder in _FOLDERS:
            return _FOLDERS[folder]
    if name.endswith(_TEMPLATE_SUFFIXES):
        return None
    if len(parts) >= 2 and (parts[-2], name) in _PATHS:
        return _PATHS[(parts[-2], name)]
    if name in _NAMES:
        return _NAMES[name]
    for affixes, matches in ((_PREFIXES, name.startswith), (_SUFFIXES, name.endswith)):
        for affix, kind in affixes:
            if matches(affix):
                return kind
    return None

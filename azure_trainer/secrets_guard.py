"""Preflight guard: secrets must not travel in a job's environment variables.

A job's ``environment_variables`` are shown in Azure ML Studio to everyone with access to the
workspace and are written to the job's logs. This module flags variables whose NAME or VALUE looks
like a secret. No message ever contains a value, not even part of one.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from azure_trainer.findings import Finding

__all__ = [
    "REDACTED",
    "SecretHit",
    "check_command_line",
    "check_environment_variables",
    "check_input_paths",
    "redact_command",
    "redact_path",
    "classify",
    "redact_env",
]

REDACTED = "***"

# ------------------------------------------------------------------------------------------
# names
# ------------------------------------------------------------------------------------------

#: A name part (split on ``_``, ``-``, ``.`` and camelCase) equal to one of these is a secret.
_SECRET_PARTS = frozenset(
    {
        "KEY",
        "APIKEY",
        "ACCESSKEY",
        "SECRETKEY",
        "PRIVATEKEY",
        "ACCOUNTKEY",
        "TOKEN",
        "AUTHTOKEN",
        "ACCESSTOKEN",
        "SECRET",
        "SECRETS",
        "CLIENTSECRET",
        "PASSWORD",
        "PASSWD",
        "PASS",
        "PWD",
        "PASSPHRASE",
        "CREDENTIAL",
        "CREDENTIALS",
        "CREDS",
        "SAS",
        "CONNSTR",
        "CONNECTIONSTRING",
    }
)
#: Adjacent part pairs that are a secret.
_SECRET_PAIRS = frozenset({("CONNECTION", "STRING"), ("CONN", "STR"), ("CONN", "STRING")})
#: A secret part FOLLOWED by one of these names something about the secret, not the secret:
#: ``HF_TOKEN_FILE``, ``KEY_VAULT_NAME``, ``SECRET_NAME``, ``MAX_TOKEN_LENGTH``, ``AWS_ACCESS_KEY_ID``.
#: (Values are still checked.)
_BENIGN_AFTER = frozenset(
    {
        "NAME",
        "NAMES",
        "FILE",
        "PATH",
        "DIR",
        "URL",
        "URI",
        "ENDPOINT",
        "HOST",
        "ID",
        "VAULT",
        "LENGTH",
        "LEN",
        "LIMIT",
        "COUNT",
        "SIZE",
        "TYPE",
        "EXPIRY",
        "EXPIRATION",
        "TTL",
        "ENABLED",
        "REQUIRED",
        "THROUGH",
    }
)
#: A secret part PRECEDED by one of these is not a secret: ``PUBLIC_KEY``, ``PAD_TOKEN``,
#: ``MAX_TOKEN``, ``SORT_KEY``, ``LABEL_KEY`` (ML configs name tokenizer tokens and dict keys).
_BENIGN_BEFORE = frozenset(
    {
        "PUBLIC",
        "PAD",
        "EOS",
        "BOS",
        "UNK",
        "SEP",
        "CLS",
        "MASK",
        "SPECIAL",
        "START",
        "END",
        "MAX",
        "MIN",
        "NUM",
        "SORT",
        "PARTITION",
        "CACHE",
        "LABEL",
        "TEXT",
        "METRIC",
        "COLUMN",
        "FEATURE",
        "IMAGE",
        "INPUT",
        "OUTPUT",
        "TARGET",
        "SKIP",
        "BYPASS",
    }
)
#: Whole names that look like secrets but are not: ``PWD`` is the shell's working folder.
_BENIGN_NAMES = frozenset({"PWD", "OLDPWD"})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


def _name_parts(name: str) -> list[str]:
    return [p.upper() for p in _SPLIT.split(_CAMEL.sub("_", name)) if p]


def _secret_name_part(name: str) -> str | None:
    """The part of ``name`` that makes it look like a secret, or None."""
    if name.upper() in _BENIGN_NAMES:
        return None
    parts = _name_parts(name)
    for i, part in enumerate(parts):
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        prev = parts[i - 1] if i > 0 else None
        if nxt is not None and (part, nxt) in _SECRET_PAIRS:
            after = parts[i + 2] if i + 2 < len(parts) else None
            if after not in _BENIGN_AFTER:
                return f"{part}_{nxt}"
        if part not in _SECRET_PARTS:
            continue
        # skip a run of secret parts: HF_TOKEN_SECRET_NAME is named by what follows the run
        j = i + 1
        while j < len(parts) and parts[j] in _SECRET_PARTS:
            j += 1
        after_run = parts[j] if j < len(parts) else None
        if after_run in _BENIGN_AFTER or prev in _BENIGN_BEFORE:
            continue
        return part
    return None


# ------------------------------------------------------------------------------------------
# values
# ------------------------------------------------------------------------------------------

_VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an Azure connection string with a key", re.compile(r"(?i)\b(?:AccountKey|SharedAccessKey)\s*=")),
    ("an Azure connection string with a SAS", re.compile(r"(?i)\bSharedAccessSignature\s*=")),
    ("an Azure storage connection string", re.compile(r"(?i)\bDefaultEndpointsProtocol\s*=")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})")),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("an API key (sk-...)", re.compile(r"(?<![A-Za-z0-9])sk-(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}")),
    ("a Hugging Face token", re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a URL with a password", re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
)
#: A SAS token: a signature plus a signed version or expiry (``sv=...&se=...&sig=...``).
_SAS_SIG = re.compile(r"(?i)(?:^|[?&;])sig=[^&\s]+")
_SAS_OTHER = re.compile(r"(?i)(?:^|[?&;])(?:se|sv|sp|srt|ss)=")

#: Long opaque strings: warned about, not errors (could be a hash or an ID).
_OPAQUE = re.compile(r"^[A-Za-z0-9+/=_-]{32,}$")
_MIN_ENTROPY = 4.2  # bits/char; hex (git SHAs, digests) tops out at 4.0


def _entropy(text: str) -> float:
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _secret_value_kind(value: str) -> str | None:
    for kind, pattern in _VALUE_PATTERNS:
        if pattern.search(value):
            return kind
    if _SAS_SIG.search(value) and _SAS_OTHER.search(value):
        return "a SAS token"
    return None


#: A file path (``/run/secrets/hf``, ``./creds.json``): a name like HF_TOKEN holding a path is fine.
_PATH = re.compile(r"^(?:~|\.{1,2})?/[\w.\-/]+$")


def _looks_like_path(value: str) -> bool:
    return bool(_PATH.match(value)) and value.count("/") >= 2


def _looks_opaque(value: str) -> bool:
    v = value.strip()
    if not _OPAQUE.match(v) or v.startswith("/") or "//" in v or v.count("/") > len(v) // 16:
        return False
    has_classes = sum(bool(re.search(c, v)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
    return has_classes == 3 and _entropy(v) >= _MIN_ENTROPY


# ------------------------------------------------------------------------------------------
# public API
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretHit:
    """Why a variable looks like a secret; ``reason`` never contains the value."""

    name: str
    severity: str  # "error" | "warning"
    reason: str


def classify(name: str, value: str) -> SecretHit | None:
    """Whether ``name=value`` looks like a secret, and why (None: it does not)."""
    value = "" if value is None else str(value)
    kind = _secret_value_kind(value)
    if kind:
        return SecretHit(name, "error", f"its value looks like {kind}")
    if not value.strip():
        return None  # an empty secret leaks nothing
    part = _secret_name_part(name)
    if part and not _looks_like_path(value.strip()):
        return SecretHit(name, "error", f"its name contains {part}")
    if _looks_opaque(value):
        return SecretHit(name, "warning", "its value is a long random-looking string, like a key or token")
    return None


def _message(hit: SecretHit) -> str:
    return (
        f"Environment variable {hit.name} looks like a secret ({hit.reason}). Job environment variables "
        "are shown in Azure ML Studio to everyone with access to the workspace and are written to the "
        "job's logs. Store the secret in Azure Key Vault and read it at run time with the job's managed "
        "identity (e.g. azure.keyvault.secrets.SecretClient with ManagedIdentityCredential); pass only "
        f"the secret's NAME in the environment (e.g. {hit.name}_SECRET_NAME), never its value. "
        f"If it is not a secret, add it to `preflight: {{allow: [{hit.name}]}}` in the job config."
    )


def check_environment_variables(env: Mapping[str, str], allow: Iterable[str] = ()) -> list[Finding]:
    """One finding per variable of ``env`` that looks like a secret, in ``env`` order.

    Errors (code ``secret-in-env``) for secret-looking names or values; warnings (code
    ``possible-secret-in-env``) for long random-looking values. Names in ``allow`` are skipped.
    """
    allowed = set(allow)
    findings: list[Finding] = []
    for name, value in env.items():
        if name in allowed:
            continue
        hit = classify(name, value)
        if hit is None:
            continue
        code = "secret-in-env" if hit.severity == "error" else "possible-secret-in-env"
        findings.append(Finding(hit.severity, code, _message(hit)))  # type: ignore[arg-type]
    return findings


def redact_env(env: Mapping[str, str], allow: Iterable[str] = ()) -> dict[str, str]:
    """A copy of ``env`` with every secret-looking value (error or warning) replaced by ``***``."""
    allowed = set(allow)
    return {
        name: value if name in allowed or classify(name, value) is None else REDACTED
        for name, value in env.items()
    }


def _command_line_message(what: str, reason: str, allow_hint: str) -> str:
    return (
        f"{what} looks like a secret ({reason}). The job's command line is shown in Azure ML Studio to "
        "everyone with access to the workspace and is written to the job's logs. Read the secret at run "
        "time instead (Azure Key Vault with the job's managed identity) and pass only its name." + allow_hint
    )


def _secret_tokens(command: str, allow: Iterable[str]) -> list[tuple[str, str, SecretHit]]:
    """``(option name or "", token, why)`` for each secret-looking token of ``command``: the value of a
    ``--name value`` pair judged as :func:`classify` judges an environment variable, or any token of a
    known secret format. ``${{...}}`` references and options named in ``allow`` are skipped."""
    from .planning.command_line import PLACEHOLDER_RE

    try:
        tokens = shlex.split(command)
    except ValueError:  # unbalanced quotes: nothing reliable to judge by
        return []
    allowed = set(allow)
    found: list[tuple[str, str, SecretHit]] = []
    for i, token in enumerate(tokens):
        previous = tokens[i - 1] if i else ""
        name = previous[2:] if previous.startswith("--") and not token.startswith("--") else ""
        if PLACEHOLDER_RE.fullmatch(token) or (name and name in allowed):
            continue
        if name:
            hit = classify(name, token)
        else:  # a bare token has no name to judge by: known formats only, no entropy guess
            kind = _secret_value_kind(token)
            hit = SecretHit("", "error", f"its value looks like {kind}") if kind else None
        if hit is not None:
            found.append((name, token, hit))
    return found


def check_command_line(
    args: Mapping[str, object], command: str | None, allow: Iterable[str] = ()
) -> list[Finding]:
    """Secret-looking values on the job's command line (code ``secret-in-args``; a long random-looking
    value: ``possible-secret-in-args``): ``args`` as rendered on the command line, else ``command``.
    Options named in ``allow`` are skipped; no message contains a value. The same values are what
    :func:`redact_command` writes as ``***``."""
    from .planning.command_line import render_args

    text = " ".join(shlex.quote(t) for t in render_args(args)) if args else command or ""
    findings: list[Finding] = []
    for name, _, hit in _secret_tokens(text, allow):
        code = "secret-in-args" if hit.severity == "error" else "possible-secret-in-args"
        if name:
            what = f"Argument --{name}"
            hint = f" If it is not a secret, add {name} to `preflight: {{allow: [...]}}`."
        else:
            what, hint = "A value in the command", ""
        findings.append(Finding(hit.severity, code, _command_line_message(what, hit.reason, hint)))  # type: ignore[arg-type]
    return findings


def check_input_paths(paths: Mapping[str, str | None]) -> list[Finding]:
    """Inputs whose ``path`` carries a credential: a SAS token, a URL with a password, a connection
    string (code ``secret-in-input-path``). The value is never shown."""
    findings: list[Finding] = []
    for name, path in paths.items():
        kind = _secret_value_kind(path or "")
        if kind:
            findings.append(
                Finding(
                    "error",
                    "secret-in-input-path",
                    f"Input {name}'s path holds {kind}. Job definitions are stored and shown in Azure ML "
                    "Studio; register the storage as a datastore (credentials stay in the workspace) and "
                    f"give `path: azureml://datastores/NAME/paths/...`, or a data asset `azureml:NAME@latest`.",
                )
            )
    return findings


def redact_command(command: str, allow: Iterable[str] = ()) -> tuple[str, list[str]]:
    """``command`` with each secret-looking value (those :func:`check_command_line` reports) written as
    ``***``, and a label for each one hidden."""
    secrets: dict[str, str] = {}
    for name, token, _ in _secret_tokens(command, allow):
        secrets.setdefault(token, f"argument --{name}" if name else "a value in the command")
    text = command
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(shlex.quote(value), REDACTED).replace(value, REDACTED)
    return text, list(secrets.values())


def redact_path(path: str | None) -> str | None:
    """``path``, or ``***`` when it carries a credential (a SAS token, a URL with a password, ...)."""
    return REDACTED if path and _secret_value_kind(path) else path

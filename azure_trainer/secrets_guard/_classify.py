"""What looks like a secret: a name (``HF_TOKEN``, ``--db-password``) or a value (a key, a token, a SAS,
a URL with a password), and where in a text each secret value sits.

Every pattern here runs in time linear in its input: each unbounded repetition starts only where a run
of its characters starts (a look-behind), so no position is scanned twice per pattern. A 10 MB value is
judged in well under a second.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass

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


@functools.lru_cache(maxsize=4096)
def secret_name_part(name: str) -> str | None:
    """The part of ``name`` that makes it look like a secret (``PASSWORD`` of ``db-password``), or None."""
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
# values: known formats, each with the part of a match that is the secret
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    kind: str
    pattern: re.Pattern[str]
    secret_group: str | None = "s"
    """The named group that is the secret (None: the whole match; ``""``: nothing to hide)."""
    lowered: bool = False
    """Matched against the ASCII-lowercased text (a case-insensitive format)."""


def _starting(literal: str, not_after: str) -> str:
    """``literal``, matched only where no ``not_after`` character precedes it. The look-behind comes
    after the literal so the regex engine can search for the literal at C speed."""
    return f"{re.escape(literal)}(?<!{not_after}{re.escape(literal)})"


_FORMATS: tuple[_Format, ...] = (
    *(
        _Format(
            "an Azure connection string with a key",
            re.compile(_starting(word, "[a-z0-9]") + r"\s*=\s*(?P<s>[^;\s'\"]*)"),
            lowered=True,
        )
        for word in ("accountkey", "sharedaccesskey")
    ),
    _Format(
        "an Azure connection string with a SAS",
        re.compile(_starting("sharedaccesssignature", "[a-z0-9]") + r"\s*=\s*(?P<s>[^;\s'\"]*)"),
        lowered=True,
    ),
    _Format(
        "an Azure storage connection string",
        re.compile(_starting("defaultendpointsprotocol", "[a-z0-9]") + r"\s*="),
        secret_group="",  # the key in it, if any, is matched above
        lowered=True,
    ),
    _Format(
        "a private key",
        re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
        secret_group=None,  # to the END line: see format_spans
    ),
    _Format(
        "a JSON Web Token",
        re.compile(
            _starting("eyJ", "[A-Za-z0-9_-]") + r"[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
        ),
        None,
    ),
    _Format(
        "a GitHub token", re.compile(_starting("gh", "[A-Za-z0-9_]") + r"[pousr]_[A-Za-z0-9]{30,}"), None
    ),
    _Format(
        "a GitHub token", re.compile(_starting("github_pat_", "[A-Za-z0-9_]") + r"[A-Za-z0-9_]{20,}"), None
    ),
    _Format(
        "an AWS access key",
        re.compile(_starting("A", "[A-Za-z0-9_]") + r"(?:KIA|SIA)[0-9A-Z]{16}(?![A-Za-z0-9_])"),
        None,
    ),
    _Format(
        "an API key (sk-...)",
        re.compile(_starting("sk-", "[A-Za-z0-9_-]") + r"(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}"),
        None,
    ),
    _Format("a Hugging Face token", re.compile(_starting("hf_", "[A-Za-z0-9]") + r"[A-Za-z0-9]{30,}"), None),
    _Format(
        "a Slack token", re.compile(_starting("xox", "[A-Za-z0-9-]") + r"[abposr]-[A-Za-z0-9-]{10,}"), None
    ),
    _Format(
        "a Google API key",
        re.compile(_starting("AIza", "[A-Za-z0-9_]") + r"[0-9A-Za-z_-]{35}(?![A-Za-z0-9_])"),
        None,
    ),
)
URL_KIND = "a URL with a password"
#: ``scheme://user:password@``: found from its ``://`` (then the scheme before it is checked).
_URL_CREDENTIALS = re.compile(r"://[^/\s:@]+:(?P<s>[^/\s@]+)@")
_SCHEME_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}\Z")
#: A SAS token: a signature plus a signed version or expiry (``sv=...&se=...&sig=...``), lowercased.
SAS_KIND = "a SAS token"
_SAS_SIG = re.compile(r"sig=(?P<s>[^&;\s'\"()<>]+)")  # base64 or %-encoded: never a bracket
_SAS_OTHER = re.compile(r"s(?:rt|[evps])=")
_LONE_SIG_MIN = 24
_PRIVATE_KEY_END = re.compile(r"-----END [A-Z0-9 ]*-----")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _after_separator(text: str, start: int) -> bool:
    return start == 0 or text[start - 1] in "?&;"


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _URL_CREDENTIALS.finditer(text):
        start = match.start()
        before = text[max(0, start - 32) : start]
        scheme = _SCHEME_BEFORE.search(before)
        if scheme and not (scheme.start() > 0 and before[scheme.start() - 1] in "+.-"):
            spans.append(match.span("s"))
    return spans


def _sas_spans(lowered: str) -> list[tuple[int, int]]:
    sigs = [m for m in _SAS_SIG.finditer(lowered) if _after_separator(lowered, m.start())]
    if any(_after_separator(lowered, m.start()) for m in _SAS_OTHER.finditer(lowered)):
        return [m.span("s") for m in sigs]
    # a signature alone (its sv=/se= fields cut off or passed apart) when it is as long as one: an
    # HMAC-SHA256 in base64 is 44 characters; a short sig= is an ordinary parameter
    return [m.span("s") for m in sigs if len(m.group("s")) >= _LONE_SIG_MIN]


def secret_value_kind(value: str) -> str | None:
    """What known secret format ``value`` holds (``"a GitHub token"``), or None."""
    lowered = value.translate(_ASCII_LOWER)
    for fmt in _FORMATS:
        if fmt.pattern.search(lowered if fmt.lowered else value):
            return fmt.kind
    if _url_spans(value):
        return URL_KIND
    if _sas_spans(lowered):
        return SAS_KIND
    return None


def format_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, kind)`` of every secret of a known format in ``text``: the part to hide (the key of
    a connection string, the password of a URL, the signature of a SAS, a whole token or private key)."""
    lowered = text.translate(_ASCII_LOWER)
    spans: list[tuple[int, int, str]] = []
    for fmt in _FORMATS:
        if fmt.secret_group == "":
            continue
        for match in fmt.pattern.finditer(lowered if fmt.lowered else text):
            if fmt.secret_group is None:
                start, end = match.span()
                if fmt.kind == "a private key":
                    closing = _PRIVATE_KEY_END.search(text, end)
                    end = closing.end() if closing else len(text)
            else:
                start, end = match.span(fmt.secret_group)
            if end > start:
                spans.append((start, end, fmt.kind))
    spans += [(a, b, URL_KIND) for a, b in _url_spans(text)]
    spans += [(a, b, SAS_KIND) for a, b in _sas_spans(lowered)]
    return spans


#: Long opaque strings: warned about, not errors (could be a hash or an ID).
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
_MIN_ENTROPY = 4.2  # bits/char; hex (git SHAs, digests) tops out at 4.0
#: A file path (``/run/secrets/hf``, ``./creds.json``): a name like HF_TOKEN holding a path is fine.
_PATH = re.compile(r"(?:~|\.{1,2})?/[\w.\-/]+")


def _entropy(text: str) -> float:
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def looks_like_path(value: str) -> bool:
    return value.count("/") >= 2 and bool(_PATH.fullmatch(value))


def looks_opaque(value: str) -> bool:
    """A long random-looking string (mixed case and digits, high entropy): maybe a key or a token."""
    v = value.strip()
    if not _OPAQUE.fullmatch(v) or v.startswith("/") or "//" in v or v.count("/") > len(v) // 16:
        return False
    has_classes = sum(bool(re.search(c, v)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
    return has_classes == 3 and _entropy(v) >= _MIN_ENTROPY


@dataclass(frozen=True)
class SecretHit:
    """Why a name/value pair looks like a secret; ``reason`` never contains the value."""

    name: str
    severity: str  # "error" | "warning"
    reason: str
    kind: str | None = None
    """The known secret format of the value (``"a GitHub token"``), when that is the reason."""


def classify(name: str, value: object, *, formats: bool = True) -> SecretHit | None:
    """Whether ``name=value`` looks like a secret, and why (None: it does not). ``formats=False``: the
    caller has looked for known secret formats in the value already."""
    value = "" if value is None else str(value)
    kind = secret_value_kind(value) if formats else None
    if kind:
        return SecretHit(name, "error", f"its value looks like {kind}", kind)
    if not value.strip():
        return None  # an empty secret leaks nothing
    part = secret_name_part(name)
    if part and not looks_like_path(value.strip()):
        return SecretHit(name, "error", f"its name contains {part}")
    if looks_opaque(value):
        return SecretHit(name, "warning", "its value is a long random-looking string, like a key or token")
    return None

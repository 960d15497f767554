"""The secrets guard: secrets must not travel in a job's definition, and no output of ours may show one.

A job's environment variables, command line and input paths are shown in Azure ML Studio to everyone
with access to the workspace and are written to its logs. The checks (``check_*``) flag what looks like
a secret there (by its name, ``HF_TOKEN`` or ``--db-password``, or by its value: a key, a token, a SAS, a
URL with a password), in every form a shell or argparse accepts: ``--k=v``, ``--k v``, ``-k v``, ``-kv``,
``K=v``, quoted or not, with short options resolved through the script's own ``add_argument`` calls.

Redaction has ONE entry point, :func:`redact_text`: every message, hint, ``--json`` output, run-folder
file and exported YAML goes through it (or through the helpers built on it: :func:`redact_command`,
:func:`redact_env`, :func:`redact_path`, :func:`redact_data`), so what the checks call a secret is
exactly what is written as ``***``. No finding ever contains a value, not even part of one. Every
function here is linear in its input: a 10 MB argument is judged in well under a second.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..findings import Finding
from ._classify import SecretHit, classify, format_spans, looks_opaque, secret_name_part, secret_value_kind
from ._options import ScriptOptions, read_script_options
from ._shell import Quote, Word, shell_words, splice

if TYPE_CHECKING:
    from ..planning.spec import JobSpec

__all__ = [
    "REDACTED",
    "SecretHit",
    "check_command_line",
    "check_environment_variables",
    "check_input_paths",
    "check_job_secrets",
    "classify",
    "job_secret_values",
    "redact_command",
    "redact_data",
    "redact_env",
    "redact_path",
    "redact_text",
    "redact_value",
    "redact_yaml",
    "script_options",
    "shell_words",
]

REDACTED = "***"
_MIN_LITERAL = 4
"""A job's secret values at least this long are hidden wherever they appear in a text; shorter ones
only where they stand as a word of their own (hiding every "ab" of a message would hide the message)."""

# ------------------------------------------------------------------------------------------
# environment variables
# ------------------------------------------------------------------------------------------


def _env_message(hit: SecretHit) -> str:
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
        shown = SecretHit(_shown_name(name), hit.severity, hit.reason)
        code = "secret-in-env" if hit.severity == "error" else "possible-secret-in-env"
        findings.append(Finding(hit.severity, code, _env_message(shown)))  # type: ignore[arg-type]
    return findings


def redact_env(env: Mapping[str, str], allow: Iterable[str] = ()) -> dict[str, str]:
    """A copy of ``env`` with every secret-looking value (error or warning) replaced by ``***``."""
    allowed = set(allow)
    return {
        name: value if name in allowed or classify(name, value) is None else REDACTED
        for name, value in env.items()
    }


# ------------------------------------------------------------------------------------------
# the command line
# ------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ASSIGNED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
"""``NAME=value`` words: an environment assignment before the program, or a Hydra-style ``key=value``."""
_VARIABLE_REF = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")
_PLACEHOLDER = re.compile(r"\$\{\{\s*(?:inputs|outputs|search_space)\.[A-Za-z0-9_.-]+\s*\}\}")


@dataclass(frozen=True)
class _Hit:
    """A secret value in a command: characters ``start:end`` of ``word``."""

    word: Word
    start: int
    end: int
    severity: str
    reason: str
    label: str
    """What holds it, for messages: ``argument `--password```, ``a value in the command``."""
    allow_name: str | None
    """The name to list in ``preflight.allow`` when it is not a secret (None: no name to give)."""


@dataclass(frozen=True)
class _Pair:
    """An option (or ``NAME=``) and its value: characters ``start:end`` of ``words[index]``."""

    written: str
    names: tuple[str, ...]
    index: int
    start: int
    end: int


@functools.lru_cache(maxsize=1024)
def _shown_name(name: str) -> str:
    """``name`` as a message may show it: a name that itself looks like a secret, or is absurdly long,
    is not shown."""
    if len(name) > 80 or format_spans(name) or looks_opaque(name.lstrip("-")):
        return "(name not shown)"
    return name


def _is_value(word: Word | None) -> bool:
    return (
        word is not None
        and not word.after_operator
        and (not word.text.startswith("-") or bool(_NUMBER.fullmatch(word.text)))
    )


def _pair_at(words: list[Word], i: int, options: ScriptOptions) -> _Pair | None:
    """The option at ``words[i]`` and its value, in whichever form it is written."""
    text = words[i].text
    if not text.startswith("-"):
        name, eq, _ = text.partition("=")
        if eq and _ASSIGNED_NAME.fullmatch(name):
            return _Pair(name + "=", (name,), i, len(name) + 1, len(text))
        return None

    def with_next(option: str, names: tuple[str, ...]) -> _Pair | None:
        nxt = words[i + 1] if i + 1 < len(words) else None
        return _Pair(option, names, i + 1, 0, len(nxt.text)) if nxt and _is_value(nxt) else None

    if text.startswith("--") and len(text) > 2:
        option, eq, _ = text.partition("=")
        names = options.names(option) or (option[2:],)
        return _Pair(option, names, i, len(option) + 1, len(text)) if eq else with_next(option, names)
    if len(text) == 1 or _NUMBER.fullmatch(text):
        return None
    option, eq, _ = text.partition("=")
    if eq:  # -k=v and -name=v: argparse splits at the "="
        return _Pair(option, options.names(option) or (option[1:],), i, len(option) + 1, len(text))
    if len(text) == 2 or options.names(text):  # -k v, or a declared single-dash -name v
        return with_next(text, options.names(text) or (text[1:],))
    short = text[:2]
    if options.names(short):  # -kVALUE: a declared short option with its value attached
        return _Pair(short, options.names(short), i, 2, len(text))
    if secret_name_part(text[1:]):  # an undeclared -password v
        return with_next(text, (text[1:],))
    return _Pair(short, (short[1:],), i, 2, len(text))  # judged by the value alone


def _label(pair: _Pair) -> str:
    shown = _shown_name(pair.written)
    if shown != pair.written:
        return "an argument"
    if pair.written.endswith("="):
        return f"`{pair.written}` in the command"
    long_name = next((n for n in pair.names if n != pair.written.lstrip("-")), None)
    if long_name and not pair.written.startswith("--"):
        return f"argument `{pair.written}` (`--{_shown_name(long_name)}` of the script)"
    return f"argument `{pair.written}`"


def _word_format_spans(words: list[Word]) -> list[tuple[int, int, int, str]]:
    """``(word index, start, end, kind)`` of each known-format secret in the words, found in one pass over
    the words joined by spaces (a private key written as several words is found too)."""
    starts = []
    position = 0
    for word in words:
        starts.append(position)
        position += len(word.text) + 1
    joined = " ".join(word.text for word in words)
    found = []
    for start, end, kind in format_spans(joined):
        index = max(bisect_right(starts, start) - 1, 0)
        while index < len(words) and starts[index] < end:
            word_start = starts[index]
            a, b = max(start - word_start, 0), min(end - word_start, len(words[index].text))
            if b > a:
                found.append((index, a, b, kind))
            index += 1
    return found


def _command_hits(command: str, allow: Iterable[str], options: ScriptOptions | None) -> list[_Hit]:
    """Every secret-looking value of ``command``, in order: option values judged by the option's names
    and the value (as :func:`classify` judges an environment variable), and any value of a known secret
    format anywhere. ``${{...}}`` placeholders, ``$VARIABLE`` references and options named in ``allow``
    (by any of their names) are skipped."""
    allowed = set(allow)
    options = options or ScriptOptions()
    words = shell_words(command)
    formats: dict[int, list[tuple[int, int, str]]] = {}
    for index, start, end, kind in _word_format_spans(words):
        formats.setdefault(index, []).append((start, end, kind))
    hits: list[_Hit] = []
    taken: dict[int, list[tuple[int, int]]] = {}  # allowed, or found through an option already
    for i in range(len(words)):
        pair = _pair_at(words, i, options)
        if pair is None:
            continue
        word = words[pair.index]
        in_value = [f for f in formats.get(pair.index, ()) if pair.start <= f[0] and f[1] <= pair.end]
        if allowed and allowed & {*pair.names, pair.written.strip("-=")}:
            taken.setdefault(pair.index, []).append((pair.start, pair.end))
            continue
        value = word.text[pair.start : pair.end]
        if _PLACEHOLDER.fullmatch(value) or _VARIABLE_REF.fullmatch(value):
            continue
        label, allow_name = (
            _label(pair),
            pair.names[0] if _shown_name(pair.names[0]) == pair.names[0] else None,
        )
        if in_value:  # a value of a known format: hide only its secret part (a URL's password)
            for start, end, kind in in_value:
                reason = f"its value looks like {kind}"
                hits.append(_Hit(word, start, end, "error", reason, label, allow_name))
            taken.setdefault(pair.index, []).extend((start, end) for start, end, _ in in_value)
            continue
        judged = [classify(n, value, formats=False) for n in pair.names]
        hit = next((h for h in judged if h and h.severity == "error"), None) or judged[0]
        if hit is not None:
            hits.append(_Hit(word, pair.start, pair.end, hit.severity, hit.reason, label, allow_name))
    for index, spans in formats.items():
        skip = taken.get(index, [])
        for start, end, kind in spans:
            if not any(a <= start and end <= b for a, b in skip):
                reason = f"its value looks like {kind}"
                hits.append(_Hit(words[index], start, end, "error", reason, "a value in the command", None))
    hits.sort(key=lambda h: (h.word.src_start, h.start))
    return hits


def _command_message(what: str, reason: str, allow_name: str | None) -> str:
    hint = f" If it is not a secret, add {allow_name} to `preflight: {{allow: [...]}}`." if allow_name else ""
    return (
        f"{what[0].upper()}{what[1:]} looks like a secret ({reason}). The job's command line is shown in "
        "Azure ML Studio to everyone with access to the workspace and is written to the job's logs. Read "
        "the secret at run time instead (Azure Key Vault with the job's managed identity) and pass only "
        "its name." + hint
    )


def _command_findings(hits: list[_Hit]) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for hit in hits:
        if (hit.label, hit.severity) in seen:
            continue
        seen.add((hit.label, hit.severity))
        code = "secret-in-args" if hit.severity == "error" else "possible-secret-in-args"
        message = _command_message(hit.label, hit.reason, hit.allow_name)
        findings.append(Finding(hit.severity, code, message))  # type: ignore[arg-type]
    return findings


def check_command_line(
    args: Mapping[str, object],
    command: str | None,
    allow: Iterable[str] = (),
    options: ScriptOptions | None = None,
) -> list[Finding]:
    """Secret-looking values on a job's command line (code ``secret-in-args``; a long random-looking
    value: ``possible-secret-in-args``): ``args`` as rendered on the command line, else ``command``.
    ``options`` are the script's declared options (:func:`script_options`). No message contains a
    value; the values found are exactly what :func:`redact_command` writes as ``***``."""
    from ..planning.command_line import script_command

    text = script_command("script.py", args) if args else command or ""
    return _command_findings(_command_hits(text, allow, options))


def _source_span(hit: _Hit) -> tuple[int, int, Quote, Quote]:
    return hit.word.source_span(hit.start, hit.end)


def _in_context(text: str, start_quote: Quote, end_quote: Quote, *, shell_ref: bool) -> str:
    """``text`` (``***``, or a ``"${VAR}"`` reference) written where a value quoted ``start_quote`` ...
    ``end_quote`` was, so the quoting around it stays balanced."""
    if start_quote == end_quote:
        if not shell_ref or start_quote is None:
            return text
        return text[1:-1] if start_quote == '"' else f"'{text}'"
    return (start_quote or "") + text + (end_quote or "")


def redact_command(
    command: str,
    allow: Iterable[str] = (),
    *,
    options: ScriptOptions | None = None,
    variables: str | None = None,
) -> tuple[str, list[str]]:
    """``command`` with each secret-looking value (those :func:`check_command_line` reports) hidden, and
    a label for each value hidden, in order.

    By default a value is written as ``***``. With ``variables="AZT_SECRET_"`` the i-th value becomes a
    reference to the environment variable ``AZT_SECRET_<i>``, quoted for where it stands, so the text
    still runs when that variable is given (what command.sh does)."""
    runs: list[list[Any]] = []  # [start, end, start quote, end quote, label], overlapping hits merged
    for hit in sorted(_command_hits(command, allow, options), key=lambda h: _source_span(h)[0]):
        start, end, start_quote, end_quote = _source_span(hit)
        if runs and start < runs[-1][1]:
            if end > runs[-1][1]:
                runs[-1][1], runs[-1][3] = end, end_quote
            continue
        runs.append([start, end, start_quote, end_quote, hit.label])
    spans = []
    for i, (start, end, start_quote, end_quote, _) in enumerate(runs, 1):
        if variables is None:
            spans.append((start, end, _in_context(REDACTED, start_quote, end_quote, shell_ref=False)))
        else:
            ref = f'"${{{variables}{i}}}"'
            spans.append((start, end, _in_context(ref, start_quote, end_quote, shell_ref=True)))
    labels = [run[4] for run in runs]
    return splice(command, spans), labels if variables else list(dict.fromkeys(labels))


# ------------------------------------------------------------------------------------------
# input paths
# ------------------------------------------------------------------------------------------


def check_input_paths(paths: Mapping[str, str | None]) -> list[Finding]:
    """Inputs whose ``path`` carries a credential: a SAS token, a URL with a password, a connection
    string (code ``secret-in-input-path``). The value is never shown."""
    findings: list[Finding] = []
    for name, path in paths.items():
        kind = secret_value_kind(path or "")
        if kind:
            findings.append(
                Finding(
                    "error",
                    "secret-in-input-path",
                    f"Input {_shown_name(name)}'s path holds {kind}. Job definitions are stored and shown "
                    "in Azure ML Studio; register the storage as a datastore (credentials stay in the "
                    "workspace) and give `path: azureml://datastores/NAME/paths/...`, or a data asset "
                    "`azureml:NAME@latest`.",
                )
            )
    return findings


def redact_path(path: str | None) -> str | None:
    """``path`` with the credential it carries (a SAS signature, a URL's password, an account key)
    written as ``***``; the rest (account, container, folder) stays readable."""
    if not path:
        return path
    return redact_text(path)


# ------------------------------------------------------------------------------------------
# a whole job
# ------------------------------------------------------------------------------------------


def script_options(spec: JobSpec) -> ScriptOptions:
    """The options the job's entry script declares: ``script:``, or the first ``*.py`` (or ``-m
    module``) of the command, read from the code folder. Empty when there is none to read."""
    words = [w.text for w in shell_words(spec.command)]
    candidates = [spec.script] if spec.script else []
    for i, text in enumerate(words):
        if text.endswith(".py"):
            candidates.append(text)
        elif text == "-m" and i + 1 < len(words):
            candidates.append(words[i + 1].replace(".", "/") + ".py")
    for candidate in candidates:
        try:
            path = Path(spec.code_dir, candidate)
        except (TypeError, ValueError):
            continue
        found = read_script_options(path)
        if found.options:
            return found
    return ScriptOptions()


def _literal_inputs(spec: JobSpec) -> dict[str, str]:
    return {
        name: str(item.value)
        for name, item in spec.inputs.items()
        if item.is_literal and item.value is not None
    }


def check_job_secrets(spec: JobSpec) -> list[Finding]:
    """Every secrets finding of a planned job: its environment variables, its command line (short
    options resolved through the script's declared options), literal inputs, and input paths."""
    allow = list(spec.preflight.allow)
    findings = check_environment_variables(spec.user_environment_variables, allow)
    findings += _command_findings(_command_hits(spec.command, allow, script_options(spec)))
    for name, value in _literal_inputs(spec).items():
        hit = None if name in allow else classify(name, value)
        if hit is not None:
            code = "secret-in-args" if hit.severity == "error" else "possible-secret-in-args"
            what = f"input `{_shown_name(name)}` (a literal value the command receives)"
            findings.append(Finding(hit.severity, code, _command_message(what, hit.reason, name)))  # type: ignore[arg-type]
    findings += check_input_paths({name: item.path for name, item in spec.inputs.items()})
    return findings


@dataclass(frozen=True)
class _JobFacts:
    options: ScriptOptions
    values: frozenset[str]


_facts_cache: dict[int, tuple[Any, _JobFacts]] = {}


def _job_facts(spec: JobSpec) -> _JobFacts:
    """The script's options and the job's secret values, computed once per spec (redaction of a log
    line must not re-read a long command)."""
    cached = _facts_cache.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    allow = set(spec.preflight.allow)
    options = script_options(spec)
    values: set[str] = set()
    env = spec.user_environment_variables
    values.update(v for k, v in env.items() if k not in allow and classify(k, v) is not None)
    values.update(h.word.text[h.start : h.end] for h in _command_hits(spec.command, allow, options))
    values.update(v for k, v in _literal_inputs(spec).items() if k not in allow and classify(k, v))
    for item in spec.inputs.values():
        if item.path:
            values.update(item.path[a:b] for a, b, _ in format_spans(item.path))
    facts = _JobFacts(options, frozenset(v for v in values if v.strip()))
    if len(_facts_cache) > 16:
        _facts_cache.clear()
    _facts_cache[id(spec)] = (spec, facts)
    return facts


def job_secret_values(spec: JobSpec) -> frozenset[str]:
    """The secret values of a planned job (what its checks flag, allowed names excepted): hidden by
    :func:`redact_text` wherever they appear."""
    return _job_facts(spec).values


# ------------------------------------------------------------------------------------------
# the one redaction
# ------------------------------------------------------------------------------------------

_ASSIGNMENT = re.compile(
    r"""(?<![\w.-])-{0,2}(?P<name>[A-Za-z_][\w.-]*)=(?:"(?P<dq>[^"\n]*)"|'(?P<sq>[^'\n]*)'|(?P<bare>[^\s'"`,;&)\]}]+))"""
)
_WORD = re.compile(r"\S+")
_WORD_EDGE = "'\"`()[]{}<>,;:."
_OPTION = re.compile(r"-{1,2}[A-Za-z][\w.-]*")


def _assignment_spans(text: str, allow: set[str]) -> list[tuple[int, int, str]]:
    spans = []
    for match in _ASSIGNMENT.finditer(text):
        name = match.group("name")
        group = next(g for g in ("dq", "sq", "bare") if match.group(g) is not None)
        value = match.group(group)
        if name in allow or _VARIABLE_REF.fullmatch(value) or _PLACEHOLDER.fullmatch(value):
            continue
        hit = classify(name, value, formats=False)
        if hit is None:  # (a known format is format_spans' to hide: just its secret part)
            continue
        spans.append((*match.span(group), REDACTED))
    return spans


def _option_value_spans(text: str, allow: set[str], options: ScriptOptions) -> list[tuple[int, int, str]]:
    """``--name value`` and ``-n value`` written with spaces, in free text (words split on whitespace)."""
    spans = []
    previous: tuple[str, ...] | None = None
    for match in _WORD.finditer(text):
        word = match.group()
        option = word.strip(_WORD_EDGE.replace("`", ""))  # `--name` in backticks is a name, not an option
        is_option = bool(_OPTION.fullmatch(option))
        core = word.strip(_WORD_EDGE)
        if previous is not None and core and not is_option:
            if not allow & set(previous) and not (_PLACEHOLDER.fullmatch(core) or core.startswith("$")):
                if any(classify(n, core, formats=False) for n in previous):
                    start = match.start() + word.find(core)
                    spans.append((start, start + len(core), REDACTED))
        previous = (*options.names(option), option.lstrip("-")) if is_option else None
        if is_option and _attached_short(option, options):  # -kVALUE: the value is in this word
            value_start = match.start() + word.find(option) + 2
            if not allow & set(options.names(option[:2])):
                if any(classify(n, option[2:], formats=False) for n in options.names(option[:2])):
                    spans.append((value_start, value_start + len(option) - 2, REDACTED))
            previous = None
    return spans


def _attached_short(option: str, options: ScriptOptions) -> bool:
    """``-kVALUE``: a declared short option ``-k`` with its value written in the same word."""
    return not option.startswith("--") and len(option) > 2 and bool(options.names(option[:2]))


def _literal_spans(text: str, values: Iterable[str]) -> list[tuple[int, int, str]]:
    spans = []
    for value in values:
        if len(value) >= _MIN_LITERAL:
            at = text.find(value)
            while at >= 0:
                spans.append((at, at + len(value), REDACTED))
                at = text.find(value, at + len(value))
        else:
            pattern = re.compile(r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])")
            spans += [(*m.span(), REDACTED) for m in pattern.finditer(text)]
    return spans


def redact_text(text: str, job: JobSpec | None = None) -> str:
    """``text`` with every secret in it written as ``***``: the one redaction every output goes through.

    Hidden: values of a known secret format anywhere (keys, tokens, the signature of a SAS, the password
    of a URL, private keys); the value of a secret-looking ``NAME=value``, ``--name=value``, ``--name
    value`` or ``-n value``; and, given the planned ``job``, every secret value of that job
    (:func:`job_secret_values`) wherever it appears, with its ``preflight.allow`` names honoured and
    its script's short options understood. Text without a secret comes back unchanged.
    """
    if not text:
        return text
    allow = set(job.preflight.allow) if job is not None else set()
    options = _job_facts(job).options if job is not None else ScriptOptions()
    spans = [(start, end, REDACTED) for start, end, _ in format_spans(text)]
    spans += _assignment_spans(text, allow)
    spans += _option_value_spans(text, allow, options)
    if job is not None:
        spans += _literal_spans(text, job_secret_values(job))
    # a `"${VAR}"` reference (what command.sh writes for a secret) or `***` holds no secret
    return splice(text, [s for s in spans if not _is_hidden_already(text[s[0] : s[1]])])


def redact_value(value: Any) -> str:
    """``repr(value)`` for a message (a config error's "got ..."), with every secret in it as ``***``: a
    list of words is judged as the command line it becomes, a mapping's values by their keys (as ``args``
    and ``environment_variables`` are), and the text as :func:`redact_text` judges any text."""
    text = repr(value)
    values = {v for v in _values_in(value, depth=0) if v.strip()}
    return redact_text(splice(text, _literal_spans(text, values)))


def _values_in(value: Any, depth: int) -> set[str]:
    """The secret values of a config value that failed validation (see :func:`redact_value`)."""
    import shlex

    found: set[str] = set()
    if depth > 8:
        return found
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, (Mapping, list, tuple)):
                found |= _values_in(item, depth + 1)
            elif item is not None and classify(str(key), item) is not None:
                found.add(str(item))
    elif isinstance(value, (list, tuple)):
        words = [str(v) for v in value if isinstance(v, (str, int, float))]
        found.update(h.word.text[h.start : h.end] for h in _command_hits(shlex.join(words), (), None))
        for item in value:
            if isinstance(item, (Mapping, list, tuple)):
                found |= _values_in(item, depth + 1)
    return found


def _is_hidden_already(value: str) -> bool:
    bare = value.strip("'\"")
    return bare == REDACTED or bool(_VARIABLE_REF.fullmatch(bare))


def redact_data(data: Any, job: JobSpec | None = None) -> Any:
    """A copy of JSON-like ``data`` (run.json, ``--json`` output, a resolved config) with every string
    passed through :func:`redact_text`; a number or boolean equal to one of the job's secret values
    becomes ``***`` too. Secret-looking environment values (``environment_variables``) and arguments
    (``args``) are hidden by name as well."""
    secrets = job_secret_values(job) if job is not None else frozenset()
    allow = set(job.preflight.allow) if job is not None else set()

    def walk(value: Any, key: str | None, parent: str | None) -> Any:
        if isinstance(value, Mapping):
            return {k: walk(v, str(k), key) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, key, parent) for v in value]
        if parent in ("environment_variables", "args") and key is not None:
            if key in allow:  # the job says it is not a secret
                return value
            if value is not None and not isinstance(value, bool) and classify(key, value) is not None:
                return REDACTED
        if isinstance(value, str):
            return redact_text(value, job)
        if value is not None and not isinstance(value, bool) and str(value) in secrets:
            return REDACTED
        return value

    return walk(data, None, None)


def redact_yaml(text: str, job: JobSpec | None = None) -> str:
    """A YAML document (an exported job) with every secret as ``***`` (:func:`redact_data` on its data);
    ``text`` itself when there is none, so the SDK's formatting is kept whenever it can be."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: a 10 MB job in a second, not ten
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return redact_text(text, job)
    safe = redact_data(data, job)
    if safe == data:
        return text
    return yaml.dump(safe, Dumper=dumper, sort_keys=False, width=100, allow_unicode=True)

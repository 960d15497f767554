"""Translate azure-core / azure-ai-ml / azure-identity exceptions into one-line AzureMLErrors.

The SDK's exception is chained (``raise ... from exc``) so ``--debug`` still shows everything.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping

from ..errors import AzureMLError, ConfigError

LOGIN_HINT = (
    "not signed in to Azure: run `az login` (or set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
    "AZURE_CLIENT_SECRET for a service principal, or use a managed identity), then retry"
)
JOB_NOT_FOUND = "check the job name and the workspace (`azure-trainer list` shows the workspace's jobs)"
"""What to check when Azure ML has no job of the name asked for (``translated(not_found=...)``)."""
SP_VARS = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID")
SP_SECRET_VARS = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH")

# What urllib3 / requests / the OS say when a host cannot be reached. DefaultAzureCredential flattens the
# failing credential's exception into its message (no __cause__), so the text is all there is to go on.
_NETWORK_TEXT = re.compile(
    r"Failed to resolve|Name or service not known|nodename nor servname|getaddrinfo failed|"
    r"Temporary failure in name resolution|No address associated with hostname|"
    r"Failed to establish a new connection|Connection refused|Connection reset|Connection aborted|"
    r"Max retries exceeded|Unable to connect to proxy|ProxyError|Network is unreachable|"
    r"No route to host|timed out|ConnectTimeout",
    re.IGNORECASE,
)
_HOST = re.compile(r"host='([^']+)'|Failed to resolve '([^']+)'")
_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^)\]'\"]+)")
_AADSTS = re.compile(r"AADSTS\d+:[^.\r\n]*")


@contextlib.contextmanager
def translated(action: str, *, not_found: str = "") -> Iterator[None]:
    """Run the block; turn any exception of the Azure call path into one :class:`AzureMLError` line saying
    what failed while ``action`` (the original is chained, for ``--debug``); ``not_found`` is added to
    the message of a 404 on a job (what to check).

    Ctrl-C stays Ctrl-C, even where the SDK wrapped it (``jobs.stream`` turns it into a JobException).
    """
    try:
        yield
    except (ConfigError, AzureMLError):
        raise
    except Exception as exc:
        if any(isinstance(e, KeyboardInterrupt) for e in _chain(exc)):
            raise KeyboardInterrupt from exc
        error = azure_ml_error(action, exc)
        if not_found and _job_not_found(exc):
            error = AzureMLError(f"{error}; {not_found}")
        raise error from exc


def _job_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is a 404 on a job resource (``.../jobs/NAME``), not on a log or output blob."""
    from azure.core.exceptions import ResourceNotFoundError

    core = transport_cause(exc)
    request = getattr(getattr(core, "response", None), "request", None)
    return isinstance(core, ResourceNotFoundError) and "/jobs/" in str(getattr(request, "url", ""))


def azure_ml_error(action: str, exc: BaseException) -> AzureMLError:
    """The one-line AzureMLError for ``exc``, raised by the SDK (or below it) while ``action``.

    The SDK often wraps the transport's error (an upload's reset arrives as an AssetException around a
    ServiceResponseError): the first azure-core error down the chain decides what is said.
    """
    from azure.core.exceptions import (
        ClientAuthenticationError,
        DecodeError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if any(isinstance(e, ClientAuthenticationError) or _is_credential_error(e) for e in _chain(exc)):
        cause = next(
            e for e in _chain(exc) if isinstance(e, ClientAuthenticationError) or _is_credential_error(e)
        )
        return AzureMLError(f"{action}: {sign_in_problem(cause)}")
    core = transport_cause(exc)
    if isinstance(core, ResourceNotFoundError):
        return AzureMLError(f"{action}: not found ({_reason(core)})")
    if isinstance(core, (ServiceRequestError, ServiceResponseError)):
        return AzureMLError(
            f"{action}: cannot reach Azure ML ({connection_problem(core)}); check the network, proxy and "
            "the workspace's subscription / resource group / name"
        )
    if isinstance(exc, (DecodeError, json.JSONDecodeError)) or (
        core is None and any(isinstance(e, json.JSONDecodeError) for e in _chain(exc))
    ):
        return AzureMLError(f"{action}: Azure ML sent an answer that could not be read ({_reason(exc)})")
    if isinstance(core, HttpResponseError):
        status = getattr(core, "status_code", None)
        if status == 403:
            return AzureMLError(
                f"{action}: access denied; ask for a role on the workspace such as "
                f"'AzureML Data Scientist' ({_reason(core)})"
            )
        if status == 429:
            return AzureMLError(f"{action}: Azure is throttling requests; wait a minute and retry")
        if isinstance(status, int) and status < 400:  # a success whose body azure-core could not parse
            return AzureMLError(f"{action}: Azure ML sent an answer that could not be read ({_reason(core)})")
        if isinstance(status, int) and status >= 500:
            return AzureMLError(
                f"{action}: Azure ML answered {status}: {_reason(core)}; a fault on Azure's side: try "
                "again in a few minutes"
            )
        return AzureMLError(f"{action}: Azure ML answered {status}: {_reason(core)}")
    if type(exc).__module__.startswith("azure."):
        reason = _reason(exc)
        # some SDK errors carry only a key or an index ("JobParsingError: 0"): name the kind, then
        return AzureMLError(f"{action}: {reason if ' ' in reason else f'{type(exc).__name__}: {reason}'}")
    # anything else raised inside the SDK (a KeyError on an answer it did not expect, ...)
    return AzureMLError(f"{action}: azure-ai-ml failed ({type(exc).__name__}: {_reason(exc)})")


def transport_cause(exc: BaseException | None) -> BaseException | None:
    """The first azure-core HTTP or connection error in ``exc``'s chain (``exc`` itself included)."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if exc is None:
        return None
    return next(
        (
            e
            for e in _chain(exc)
            if isinstance(e, (HttpResponseError, ServiceRequestError, ServiceResponseError))
        ),
        None,
    )


def connection_problem(exc: BaseException) -> str:
    """What went wrong with the connection, in words (not requests' ``('Connection aborted.', ...)``)."""
    for candidate in _chain_with_args(exc):
        if isinstance(candidate, ConnectionResetError):
            return "the connection was reset"
        if isinstance(candidate, TimeoutError) or "timed out" in str(candidate).lower():
            return "the connection timed out"
    text = _reason(exc)
    if "Connection aborted" in text or "RemoteDisconnected" in text:
        return "the connection was closed before Azure ML answered"
    unreachable = _unreachable_host(exc, [str(getattr(e, "message", None) or e) for e in _chain(exc)])
    return unreachable or text


def _chain_with_args(exc: BaseException) -> list[BaseException]:
    """``exc``'s cause/context chain, plus exceptions carried in their ``args`` (requests nests urllib3's
    ProtocolError, which nests the OSError, in args rather than as causes)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        inner = getattr(current, "inner_exception", None) or getattr(current, "error", None)
        if isinstance(inner, BaseException):
            todo.append(inner)
    return seen


def sign_in_problem(exc: BaseException, environ: Mapping[str, str] | None = None) -> str:
    """What went wrong getting a token, and what to do: no network, a rejected service principal, or no login.

    Never includes the client secret, even if a message from the identity library echoed it.
    """
    environ = os.environ if environ is None else environ
    texts = [str(getattr(e, "message", None) or e) for e in _chain(exc)]
    unreachable = _unreachable_host(exc, texts)
    if unreachable is not None:
        message = (
            f"cannot reach Azure (network/DNS/proxy: {unreachable}); check the network connection, DNS "
            "and any HTTPS_PROXY / NO_PROXY setting, then retry"
        )
    elif _service_principal_set(environ) and not _environment_credential_unavailable(exc, texts[0]):
        message = (
            "the service principal in AZURE_TENANT_ID / AZURE_CLIENT_ID was rejected "
            f"({_rejection_reason(texts[0])}); check the tenant id, the client id and that its secret or "
            "certificate is current"
        )
    elif getattr(exc, "status_code", None) == 401:
        message = (
            f"Azure rejected the sign-in ({_reason(exc)}); run `az login` (with `--tenant` for the "
            "workspace's tenant), then retry"
        )
    else:
        message = LOGIN_HINT
    for var in ("AZURE_CLIENT_SECRET", "AZURE_PASSWORD"):
        secret = environ.get(var)
        if secret and len(secret) >= 4:
            message = message.replace(secret, "***")
    return message


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _unreachable_host(exc: BaseException, texts: list[str]) -> str | None:
    """``host: reason`` (or just a reason) when ``exc`` comes from a failed connection, else None."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    chained = [
        text
        for e, text in zip(_chain(exc), texts, strict=True)
        if isinstance(e, (ServiceRequestError, ServiceResponseError, ConnectionError, TimeoutError))
    ]
    # A credential that is merely unavailable (no IMDS endpoint, no az CLI) is not a network failure.
    lines = [line for text in texts for line in text.splitlines() if "unavailable" not in line.lower()]
    candidates = chained or [line for line in lines if _NETWORK_TEXT.search(line)]
    if not candidates:
        return None
    text = candidates[0]
    host_match = _HOST.search(text)
    host = next((g for g in host_match.groups() if g), None) if host_match else None
    os_reason = _OS_REASON.search(text)
    reason = os_reason.group(1).strip() if os_reason else _first_line(text)
    return f"{host}: {reason}" if host else reason


def _service_principal_set(environ: Mapping[str, str]) -> bool:
    return all(environ.get(v) for v in SP_VARS) and any(environ.get(v) for v in SP_SECRET_VARS)


def _environment_credential_unavailable(exc: BaseException, text: str) -> bool:
    # DefaultAzureCredential lists each credential it tried: when the environment one was "unavailable"
    # the service principal was never sent to Entra ID, so it cannot have been rejected.
    return _is_credential_error(exc) or "EnvironmentCredential authentication unavailable" in text


def _rejection_reason(text: str) -> str:
    code = _AADSTS.search(text)
    if code:
        return code.group(0).strip()
    for line in text.splitlines():
        if "EnvironmentCredential:" in line:
            return line.split("EnvironmentCredential:", 1)[1].strip()[:300]
    return _first_line(text)


def _is_credential_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "CredentialUnavailableError"


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:300] if stripped else "no details"


_HTML = re.compile(r"<\s*(?:!doctype\s+html|html)\b", re.IGNORECASE)
_TITLE = re.compile(r"<\s*title[^>]*>([^<]*)<", re.IGNORECASE)


def _reason(exc: BaseException) -> str:
    message = str(getattr(exc, "message", None) or str(exc) or type(exc).__name__)
    html = _HTML.search(message)
    if html:  # a proxy's or gateway's error page, not Azure's JSON: its title is the news
        title = _TITLE.search(message, html.start())
        text = " ".join(title.group(1).split()) if title else ""
        before = message[: html.start()].strip().rstrip(":").strip()
        page = f"an HTML page{f' titled {text!r}' if text else ''} instead of Azure's JSON answer (a proxy?)"
        return f"{before}: {page}"[:300] if before else page[:300]
    first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return first[:300]

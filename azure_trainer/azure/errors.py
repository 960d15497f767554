"""Translate azure-core / azure-ai-ml / azure-identity exceptions into one-line AzureErrors.

The SDK's exception is chained (``raise ... from exc``) so ``--debug`` still shows everything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import AzureError, ConfigError

LOGIN_HINT = (
    "not signed in to Azure: run `az login` (or set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
    "AZURE_CLIENT_SECRET for a service principal, or use a managed identity), then retry"
)


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Run the block; turn SDK exceptions into :class:`AzureError` saying what failed while ``action``."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        yield
    except (ConfigError, AzureError):
        raise
    except ClientAuthenticationError as exc:
        raise AzureError(f"{action}: {LOGIN_HINT}") from exc
    except ResourceNotFoundError as exc:
        raise AzureError(f"{action}: not found ({_reason(exc)})") from exc
    except HttpResponseError as exc:
        status = getattr(exc, "status_code", None)
        if status == 403:
            raise AzureError(
                f"{action}: access denied; ask for a role on the workspace such as "
                f"'AzureML Data Scientist' ({_reason(exc)})"
            ) from exc
        if status == 429:
            raise AzureError(f"{action}: Azure is throttling requests; wait a minute and retry") from exc
        raise AzureError(f"{action}: Azure ML answered {status}: {_reason(exc)}") from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise AzureError(
            f"{action}: cannot reach Azure ML ({_reason(exc)}); check the network, proxy and "
            "the workspace's subscription / resource group / name"
        ) from exc
    except Exception as exc:
        if _is_credential_error(exc):
            raise AzureError(f"{action}: {LOGIN_HINT}") from exc
        if type(exc).__module__.startswith("azure.ai.ml"):
            raise AzureError(f"{action}: {_reason(exc)}") from exc
        raise


def _is_credential_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "CredentialUnavailableError"


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    first = str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__
    return first[:300]

"""Credentials for tests: one that always works offline, one that behaves like "not logged in"."""

from __future__ import annotations

from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo

FAR_FUTURE = 4102444800  # 2100-01-01T00:00:00Z


class FakeCredential:
    """A ``TokenCredential`` (and ``SupportsTokenInfo``) returning ``"fake-token"``.

    Records the requested scopes in :attr:`scopes`."""

    def __init__(self, token: str = "fake-token") -> None:
        self.token = token
        self.scopes: list[tuple] = []

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, FAR_FUTURE)

    def get_token_info(self, *scopes: str, options: dict | None = None) -> AccessTokenInfo:
        self.scopes.append(scopes)
        return AccessTokenInfo(self.token, FAR_FUTURE, token_type="Bearer", refresh_on=None)

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeCredential:
        return self

    def __exit__(self, *args: Any) -> None:
        pass


NOT_LOGGED_IN_MESSAGE = (
    "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
    "Attempted credentials:\n"
    "\tEnvironmentCredential: EnvironmentCredential authentication unavailable. "
    "Environment variables are not fully configured.\n"
    "\tManagedIdentityCredential: ManagedIdentityCredential authentication unavailable, "
    "no response from the IMDS endpoint.\n"
    "\tAzureCliCredential: Please run 'az login' to set up an account\n"
    "To mitigate this issue, please refer to the troubleshooting guidelines here at "
    "https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot."
)


class FailingCredential:
    """Behaves like ``DefaultAzureCredential`` on a machine where nobody ran ``az login``.

    ``error`` is the exception type raised by ``get_token``/``get_token_info``: the default
    ``ClientAuthenticationError`` is what ``DefaultAzureCredential.get_token`` raises when every
    credential in the chain is unavailable; use ``azure.identity.CredentialUnavailableError`` to mimic
    a single credential (e.g. ``AzureCliCredential``) being unavailable. ``calls`` counts attempts.
    """

    def __init__(self, error: type[Exception] | None = None, message: str = NOT_LOGGED_IN_MESSAGE) -> None:
        if error is None:
            from azure.core.exceptions import ClientAuthenticationError

            error = ClientAuthenticationError
        self.error = error
        self.message = message
        self.calls = 0

    def _raise(self) -> None:
        self.calls += 1
        raise self.error(message=self.message)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self._raise()
        raise AssertionError  # pragma: no cover

    def get_token_info(self, *scopes: str, options: dict | None = None) -> AccessTokenInfo:
        self._raise()
        raise AssertionError  # pragma: no cover

    def close(self) -> None:
        pass

"""Guard against real network access in tests."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


class NetworkBlockedError(RuntimeError):
    """A real network call was attempted inside :func:`block_network`."""

    pass


@contextlib.contextmanager
def block_network() -> Iterator[list[tuple]]:
    """Make any socket connect / DNS lookup raise :class:`NetworkBlockedError` (recorded in the yielded list).

    Use around code driven by :class:`FakeAzureML` to prove nothing bypasses the fake transport: every
    azure-core pipeline that forgot ``transport=`` would otherwise try ``management.azure.com`` or
    ``*.blob.core.windows.net``. Local ``AF_UNIX`` sockets are allowed.
    """
    attempts: list[tuple] = []
    orig_connect = socket.socket.connect
    orig_connect_ex = socket.socket.connect_ex
    orig_getaddrinfo = socket.getaddrinfo

    def _deny(kind: str, target: object) -> None:
        attempts.append((kind, target))
        raise NetworkBlockedError(f"network access blocked in tests: {kind} {target!r}")

    def connect(self: socket.socket, address: object) -> None:
        if self.family == getattr(socket, "AF_UNIX", None):
            return orig_connect(self, address)
        _deny("connect", address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if self.family == getattr(socket, "AF_UNIX", None):
            return orig_connect_ex(self, address)
        _deny("connect", address)
        return 1  # pragma: no cover

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        _deny("getaddrinfo", host)
        return []  # pragma: no cover

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    try:
        yield attempts
    finally:
        socket.socket.connect = orig_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = orig_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = orig_getaddrinfo  # type: ignore[assignment]

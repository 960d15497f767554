"""HTTP plumbing of the fake Azure ML: azure-core responses built without a socket, the recorded
request, the ARM error body, and a small regex router. Nothing here knows any Azure ML resource."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from re import Pattern
from typing import Any, Union
from urllib.parse import parse_qs, urlsplit

import requests
import urllib3
from azure.core.pipeline._tools import handle_non_stream_rest_response as _handle_non_stream_rest_response
from azure.core.pipeline._tools import is_rest
from azure.core.pipeline.transport import RequestsTransportResponse
from azure.core.rest._requests_basic import RestRequestsTransportResponse
from requests.structures import CaseInsensitiveDict

Body = Union[None, bytes, str, dict, list]  # noqa: UP007 (runtime alias, py3.10 target)


@dataclass
class FakeResponse:
    """What a route handler returns; turned into a real azure-core response by the transport."""

    status: int = 200
    body: Body = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    """One request the fake received. ``json`` is the decoded JSON body (or None), ``body`` the raw bytes."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    status: int = 0  # the status the fake answered with
    response_headers: dict[str, str] = field(default_factory=dict)
    """The headers the fake answered with (before the transport's own Content-Length, x-ms-request-id)."""
    response_json: Any = None
    """The JSON body the fake answered with (None for other bodies)."""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.url).query, keep_blank_values=True).items()}

    def __iter__(self):  # allows ``method, url, body = rec``
        yield self.method
        yield self.url
        yield self.json if self.json is not None else self.body

    def __repr__(self) -> str:  # keep pytest failure output readable
        return f"<{self.method} {self.url} -> {self.status}>"


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def encode_body(body: Body, headers: dict[str, str]) -> bytes:
    if body is None:
        return b""
    if isinstance(body, (dict, list)):
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return json.dumps(body).encode("utf-8")
    if isinstance(body, str):
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return body.encode("utf-8")
    return bytes(body)


def build_azure_response(request: Any, fake: FakeResponse, *, stream: bool = False, block_size: int = 4096):
    """Wrap ``fake`` in the same response classes ``RequestsTransport`` returns, backed by an in-memory
    ``requests.Response`` so streaming downloads, ``.text()``, ``.json()`` etc. all behave as usual."""
    headers = dict(fake.headers)
    data = encode_body(fake.body, headers)
    headers.setdefault("Content-Length", str(len(data)))
    headers.setdefault("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
    raw = urllib3.HTTPResponse(
        body=io.BytesIO(data),
        headers=headers,
        status=fake.status,
        preload_content=False,
        decode_content=False,
    )
    resp = requests.Response()
    resp.status_code = fake.status
    resp.reason = _REASONS.get(fake.status, "Unknown")
    resp.headers = CaseInsensitiveDict(headers)
    resp.raw = raw
    resp.url = request.url
    resp.encoding = "utf-8"
    if is_rest(request):
        out = RestRequestsTransportResponse(request=request, internal_response=resp, block_size=block_size)
        if not stream:
            _handle_non_stream_rest_response(out)
        return out
    return RequestsTransportResponse(request, resp, block_size)


def azure_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> FakeResponse:
    """An ARM error response: ``{"error": {"code", "message"}}`` (Azure's common ErrorResponse shape)."""
    return FakeResponse(status, {"error": {"code": code, "message": message}}, dict(headers or {}))


def request_body(request: Any) -> bytes:
    """The body of an azure-core request as bytes, whatever form the client gave it in."""
    for attr in ("content", "body", "data"):
        value = getattr(request, attr, None)
        if value is None:
            continue
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        if hasattr(value, "read"):
            data = value.read()
            with contextlib.suppress(Exception):  # a non-seekable stream is read once, as a socket would
                value.seek(0)
            return data if isinstance(data, bytes) else str(data).encode()
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value).encode()
        try:  # generators/iterables of chunks
            return b"".join(bytes(c) for c in value)
        except TypeError:
            continue
    return b""


Handler = Callable[..., FakeResponse]


@dataclass
class Route:
    method: str
    pattern: Pattern[str]
    handler: Handler
    host: Pattern[str] | None = None


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, path_regex: str, handler: Handler, host_regex: str | None = None) -> None:
        self.routes.append(
            Route(
                method.upper(),
                re.compile(path_regex + r"$", re.I),
                handler,
                re.compile(host_regex, re.I) if host_regex else None,
            )
        )

    def match(self, method: str, host: str, path: str) -> tuple[Handler | None, dict[str, str]]:
        for r in self.routes:
            if r.method != method.upper() and r.method != "*":
                continue
            if r.host is not None and not r.host.search(host):
                continue
            m = r.pattern.match(path)
            if m:
                return r.handler, m.groupdict()
        return None, {}

"""ARM list paging for the fake: a page of ``value`` and, while more remain, a ``nextLink`` to the next one
(as ``Compute/list.json`` and ``Job/*/list.json`` show). The link carries a ``$skipToken`` (the offset)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._http import RecordedRequest


def page(rec: RecordedRequest, items: list[Any], size: int) -> dict[str, Any]:
    """The page of ``items`` that ``rec`` asks for (``$skipToken``), ``size`` at most."""
    try:
        start = max(0, int(rec.query.get("$skipToken") or 0))
    except ValueError:
        start = 0
    body: dict[str, Any] = {"value": items[start : start + size]}
    if start + size < len(items):
        body["nextLink"] = _with_skip_token(rec.url, start + size)
    return body


def _with_skip_token(url: str, offset: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "$skipToken"]
    query.append(("$skipToken", str(offset)))
    return urlunsplit(parts._replace(query=urlencode(query)))

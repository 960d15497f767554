"""An in-memory Azure Blob Storage data plane (the subset azure-storage-blob uses for uploads,
listing, properties, metadata and ranged downloads)."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from ._http import FakeResponse, RecordedRequest


@dataclass
class Blob:
    data: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    last_modified: float = field(default_factory=time.time)
    etag: str = ""

    def __post_init__(self) -> None:
        if not self.etag:
            self.etag = (
                f'"0x{hashlib.md5(self.data + str(self.last_modified).encode()).hexdigest()[:15].upper()}"'
            )

    def to_json(self, write_data: Callable[[bytes], str]) -> dict[str, Any]:
        """The blob's properties, its content stored by ``write_data`` (which returns a key for it)."""
        return {
            "data": write_data(self.data),
            "metadata": self.metadata,
            "content_type": self.content_type,
            "last_modified": self.last_modified,
            "etag": self.etag,
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any], read_data: Callable[[str], bytes]) -> Blob:
        return cls(
            read_data(entry["data"]),
            dict(entry["metadata"]),
            entry["content_type"],
            entry["last_modified"],
            entry["etag"],
        )


def _http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def _storage_error(status: int, code: str, message: str) -> FakeResponse:
    xml = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
        f"<Message>{escape(message)}\nRequestId:00000000-0000</Message></Error>"
    )
    return FakeResponse(status, xml.encode(), {"x-ms-error-code": code, "Content-Type": "application/xml"})


class FakeBlobStore:
    """``containers[account][container][blob_name] -> Blob``. Containers are created on first write."""

    def __init__(self) -> None:
        self.containers: dict[tuple[str, str], dict[str, Blob]] = {}
        self._blocks: dict[tuple[str, str, str], dict[str, bytes]] = {}

    # ---- test-facing helpers -------------------------------------------------------------------
    def container(self, account: str, container: str) -> dict[str, Blob]:
        return self.containers.setdefault((account, container), {})

    def put(self, account: str, container: str, name: str, data: bytes | str, **metadata: str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.container(account, container)[name] = Blob(data, dict(metadata))

    def get(self, account: str, container: str, name: str) -> bytes | None:
        blob = self.containers.get((account, container), {}).get(name)
        return blob.data if blob else None

    def to_json(self, write_data: Callable[[bytes], str]) -> list[dict[str, Any]]:
        """Every blob, for saving (see :class:`~._store.FolderStore`); staged blocks are not kept."""
        return [
            {"account": account, "container": container, "name": name, **blob.to_json(write_data)}
            for (account, container), blobs in self.containers.items()
            for name, blob in blobs.items()
        ]

    def load_json(self, entries: list[dict[str, Any]], read_data: Callable[[str], bytes]) -> None:
        """Replace the contents with ``entries`` (from :meth:`to_json`)."""
        self.containers = {}
        for entry in entries:
            self.container(entry["account"], entry["container"])[entry["name"]] = Blob.from_json(
                entry, read_data
            )

    def names(self, account: str | None = None, container: str | None = None) -> list[str]:
        out = []
        for (acc, cont), blobs in self.containers.items():
            if (account is None or acc == account) and (container is None or cont == container):
                out.extend(blobs)
        return sorted(out)

    # ---- REST ------------------------------------------------------------------------------------
    def handle(self, req: RecordedRequest, account: str) -> FakeResponse:
        path = unquote(req.path).lstrip("/")
        q = req.query
        container, _, blob_name = path.partition("/")
        method = req.method
        common = {"x-ms-version": req.headers.get("x-ms-version", "2025-01-05")}

        if not blob_name:
            if q.get("restype") == "container" and q.get("comp") == "list" and method == "GET":
                return self._list(account, container, q)
            if q.get("restype") == "container" and method == "PUT":
                if (account, container) in self.containers:
                    return _storage_error(
                        409, "ContainerAlreadyExists", "The specified container already exists."
                    )
                self.container(account, container)
                return FakeResponse(
                    201, None, {**common, "ETag": '"0x1"', "Last-Modified": _http_date(time.time())}
                )
            if q.get("restype") == "container" and method in ("GET", "HEAD"):
                if (account, container) not in self.containers:
                    return _storage_error(404, "ContainerNotFound", "The specified container does not exist.")
                return FakeResponse(
                    200, None, {**common, "ETag": '"0x1"', "Last-Modified": _http_date(time.time())}
                )
            return FakeResponse(501, f"FakeBlobStore: unsupported container operation {method} {req.url}")

        blobs = self.container(account, container)
        comp = q.get("comp")
        key = (account, container, blob_name)
        if method == "PUT" and comp == "block":
            self._blocks.setdefault(key, {})[q["blockid"]] = req.body
            return FakeResponse(201, None, {**common, "x-ms-request-server-encrypted": "true"})
        if method == "PUT" and comp == "blocklist":
            ids = _parse_block_list(req.body)
            staged = self._blocks.pop(key, {})
            data = b"".join(staged.get(i, b"") for i in ids)
            blob = Blob(
                data,
                _meta_from_headers(req.headers),
                req.headers.get("x-ms-blob-content-type", "application/octet-stream"),
            )
            blobs[blob_name] = blob
            return FakeResponse(
                201, None, {**common, "ETag": blob.etag, "Last-Modified": _http_date(blob.last_modified)}
            )
        if method == "PUT" and comp == "metadata":
            blob = blobs.get(blob_name)
            if blob is None:
                return _storage_error(404, "BlobNotFound", "The specified blob does not exist.")
            blob.metadata = _meta_from_headers(req.headers)
            return FakeResponse(
                200, None, {**common, "ETag": blob.etag, "Last-Modified": _http_date(blob.last_modified)}
            )
        if method == "PUT" and comp is None:
            if req.headers.get("If-None-Match") == "*" and blob_name in blobs:
                return _storage_error(409, "BlobAlreadyExists", "The specified blob already exists.")
            ctype = req.headers.get("x-ms-blob-content-type", "application/octet-stream")
            blob = Blob(req.body, _meta_from_headers(req.headers), ctype)
            blobs[blob_name] = blob
            md5 = base64.b64encode(hashlib.md5(req.body).digest()).decode()
            return FakeResponse(
                201,
                None,
                {
                    **common,
                    "ETag": blob.etag,
                    "Last-Modified": _http_date(blob.last_modified),
                    "Content-MD5": md5,
                    "x-ms-request-server-encrypted": "true",
                },
            )
        if method == "DELETE":
            if blobs.pop(blob_name, None) is None:
                return _storage_error(404, "BlobNotFound", "The specified blob does not exist.")
            return FakeResponse(202, None, common)
        if method in ("GET", "HEAD"):
            blob = blobs.get(blob_name)
            if blob is None:
                return _storage_error(404, "BlobNotFound", "The specified blob does not exist.")
            headers = {
                **common,
                "ETag": blob.etag,
                "Last-Modified": _http_date(blob.last_modified),
                "x-ms-creation-time": _http_date(blob.last_modified),
                "x-ms-blob-type": "BlockBlob",
                "Content-Type": blob.content_type,
                "x-ms-lease-state": "available",
                "x-ms-lease-status": "unlocked",
                "x-ms-server-encrypted": "true",
                "Accept-Ranges": "bytes",
            }
            for k, v in blob.metadata.items():
                headers["x-ms-meta-" + k] = v
            data = blob.data
            status = 200
            rng = req.headers.get("x-ms-range") or req.headers.get("Range")
            if rng and method == "GET":
                start_s, _, end_s = rng.replace("bytes=", "").partition("-")
                start = int(start_s)
                if start >= len(data):
                    return _storage_error(
                        416,
                        "InvalidRange",
                        "The range specified is invalid for the current size of the resource.",
                    )
                end = min(int(end_s) if end_s else len(data) - 1, len(data) - 1)
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                data = data[start : end + 1]
                status = 206
            headers["Content-Length"] = str(len(blob.data) if method == "HEAD" else len(data))
            return FakeResponse(status, None if method == "HEAD" else data, headers)
        return FakeResponse(501, f"FakeBlobStore: unsupported blob operation {method} {req.url}")

    def _list(self, account: str, container: str, q: dict[str, str]) -> FakeResponse:
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter")
        include_meta = "metadata" in q.get("include", "")
        blobs = self.containers.get((account, container), {})
        items, prefixes = [], []
        for name in sorted(blobs):
            if not name.startswith(prefix):
                continue
            if delimiter:
                rest = name[len(prefix) :]
                if delimiter in rest:
                    p = prefix + rest.split(delimiter, 1)[0] + delimiter
                    if p not in prefixes:
                        prefixes.append(p)
                    continue
            items.append((name, blobs[name]))
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<EnumerationResults ServiceEndpoint="https://{account}.blob.core.windows.net/" '
            f'ContainerName="{escape(container)}">',
            f"<Prefix>{escape(prefix)}</Prefix>",
        ]
        if delimiter:
            parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        parts.append("<Blobs>")
        for p in prefixes:
            parts.append(f"<BlobPrefix><Name>{escape(p)}</Name></BlobPrefix>")
        for name, blob in items:
            meta = (
                "".join(f"<{k}>{escape(v)}</{k}>" for k, v in blob.metadata.items()) if include_meta else ""
            )
            parts.append(
                f"<Blob><Name>{escape(name)}</Name><Properties>"
                f"<Creation-Time>{_http_date(blob.last_modified)}</Creation-Time>"
                f"<Last-Modified>{_http_date(blob.last_modified)}</Last-Modified><Etag>{blob.etag.strip(chr(34))}</Etag>"
                f"<Content-Length>{len(blob.data)}</Content-Length><Content-Type>{blob.content_type}</Content-Type>"
                f"<BlobType>BlockBlob</BlobType><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
                f"<ServerEncrypted>true</ServerEncrypted></Properties>"
                + (f"<Metadata>{meta}</Metadata>" if include_meta else "")
                + "</Blob>"
            )
        parts.append("</Blobs><NextMarker /></EnumerationResults>")
        return FakeResponse(200, "".join(parts).encode(), {"Content-Type": "application/xml"})


def _meta_from_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k[len("x-ms-meta-") :]: v for k, v in headers.items() if k.lower().startswith("x-ms-meta-")}


def _parse_block_list(body: bytes) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(body)
    return [el.text or "" for el in root]

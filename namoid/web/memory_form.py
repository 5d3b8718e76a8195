"""multipart/form-data parsed entirely in memory, within a cap (RFC 7578).

Starlette's ``request.form()`` spools file parts over 1 MiB to a temporary file; an
offline e-KYC upload must never touch the disk, so its routes read the raw body
themselves (counted against their cap while streaming) and parse it here into bytes.
"""

from __future__ import annotations

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

MAX_PARTS = 8
MAX_HEADER_BYTES = 1024


class FormRejected(ValueError):
    """The body is too large or not a well-formed multipart form."""


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing (before buffering more) once it passes ``max_bytes``."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise FormRejected("the upload is too large")
    return bytes(body)


class _Collector:
    def __init__(self) -> None:
        self.fields: dict[str, bytes] = {}
        self._header = bytearray()
        self._header_name = b""
        self._name: str | None = None
        self._data = bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]
        if len(self._header) > MAX_HEADER_BYTES:
            raise FormRejected("a part header is too long")

    def header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            disposition, params = parse_options_header(bytes(self._header))
            if disposition != b"form-data" or b"name" not in params:
                raise FormRejected("a part is not form data")
            self._name = params[b"name"].decode("utf-8", "replace")
        self._header_name, self._header = b"", bytearray()

    def part_data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def part_end(self) -> None:
        if self._name is None or self._name in self.fields or len(self.fields) >= MAX_PARTS:
            raise FormRejected("a part is unnamed or repeated, or there are too many")
        self.fields[self._name] = bytes(self._data)
        self._name, self._data = None, bytearray()


def parse(body: bytes, content_type: str | None) -> dict[str, bytes]:
    """The form's parts by name (each at most once) as bytes; FormRejected otherwise."""
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary or len(boundary) > 70:
        raise FormRejected("expected multipart/form-data")
    collector = _Collector()
    callbacks = {
        "on_header_field": collector.header_field,
        "on_header_value": collector.header_value,
        "on_header_end": collector.header_end,
        "on_part_data": collector.part_data,
        "on_part_end": collector.part_end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        parser.write(body)
        parser.finalize()
    except FormRejected:
        raise
    except Exception:
        raise FormRejected("the multipart body is malformed") from None
    return collector.fields

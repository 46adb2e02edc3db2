"""A streaming ``multipart/form-data`` reader with an upload limit enforced while the body arrives.

Starlette's ``request.form()`` spools the whole body before the handler sees it, so a limit could only be
checked afterwards. Here the body is read chunk by chunk from ``request.stream()`` through
``python_multipart``'s incremental parser: file parts go straight to a temporary file on disk (memory stays
flat for bodies of any size), text fields are kept (small, capped), and the read stops with **413** as
soon as the limit is passed — before any expensive work.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from voicestack.text import shown
from voicestack_router.errors import ApiError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}

MAX_FIELD_BYTES = 1024 * 1024
FORM_OVERHEAD_BYTES = 1024 * 1024  # boundaries, part headers and text fields on top of the file limit
READ_CHUNK_BYTES = 1024 * 1024
DRAIN_LIMIT_BYTES = 256 * 1024 * 1024  # read and drop this much of a refused body so the client sees the 413


@dataclass
class UploadedFile:
    """A file part saved to a temporary file."""

    field_name: str
    filename: str
    content_type: str
    path: Path
    size: int = 0

    async def chunks(self, chunk_size: int = READ_CHUNK_BYTES) -> AsyncIterator[bytes]:
        """The file's bytes in chunks (for a streaming upload to a predictor)."""
        with self.path.open("rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


@dataclass
class MultipartForm:
    """Text fields (every value, in order) and file parts of a parsed form."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        """A boolean field: true/1/yes/on or false/0/no/off (absent: false); else a 400."""
        value = (self.get(name) or "").strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ApiError(400, f"'{name}' must be true or false", param=name, code="invalid_value")

    def get_all(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))

    def close(self) -> None:
        """Delete the temporary files."""
        for upload in self.files.values():
            with contextlib.suppress(FileNotFoundError):
                upload.path.unlink()


class _PartCollector:
    """The parser's callbacks: headers of the current part, then its data to memory or to disk."""

    def __init__(self, form: MultipartForm, max_file_bytes: int, spool_dir: str | None) -> None:
        self.form = form
        self.max_file_bytes = max_file_bytes
        self.spool_dir = spool_dir
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_file = False
        self._buffer = bytearray()
        self._handle: IO[bytes] | None = None
        self._upload: UploadedFile | None = None
        self.error: ApiError | None = None

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self._headers = {}
        self._buffer = bytearray()
        self._handle = None
        self._upload = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._is_file = filename is not None
        if self._is_file:
            fd, path = tempfile.mkstemp(prefix="voicestack-upload-", dir=self.spool_dir)
            self._handle = os.fdopen(fd, "wb")
            content_type = self._headers.get(b"content-type", b"application/octet-stream").decode("latin-1")
            self._upload = UploadedFile(
                field_name=self._name,
                filename=(filename or b"").decode("utf-8", "replace"),
                content_type=content_type,
                path=Path(path),
            )
            previous = self.form.files.get(self._name)
            if previous is not None:  # a repeated file field: the last one wins
                with contextlib.suppress(FileNotFoundError):
                    previous.path.unlink()
            self.form.files[self._name] = self._upload

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        size = end - start
        if self._is_file:
            assert self._upload is not None and self._handle is not None
            self._upload.size += size
            if self._upload.size > self.max_file_bytes:
                self.error = too_large(self.max_file_bytes, self._name)
                return
            self._handle.write(data[start:end])
        else:
            self._buffer += data[start:end]
            if len(self._buffer) > MAX_FIELD_BYTES:
                self.error = ApiError(413, f"form field {shown(self._name)} is too large", param=self._name)

    def on_part_end(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        elif not self._is_file and self.error is None:
            value = self._buffer.decode("utf-8", "replace")
            self.form.fields.setdefault(self._name, []).append(value)

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def too_large(limit: int, param: str | None = None) -> ApiError:
    return ApiError(
        413,
        f"Upload too large: the limit is {limit / (1024 * 1024):g} MiB.",
        param=param,
        code="request_too_large",
    )


def multipart_boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise ApiError(
            415,
            "Unsupported media type: send the request as multipart/form-data.",
            code="unsupported_media_type",
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "multipart/form-data without a boundary", code="invalid_multipart")
    return boundary


async def drain(request: Request, already: int) -> None:
    """Read and drop the rest of a refused body (up to a bound).

    A client such as httpx writes the whole request before it reads the answer; if the server closed the
    connection early, the client would see a broken pipe instead of the 413.
    """
    if already > DRAIN_LIMIT_BYTES:
        return
    received = 0
    with contextlib.suppress(Exception):
        async for chunk in request.stream():
            received += len(chunk)
            if received > DRAIN_LIMIT_BYTES:
                return


async def read_multipart(
    request: Request, *, max_file_bytes: int, spool_dir: str | None = None
) -> MultipartForm:
    """Parse the request's multipart body as it streams in; raise ``ApiError`` 413 past the limit.

    The caller owns the result and must ``close()`` it (deleting the temporary files).
    """
    boundary = multipart_boundary(request)
    max_body = max_file_bytes + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        await drain(request, int(declared))
        raise too_large(max_file_bytes)
    form = MultipartForm()
    collector = _PartCollector(form, max_file_bytes, spool_dir)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                raise too_large(max_file_bytes)
            parser.write(chunk)
            if collector.error is not None:
                raise collector.error
        parser.finalize()
    except ApiError as exc:
        collector.abort()
        form.close()
        if exc.status == 413:
            await drain(request, received)
        raise
    except Exception as exc:
        collector.abort()
        form.close()
        raise ApiError(400, f"malformed multipart body: {exc}", code="invalid_multipart") from exc
    return form

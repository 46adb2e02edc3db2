"""``multipart/form-data`` uploads through Starlette's parser, with the upload limit enforced while the body
arrives.

The parsing is Starlette's own ``MultiPartParser`` (the one behind ``request.form()``, built on
python-multipart): it streams the body, spools each file part to a temporary file (memory stays flat for
bodies of any size), caps text fields at ``max_part_size`` and counts files and fields. What is left here is
the part ``request.form()`` cannot do:

- **A size limit while reading.** Starlette has no limit on a whole body or on a file part. The body
  reaches the parser through ``_limited``, which stops the read with **413** as soon as it passes the file
  limit plus ``FORM_OVERHEAD_BYTES`` (boundaries, headers, text fields); a declared ``Content-Length`` over
  it is refused before reading. The file limit itself is then exact: a file part over it (at most the
  overhead larger, so at most that much more was read) is refused with the same 413 after the parse.
- **Errors in the router's shape.** ``request.form()`` turns a parser error into a plain-text
  ``HTTPException(400)``; calling the parser directly lets its errors become OpenAI-shaped ones: a text
  field over ``MAX_FIELD_BYTES`` is a 413, too many parts or a malformed body a 400 ``invalid_multipart``,
  another media type a 415.
- **Draining a refused body**, so a client that writes its whole request before reading (httpx) sees the
  413 rather than a broken pipe.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import IO

from fastapi import Request
from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from voicestack_router.errors import ApiError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}

MAX_FIELD_BYTES = 1024 * 1024
MAX_FILES = 8  # a form holds one file; a few more are tolerated (the last of a repeated field wins)
MAX_FIELDS = 1000
FORM_OVERHEAD_BYTES = 1024 * 1024  # boundaries, part headers and text fields on top of the file limit
READ_CHUNK_BYTES = 1024 * 1024
DRAIN_LIMIT_BYTES = 256 * 1024 * 1024  # read and drop this much of a refused body so the client sees the 413


@dataclass
class UploadedFile:
    """A file part, spooled by the parser (in memory up to 1 MiB, then in an unnamed temporary file)."""

    field_name: str
    filename: str
    content_type: str
    file: IO[bytes]
    size: int = 0

    def rewound(self) -> IO[bytes]:
        """The spooled file from its first byte (one reader at a time: each read starts here again)."""
        self.file.seek(0)
        return self.file

    async def chunks(self, chunk_size: int = READ_CHUNK_BYTES) -> AsyncIterator[bytes]:
        """The file's bytes in chunks (for a streaming upload to a predictor; each call starts afresh)."""
        handle = self.rewound()
        while chunk := handle.read(chunk_size):
            yield chunk

    def read_bytes(self) -> bytes:
        return self.rewound().read()


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
        """Close (and so delete) the spooled files."""
        for upload in self.files.values():
            upload.file.close()


def too_large(limit: int, param: str | None = None) -> ApiError:
    return ApiError(
        413,
        f"Upload too large: the limit is {limit / (1024 * 1024):g} MiB.",
        param=param,
        code="request_too_large",
    )


def check_multipart(request: Request) -> None:
    """415 for another media type, 400 for a multipart type without a boundary."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise ApiError(
            415,
            "Unsupported media type: send the request as multipart/form-data.",
            code="unsupported_media_type",
        )
    if not options.get(b"boundary"):
        raise ApiError(400, "multipart/form-data without a boundary", code="invalid_multipart")


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


class _Limited:
    """The request body as the parser reads it, refused with 413 past ``max_body`` bytes."""

    def __init__(self, request: Request, max_body: int, max_file_bytes: int) -> None:
        self.request = request
        self.max_body = max_body
        self.max_file_bytes = max_file_bytes
        self.received = 0

    async def stream(self) -> AsyncGenerator[bytes, None]:
        async for chunk in self.request.stream():
            self.received += len(chunk)
            if self.received > self.max_body:
                raise too_large(self.max_file_bytes)
            yield chunk


def _form(items: list[tuple[str, str | UploadFile]]) -> MultipartForm:
    """Starlette's items as a ``MultipartForm``; of a repeated file field the last part wins."""
    form = MultipartForm()
    for name, value in items:
        if isinstance(value, str):
            form.fields.setdefault(name, []).append(value)
            continue
        previous = form.files.get(name)
        if previous is not None:
            previous.file.close()
        form.files[name] = UploadedFile(
            field_name=name,
            filename=value.filename or "",
            content_type=value.content_type or "application/octet-stream",
            file=value.file,
            size=value.size or 0,
        )
    return form


def _parser_error(exc: MultiPartException) -> ApiError:
    if exc.message.startswith("Part exceeded maximum size"):
        return ApiError(
            413,
            f"A form field is too large: the limit is {MAX_FIELD_BYTES // 1024} KiB.",
            code="request_too_large",
        )
    return ApiError(400, f"malformed multipart body: {exc.message}", code="invalid_multipart")


async def read_multipart(request: Request, *, max_file_bytes: int) -> MultipartForm:
    """Parse the request's multipart body as it streams in; raise ``ApiError`` 413 past the limit.

    The caller owns the result and must ``close()`` it (deleting the temporary files).
    """
    check_multipart(request)
    max_body = max_file_bytes + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        await drain(request, int(declared))
        raise too_large(max_file_bytes)
    body = _Limited(request, max_body, max_file_bytes)
    parser = MultiPartParser(
        request.headers,
        body.stream(),
        max_files=MAX_FILES,
        max_fields=MAX_FIELDS,
        max_part_size=MAX_FIELD_BYTES,
    )
    try:
        try:
            form = _form((await parser.parse()).multi_items())  # the parser closes its files on any error
        except MultiPartException as exc:
            raise _parser_error(exc) from exc
    except ApiError as exc:  # too large, or a body that arrives too slowly (408: not drained)
        if exc.status == 413:
            await drain(request, body.received)
        raise
    except Exception as exc:  # e.g. a body that is no multipart at all (python-multipart's own errors)
        raise ApiError(400, f"malformed multipart body: {exc}", code="invalid_multipart") from exc
    for name, upload in form.files.items():
        if upload.size > max_file_bytes:
            form.close()
            raise too_large(max_file_bytes, name)
    return form

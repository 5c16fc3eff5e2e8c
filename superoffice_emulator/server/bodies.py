"""Reading a request body within the size limit, whether it came with a Content-Length or chunked.

The one reader of every body (SOAP calls read the WSGI environ directly; the admin API through
:func:`read_body`). It never hands on part of a body: a body over the limit is
:class:`~werkzeug.exceptions.RequestEntityTooLarge` (413), one that ends before its
Content-Length is :class:`~werkzeug.exceptions.BadRequest` (400).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.wrappers import Request
from werkzeug.wsgi import get_content_length

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


def read_environ(environ: WSGIEnvironment, limit: int) -> bytes:
    """The whole body of the request in ``environ``, at most ``limit`` bytes long.

    With a Content-Length, exactly that many bytes are read. Without one (chunked), the server's
    terminated input stream is read to its end, and one byte more than the limit tells a body
    that fits exactly from one that goes on. Without either there is nothing that could be read
    safely, and the body is empty (as werkzeug has it).
    """
    text = environ.get("CONTENT_LENGTH", "")
    if text.isdigit() and text.isascii() and "HTTP_TRANSFER_ENCODING" not in environ:
        length: int | None = int(text)  # the usual case, without werkzeug's general rules
    else:
        length = get_content_length(environ)  # None when chunked, absent or not a number
    stream = environ["wsgi.input"]
    if length is not None:
        if length > limit:
            raise _too_large(limit)
        body: bytes = stream.read(length)
        if len(body) < length:  # the client stopped sending: never act on part of a request
            raise BadRequest(
                f"The request body ended after {len(body)} of the {length} bytes of its Content-Length."
            )
        return body
    if not environ.get("wsgi.input_terminated"):
        return b""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(limit + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise _too_large(limit)


def read_body(request: Request) -> bytes:
    """:func:`read_environ` of a werkzeug request, within its ``max_content_length``."""
    limit = request.max_content_length
    if limit is None:
        raise ValueError("the request has no max_content_length; the app sets it on every request")
    return read_environ(request.environ, limit)


def _too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"The request body is larger than {limit} bytes (max_body_bytes).")

"""Reading a request body within the size limit, whether or not it came with a length."""

from __future__ import annotations

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request


def read_body(request: Request) -> bytes:
    """The whole body; ``RequestEntityTooLarge`` (413) when it is over ``max_content_length``.

    werkzeug refuses a too-long ``Content-Length`` itself, but reads a chunked body only up to
    the limit and silently stops there, so a cut document could pass as whole: one more byte
    from the server's (terminated) input stream tells a body that fits exactly from one that
    goes on.
    """
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(f"The request body is larger than {limit} bytes (max_body_bytes).")
    data = request.get_data(cache=False)
    if (
        limit is not None
        and request.content_length is None
        and len(data) >= limit
        and request.environ.get("wsgi.input_terminated")
        and request.environ["wsgi.input"].read(1)
    ):
        raise RequestEntityTooLarge(f"The request body is larger than {limit} bytes (max_body_bytes).")
    return data

"""The demo dashboard: the static files of ``superoffice_emulator/admin/static/`` at ``/_emulator/ui``
(and per tenant).

    /_emulator/ui/              -> index.html (``/_emulator/ui`` redirects here, so relative URLs work)
    /_emulator/ui/app.js        -> superoffice_emulator/admin/static/app.js
    /Cust1/_emulator/ui/        -> the same page; it reads tenant Cust1 through ``../health`` etc.

The page holds no data: it calls the admin API (which checks the admin token, if one is set). Only a file
whose exact name is listed in ``superoffice_emulator/admin/static/`` with a known type is served; the
asset name is looked up in that listing, never joined to a path, so no traversal can reach anything else.
Answers carry an ETag and ``Cache-Control: no-cache`` (revalidate, 304 when unchanged) and a
Content-Security-Policy that allows nothing outside the emulator itself.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from superoffice_emulator.domain.values import is_tenant_name, tenant_name_error
from superoffice_emulator.server.web import Mount

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
INDEX = "index.html"
_ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.[a-z]{2,4}")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    content_type: str

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.body).hexdigest()[:32]


def static_files() -> Traversable:
    """The ``superoffice_emulator/admin/static`` folder, wherever the package is installed."""
    return resources.files("superoffice_emulator.admin").joinpath("static")


def listing() -> dict[str, Traversable]:
    """The servable files by name: plain names of a known type, directly in the static folder."""
    folder = static_files()
    if not folder.is_dir():
        return {}
    return {
        entry.name: entry
        for entry in folder.iterdir()
        if entry.is_file() and _ASSET_NAME.fullmatch(entry.name) and _suffix(entry.name) in CONTENT_TYPES
    }


def _suffix(name: str) -> str:
    return name[name.rfind(".") :] if "." in name else ""


def load(name: str) -> Asset:
    """The asset called ``name`` (``""`` is the page); NotFound for anything not in :func:`listing`."""
    name = name or INDEX
    entry = listing().get(name)
    if entry is None:
        raise NotFound(
            f"The dashboard has no file {name[:80]!r}. Open the dashboard at /_emulator/ui/ "
            "(or /{tenant}/_emulator/ui/)."
        )
    return Asset(name, entry.read_bytes(), CONTENT_TYPES[_suffix(name)])


def serve(request: Request, tenant: str | None, asset: str) -> Response:
    """Answer a request for the dashboard page or one of its assets."""
    if tenant is not None and not is_tenant_name(tenant):
        raise NotFound(tenant_name_error(tenant))
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(["GET", "HEAD"], f"The dashboard is read with GET, not {request.method}.")
    if not asset and not request.path.endswith("/"):
        # The page's relative URLs (app.js, ../health) need the trailing slash; a relative
        # Location keeps any proxy prefix or script root in front of the path intact.
        target = "ui/"
        if request.query_string:
            target += "?" + request.query_string.decode("latin-1")
        return redirect(target, 308)
    found = load(asset)
    response = Response(found.body, 200, content_type=found.content_type)
    response.set_etag(found.etag)
    response.headers["Cache-Control"] = "no-cache"
    for key, value in SECURITY_HEADERS.items():
        response.headers[key] = value
    return response.make_conditional(request)


def mount() -> Mount:
    """The dashboard as a small app, at ``/_emulator/ui`` and ``/{tenant}/_emulator/ui``."""
    return Mount(
        "ui",
        ("/_emulator/ui", "/_emulator/ui/<path:asset>"),
        lambda request, args: serve(request, args.get("tenant"), args.get("asset", "")),
    )

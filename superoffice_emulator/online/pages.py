"""The sign-in's HTML: the page a person approves an application on, its error page, and form_post.

Server-rendered, no script but form_post's one-line submit, which its page's Content-Security-Policy
allows by its hash (no other page runs a script); every value is escaped. The pages may not be
framed (``frame-ancestors 'none'``): no other site can overlay the approve button.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from html import escape

from werkzeug.wrappers import Response

_STYLE = """
body{font:16px/1.45 system-ui,sans-serif;background:#f3f5f8;color:#1d2733;margin:0}
main{max-width:26rem;margin:8vh auto;background:#fff;border-radius:12px;padding:2rem 2.2rem;
box-shadow:0 4px 24px #0001}
h1{font-size:1.3rem;margin:0 0 .3rem}p.app{color:#52606d;margin:0 0 1.4rem}
label{display:block;font-weight:600;margin:1rem 0 .35rem}
select,input[type=text]{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #c5ced8;
border-radius:6px;font:inherit}
.actions{display:flex;gap:.7rem;margin-top:1.6rem}
button{flex:1;padding:.65rem;border-radius:6px;border:1px solid #0b6bcb;font:inherit;cursor:pointer}
button.approve{background:#0b6bcb;color:#fff}button.deny{background:#fff;color:#0b6bcb}
.error{color:#a61b1b}small{color:#7b8794}
"""

_SUBMIT = "document.forms[0].submit()"
"""form_post's one script; CSP allows it by the SHA-256 of its exact text (a digest, not a secret)."""
_SUBMIT_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(_SUBMIT.encode()).digest()).decode() + "'"

_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'"
_HEADERS = {
    "Content-Security-Policy": _POLICY,
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    # same-origin, not no-referrer: with no referrer a browser posts the page's own form with
    # "Origin: null", which the cross-site guard refuses; other sites still get no referrer
    "Referrer-Policy": "same-origin",
}
_SCRIPTED_HEADERS = {**_HEADERS, "Content-Security-Policy": f"{_POLICY}; script-src {_SUBMIT_SOURCE}"}


def _page(title: str, body: str, status: int = 200, *, script: str | None = None) -> Response:
    """A page; ``script`` is :data:`_SUBMIT` or nothing (the only inline script the policy allows)."""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_STYLE}</style>'
        f"</head><body><main>{body}</main>{f'<script>{script}</script>' if script else ''}</body></html>"
    )
    headers = _HEADERS if script is None else _SCRIPTED_HEADERS
    return Response(html, status, content_type="text/html; charset=utf-8", headers=headers)


def sign_in(
    application: str,
    tenant: str,
    tenant_fixed: bool,
    users: Sequence[tuple[str, str]],
    chosen: str | None,
    hidden: Mapping[str, str],
    error: str | None = None,
) -> Response:
    """The page that signs a user in: pick a user (name, full name) and a tenant, approve or deny."""
    options = "".join(
        f'<option value="{escape(name)}"{" selected" if name == chosen else ""}>'
        f"{escape(full)} ({escape(name)})</option>"
        for name, full in users
    )
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items() if v
    )
    readonly = " readonly" if tenant_fixed else ""
    problem = f'<p class="error">{escape(error)}</p>' if error else ""
    body = (
        f"<h1>Sign in to SuperOffice</h1><p class=app><b>{escape(application)}</b> asks to sign you in "
        f"and to work with your CRM data.</p>{problem}"
        f'<form method="post">{fields}'
        f'<label for="user">User</label><select id="user" name="user">{options}</select>'
        f'<label for="tenant">Tenant</label><input type="text" id="tenant" name="tenant" '
        f'value="{escape(tenant)}"{readonly}>'
        '<div class="actions"><button class="approve" name="decision" value="approve">Approve</button>'
        '<button class="deny" name="decision" value="deny">Deny</button></div></form>'
        "<p><small>superoffice-emulator: no password is asked; every user of the tenant may be picked."
        "</small></p>"
    )
    return _page("Sign in to SuperOffice", body)


def error(message: str, status: int = 400, *, logout: bool = False) -> Response:
    """An authorize (or ``logout``) request that cannot be answered at its redirect URI: shown
    here, never redirected."""
    title = "The sign-out cannot go on" if logout else "The sign-in cannot go on"
    why = (
        "The application's request was not redirected back: its post_logout_redirect_uri, client_id "
        "or id_token_hint is not one this sign-in knows."
        if logout
        else "The application's request was not redirected back: its client_id or redirect_uri is not "
        "registered."
    )
    return _page(
        "Sign-out error" if logout else "Sign-in error",
        f'<h1>{title}</h1><p class="error">{escape(message)}</p><p><small>{why}</small></p>',
        status,
    )


def signed_out(application: str | None) -> Response:
    """The end of a sign-out that names no (registered) way back to the application."""
    whom = f" of <b>{escape(application)}</b>" if application else ""
    return _page(
        "Signed out",
        f"<h1>You are signed out</h1><p class=app>You have signed out{whom}. You may close this window.</p>",
    )


def form_post(redirect_uri: str, values: Mapping[str, str]) -> Response:
    """``response_mode=form_post``: a form the browser posts to the application's redirect URI."""
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in values.items()
    )
    body = (
        f'<form method="post" action="{escape(redirect_uri)}">{fields}'
        "<p>Returning to the application…</p><noscript><button>Continue</button></noscript></form>"
    )
    return _page("Signing in", body, script=_SUBMIT)

"""SuperID's OpenID Connect endpoints, the tenant status and ``User/currentPrincipal``, over werkzeug.

Paths as SuperOffice serves them (SuperOffice's Online documentation); the issuer and the tenant
URLs are the emulator's own (the request's scheme and host), or SuperOffice's
(``https://sod.superoffice.com``) when the request names one of its hosts::

    GET  /login/.well-known/openid-configuration     discovery
    GET  /login/.well-known/jwks                     the signing key
    GET  /login/common/oauth/authorize               the sign-in page (or none: --sign-in-as)
    POST /login/common/oauth/authorize               the page's approval
    POST /login/common/oauth/tokens                  authorization_code, refresh_token
    POST /login/common/oauth/revoke                  revoke an access or refresh token (RFC 7009)
    GET  /login/logout                               end the session (back to a registered URI)
    GET  /api/state/{ctx}                            the tenant's status
    GET  /{ctx}/api/v1/User/currentPrincipal         who the access token or ticket names

The token endpoint answers errors as RFC 6749 does (``{"error", "error_description"}``, 400, or 401
for the client's authentication). The rules are :mod:`superoffice_emulator.domain.online`'s.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from superoffice_emulator.calls import pipeline
from superoffice_emulator.calls.journal import record_event
from superoffice_emulator.calls.runtime import Runtime
from superoffice_emulator.domain import online, sessions
from superoffice_emulator.domain.errors import SoException, SoSessionException
from superoffice_emulator.domain.hosts import superoffice_root
from superoffice_emulator.domain.online import CLAIMS, Application
from superoffice_emulator.domain.sentry import User
from superoffice_emulator.domain.system_users import SYSTEM_TOKEN_CLAIM
from superoffice_emulator.domain.values import is_tenant_name
from superoffice_emulator.online import pages
from superoffice_emulator.rest import credentials as rest_credentials
from superoffice_emulator.rest import replies
from superoffice_emulator.server.web import json_response, response_of
from superoffice_emulator.storage import queries
from superoffice_emulator.storage.database import StorageError, TenantLimitReached
from superoffice_emulator.storage.keys import SigningKey
from superoffice_emulator.storage.store import AuthorizationCode, TenantStore

log = logging.getLogger("superoffice_emulator.online")

DISCOVERY = "/login/.well-known/openid-configuration"
JWKS = "/login/.well-known/jwks"
AUTHORIZE = "/login/common/oauth/authorize"
TOKENS = "/login/common/oauth/tokens"
REVOKE = "/login/common/oauth/revoke"
LOGOUT = "/login/logout"
STATE = "/api/state/<ctx>"
CURRENT_PRINCIPAL = "/api/v1/User/currentPrincipal"
RESPONSE_MODES = ("query", "fragment", "form_post")
STATUS_LIFETIME = timedelta(hours=1)
"""How long a tenant status answer says it holds (``ValidUntil``)."""


def public_root(request: Request) -> str:
    """The emulator's own URL as the client reached it: scheme and host, no trailing slash; the
    SuperOffice host's ``https://`` URL when the request names one (``domain.hosts``)."""
    return superoffice_root(request.host) or request.host_url.rstrip("/")


# -- discovery, keys, status -------------------------------------------------------------------
def discovery(runtime: Runtime, request: Request) -> Response:
    root = public_root(request)
    return json_response(
        {
            "issuer": root,
            "authorization_endpoint": root + AUTHORIZE,
            "token_endpoint": root + TOKENS,
            "jwks_uri": root + JWKS,
            "revocation_endpoint": root + REVOKE,
            "end_session_endpoint": root + LOGOUT,
            "response_types_supported": list(online.RESPONSE_TYPES),
            "response_modes_supported": list(RESPONSE_MODES),
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "scopes_supported": ["openid"],
            "code_challenge_methods_supported": list(online.PKCE_METHODS),
            "claims_parameter_supported": False,
        }
    )


def jwks(runtime: Runtime, request: Request) -> Response:
    return json_response({"keys": [runtime.database.signing_keys.current().public_jwk()]})


def tenant_status(runtime: Runtime, request: Request, ctx: str) -> Response:
    if not is_tenant_name(ctx):
        return json_response({"error": f"{ctx[:80]!r} is not a tenant's context identifier."}, 404)
    state = runtime.database.tenant_state(ctx)
    root = public_root(request)
    valid_until = runtime.clock() + STATUS_LIFETIME
    return json_response(
        {
            "ContextIdentifier": ctx,
            "Endpoint": f"{root}/{ctx}",
            "State": state,
            "IsRunning": state in online.RUNNING_STATES,
            "ValidUntil": valid_until.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Api": f"{root}/{ctx}/api",
        }
    )


LOGOUT_PARAMETERS = ("client_id", "post_logout_redirect_uri", "id_token_hint", "state")


# -- authorize --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Authorization:
    """An authorize request's parameters (from the query string, or the sign-in page's form)."""

    client_id: str
    redirect_uri: str
    response_type: str
    response_mode: str
    scope: str
    state: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    login_hint: str
    acr_values: str

    @classmethod
    def of(cls, values: Mapping[str, str]) -> Authorization:
        return cls(**{name: values.get(name, "") for name in cls.__dataclass_fields__})

    def hidden(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @property
    def tenant(self) -> str | None:
        """The tenant ``acr_values=tenant:CustX`` names, if any."""
        for value in self.acr_values.split():
            if value.startswith("tenant:"):
                return value.removeprefix("tenant:")
        return None


def _application(runtime: Runtime, tenant: str, client_id: str) -> Application | None:
    """``client_id`` as ``tenant`` knows it; for a tenant not made yet, as the fixtures would make it."""
    database = runtime.database
    with database.reading(tenant) as store:
        if store.tenant_exists():
            return store.find_application(client_id)
    return database.fixtures.application(client_id)


def _redirect(auth: Authorization, values: dict[str, str]) -> Response:
    """The answer at the application's (registered, checked) redirect URI, in its response mode."""
    if auth.state:
        values["state"] = auth.state
    if auth.response_mode == "form_post":
        return pages.form_post(auth.redirect_uri, values)
    parts = urlsplit(auth.redirect_uri)
    if auth.response_mode == "fragment":
        target = urlunsplit(parts._replace(fragment=urlencode(values)))
    else:
        query = "&".join(q for q in (parts.query, urlencode(values)) if q)
        target = urlunsplit(parts._replace(query=query))
    response = Response(status=302, headers={"Location": target, "Cache-Control": "no-store"})
    return response


def _refused(auth: Authorization, error: str, description: str) -> Response:
    return _redirect(auth, {"error": error, "error_description": description})


def authorize(runtime: Runtime, request: Request) -> Response:
    posted = request.method == "POST"
    params = request.form if posted else request.args
    too_long = online.overlong(params, Authorization.__dataclass_fields__)
    if too_long is not None:  # before any redirect, which would carry it
        return pages.error(too_long)
    auth = Authorization.of(params)
    fixed_tenant = auth.tenant
    tenant = (
        (request.form.get("tenant") if posted else None) or fixed_tenant or runtime.settings.default_tenant
    )
    if fixed_tenant is not None and tenant != fixed_tenant:
        return pages.error("The tenant may not differ from the one acr_values names.")
    if not is_tenant_name(tenant):
        return pages.error(f"{tenant[:80]!r} is not a tenant's context identifier.")
    application = _application(runtime, tenant, auth.client_id) if auth.client_id else None
    if application is None:
        return pages.error(
            f"No application with client_id {auth.client_id[:80]!r} is registered in {tenant}."
        )
    if not auth.redirect_uri or not application.permits_redirect(auth.redirect_uri):
        return pages.error(
            f"The redirect_uri {auth.redirect_uri[:200]!r} is not one registered for {application.name}; "
            "it must equal a registered one exactly."
        )
    if auth.response_mode not in ("", *RESPONSE_MODES):
        return pages.error(
            f"response_mode {auth.response_mode[:40]!r} is not one of {', '.join(RESPONSE_MODES)}."
        )
    words = online.response_type(auth.response_type)
    if not auth.response_mode:
        mode = online.default_response_mode(words or frozenset())
        auth = Authorization.of({**auth.hidden(), "response_mode": mode})
    if words is None:
        return _refused(
            auth,
            "unsupported_response_type",
            f"response_type must be one of: {', '.join(online.RESPONSE_TYPES)}.",
        )
    if auth.response_mode == "query" and words != {"code"}:
        auth = Authorization.of({**auth.hidden(), "response_mode": "fragment"})
        return _refused(
            auth, "invalid_request", "Tokens are never sent in a query: use fragment or form_post."
        )
    if "openid" not in auth.scope.split():
        return _refused(auth, "invalid_scope", "The scope must include openid.")
    if online.needs_nonce(words) and not auth.nonce:
        return _refused(
            auth, "invalid_request", f"nonce is required with response_type={auth.response_type}."
        )
    method = auth.code_challenge_method or ("plain" if auth.code_challenge else "")
    if auth.code_challenge and method not in online.PKCE_METHODS:
        return _refused(auth, "invalid_request", "code_challenge_method must be S256 or plain.")
    if len(auth.code_challenge) > 128:  # RFC 7636, 4.1: 43 to 128 characters
        return _refused(auth, "invalid_request", "code_challenge has at most 128 characters.")
    if posted and request.form.get("decision") != "approve":
        _journal_alone(
            runtime,
            tenant,
            "SignIn",
            "denied",
            user=(request.form.get("user") or "")[:100] or None,
            application=application.client_id,
            detail="the user did not approve",
        )
        return _refused(auth, "access_denied", "The user did not approve the application.")
    name = request.form.get("user") if posted else auth.login_hint or runtime.settings.sign_in_as
    if not posted and (runtime.settings.sign_in_as is None or not name):
        return _sign_in_page(runtime, tenant, fixed_tenant is not None, application, auth)
    # with --sign-in-as, a GET (which any web page may send) grants at once, and makes the tenant
    # it names as any first call does (up to --max-tenants): a setting for CI, not a shared host
    return _grant(runtime, public_root(request), tenant, application, auth, words, name or "", method)


def _sign_in_page(
    runtime: Runtime,
    tenant: str,
    tenant_fixed: bool,
    application: Application,
    auth: Authorization,
    error: str | None = None,
) -> Response:
    # the page is a GET, which may come from any web page: showing it reads, and makes no tenant
    if tenant in runtime.database.tenants():
        users = [(u.name, u.full_name) for u in queries.list_users(runtime.database, tenant)]
    else:
        users = [(u.name, u.full_name) for u in runtime.database.fixtures.users]
    return pages.sign_in(application.name, tenant, tenant_fixed, users, auth.login_hint, auth.hidden(), error)


def _grant(
    runtime: Runtime,
    root: str,
    tenant: str,
    application: Application,
    auth: Authorization,
    words: frozenset[str],
    name: str,
    method: str,
) -> Response:
    now = runtime.clock()
    # made (if need be) in a transaction of its own, before the grant's
    key = runtime.database.signing_keys.current() if "id_token" in words else None
    try:
        return _granted(runtime, root, now, tenant, application, auth, words, name, method, key)
    except TenantLimitReached:
        return pages.error(f"The emulator holds too many tenants to make {tenant}; drop one first.")


def _granted(
    runtime: Runtime,
    root: str,
    now: datetime,
    tenant: str,
    application: Application,
    auth: Authorization,
    words: frozenset[str],
    name: str,
    method: str,
    key: SigningKey | None,
) -> Response:
    """What the sign-in sends back for ``words`` (the response type): a code, an access token, an
    id_token (with ``c_hash`` and ``at_hash`` for what comes with it); ``key`` signs the id_token."""
    with runtime.database.transaction(tenant) as store:
        if store.state not in online.RUNNING_STATES:
            return _refused(auth, "temporarily_unavailable", f"The tenant {tenant} is {store.state}.")
        found = store.find_login(name.strip())
        if found is None:
            record_event(
                runtime,
                store,
                "SignIn",
                "refused",
                user=name.strip()[:100] or None,
                application=application.client_id,
                detail="no such user",
            )
            return _refused(auth, "access_denied", f"There is no user {name[:80]!r} in {tenant}.")
        user = found[0]
        values: dict[str, str] = {}
        if "code" in words:
            values["code"] = online.new_code(tenant)
            store.add_code(
                AuthorizationCode(
                    code=values["code"],
                    client_id=application.client_id,
                    associate_id=user.associate_id,
                    redirect_uri=auth.redirect_uri,
                    code_challenge=auth.code_challenge or None,
                    challenge_method=method or None,
                    nonce=auth.nonce or None,
                    expires=now + online.CODE_LIFETIME,
                )
            )
        if "token" in words:
            values["access_token"] = online.new_access_token(tenant)
            store.add_access_token(
                values["access_token"],
                user.associate_id,
                now + online.ACCESS_TOKEN_LIFETIME,
                application.client_id,
            )
            values["token_type"] = "Bearer"
            values["expires_in"] = str(int(online.ACCESS_TOKEN_LIFETIME.total_seconds()))
        if key is not None:
            values["id_token"] = _id_token(
                key,
                _claims(store, root, application, user, auth.nonce or None, now),
                access_token=values.get("access_token"),
                code=values.get("code"),
            )
        record_event(
            runtime,
            store,
            "SignIn",
            "approved",
            user=user.name,
            application=application.client_id,
            detail=" ".join(sorted(words)),
        )
        if "token" in words:
            record_event(
                runtime,
                store,
                "Token",
                "granted",
                user=user.name,
                application=application.client_id,
                detail="implicit",
            )
    return _redirect(auth, values)


def _journal_alone(
    runtime: Runtime, tenant: str, operation: str, outcome: str, **details: str | None
) -> None:
    """Journal an event in a transaction of its own, which makes no tenant."""
    try:
        with runtime.database.transaction(tenant, create=False) as store:
            record_event(runtime, store, operation, outcome, **details)
    except StorageError:
        log.exception("could not journal the %s event", operation)


def _seconds(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def _half_hash(value: str) -> str:
    """OpenID Connect's ``at_hash``/``c_hash``: the left half of the value's RS256 hash (SHA-256),
    base64url without padding."""
    import jwt

    digest = jwt.get_algorithm_by_name("RS256").compute_hash_digest(value.encode("ascii"))
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _id_token(
    key: SigningKey, claims: dict[str, Any], *, access_token: str | None = None, code: str | None = None
) -> str:
    """``claims`` signed RS256 with ``key``, with the hashes of the access token and the code it
    comes with."""
    import jwt  # here: PyJWT loads cryptography, which serving a call never needs

    if access_token is not None:
        claims["at_hash"] = _half_hash(access_token)
    if code is not None:
        claims["c_hash"] = _half_hash(code)
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


# -- tokens -----------------------------------------------------------------------------------
class TokenError(Exception):
    """An RFC 6749 error of the token endpoint; nothing was minted."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def tokens(runtime: Runtime, request: Request) -> Response:
    params = {**request.args.to_dict(), **request.form.to_dict()}  # the body wins; some SDKs use the query
    try:
        return json_response(_tokens(runtime, request, params))
    except TokenError as exc:
        headers = {"WWW-Authenticate": 'Basic realm="superid"'} if exc.status == 401 else None
        return json_response({"error": exc.error, "error_description": exc.description}, exc.status, headers)


def _client(request: Request, params: Mapping[str, str]) -> tuple[str, str]:
    basic = request.authorization
    if basic is not None and basic.type == "basic":  # form-urlencoded first (RFC 6749, 2.3.1)
        return unquote_plus(basic.username or ""), unquote_plus(basic.password or "")
    return params.get("client_id", ""), params.get("client_secret", "")


def _tokens(runtime: Runtime, request: Request, params: Mapping[str, str]) -> dict[str, Any]:
    grant_type = params.get("grant_type", "")
    if grant_type == "authorization_code":
        presented = params.get("code", "")
    elif grant_type == "refresh_token":
        presented = params.get("refresh_token", "")
    else:
        raise TokenError("unsupported_grant_type", "grant_type must be authorization_code or refresh_token.")
    client_id, secret = _client(request, params)
    tenant = online.tenant_of(presented)
    if not presented or not is_tenant_name(tenant):
        raise TokenError("invalid_grant", "The code or refresh token is unknown.")
    now = runtime.clock()
    key = runtime.database.signing_keys.current()  # made (if need be) in a transaction of its own, first
    with runtime.database.transaction(tenant, create=False) as store:
        granted = _granting(store, client_id, secret, grant_type, presented, params, now)
        if isinstance(granted, TokenError):
            # journaled, and raised after the commit: a presented code stays used
            problem = granted
            record_event(
                runtime,
                store,
                "Token",
                "refused",
                application=client_id[:100] or None,
                detail=grant_type,
                error=problem.error,
            )
        else:
            application, user, nonce, refresh = granted
            record_event(
                runtime,
                store,
                "Token",
                "granted",
                user=user.name,
                application=application.client_id,
                detail=grant_type,
            )
            return _mint(key, request, store, application, user, nonce, refresh, now)
    raise problem


def _granting(
    store: TenantStore,
    client_id: str,
    secret: str,
    grant_type: str,
    presented: str,
    params: Mapping[str, str],
    now: datetime,
) -> tuple[Application, User, str | None, str | None] | TokenError:
    """The client, the user, the nonce and the refresh token to keep of a grant; or why none."""
    application = store.find_application(client_id) if client_id else None
    if application is None or not application.secret_matches(secret):
        return TokenError("invalid_client", "The client_id or client_secret is wrong.", 401)
    if store.state not in online.RUNNING_STATES:
        return TokenError("invalid_grant", f"The tenant {store.tenant} is not running.")
    if grant_type == "authorization_code":
        granted = _exchange(store, application, params, now)
    else:
        granted = _refresh(store, application, presented)
    return granted if isinstance(granted, TokenError) else (application, *granted)


def _exchange(
    store: TenantStore, application: Application, params: Mapping[str, str], now: datetime
) -> tuple[User, str | None, str | None] | TokenError:
    """The user, nonce and new refresh token's need of a code; the code is used up whatever follows."""
    code = store.take_code(params.get("code", ""))
    if code is None or code.client_id != application.client_id:
        return TokenError("invalid_grant", "The code is unknown, was used already, or is another client's.")
    if now >= code.expires:
        return TokenError("invalid_grant", "The code has expired (codes live 10 minutes).")
    if params.get("redirect_uri", "") != code.redirect_uri:
        return TokenError("invalid_grant", "redirect_uri differs from the authorize request's.")
    if code.code_challenge is not None:
        verifier = params.get("code_verifier", "")
        if not verifier or not online.pkce_matches(
            code.code_challenge, code.challenge_method or "plain", verifier
        ):
            return TokenError("invalid_grant", "The code_verifier does not match the code_challenge.")
    user = store.find_user(code.associate_id)
    if user is None:
        return TokenError("invalid_grant", "The user of the code no longer exists.")
    return user, code.nonce, None


def _refresh(
    store: TenantStore, application: Application, token: str
) -> tuple[User, str | None, str | None] | TokenError:
    found = store.find_refresh_token(token)
    if found is None or found[0] != application.client_id:
        return TokenError("invalid_grant", "The refresh token is unknown or another client's.")
    user = store.find_user(found[1])
    if user is None:
        return TokenError("invalid_grant", "The user of the refresh token no longer exists.")
    return user, None, token


def _mint(
    key: SigningKey,
    request: Request,
    store: TenantStore,
    application: Application,
    user: User,
    nonce: str | None,
    refresh_token: str | None,
    now: datetime,
) -> dict[str, Any]:
    tenant = store.tenant
    access_token = online.new_access_token(tenant)
    store.add_access_token(
        access_token, user.associate_id, now + online.ACCESS_TOKEN_LIFETIME, application.client_id
    )
    if refresh_token is None:
        refresh_token = online.new_refresh_token(tenant)
        store.add_refresh_token(refresh_token, application.client_id, user.associate_id)
    claims = _claims(store, public_root(request), application, user, nonce, now)
    id_token = _id_token(key, claims, access_token=access_token)
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": int(online.ACCESS_TOKEN_LIFETIME.total_seconds()),
        "refresh_token": refresh_token,
        "id_token": id_token,
    }


def _claims(
    store: TenantStore, root: str, application: Application, user: User, nonce: str | None, now: datetime
) -> dict[str, Any]:
    """An id_token's claims in this tenant: with the system token once the tenant consented."""
    claims = id_claims(root, store.tenant, application, user, nonce, _seconds(now))
    consent = store.find_consent(application.client_id) if application.system_user else None
    if consent is not None:  # SuperID adds it once an administrator approved a system-user app
        claims[SYSTEM_TOKEN_CLAIM] = consent.system_token
    return claims


def id_claims(
    root: str, tenant: str, application: Application, user: User, nonce: str | None, issued: int
) -> dict[str, Any]:
    """The id_token's claims: the standard ones and SuperOffice's, with our own URLs."""
    digits = re.sub(r"\D", "", tenant)
    claims: dict[str, Any] = {
        "iss": root,
        "aud": application.client_id,
        "sub": user.email or user.name,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(online.ID_TOKEN_LIFETIME.total_seconds()),
        CLAIMS + "associateid": str(user.associate_id),
        CLAIMS + "identityprovider": "superoffice",
        CLAIMS + "email": user.email,
        CLAIMS + "upn": user.email,
        CLAIMS + "is_administrator": "True" if user.role_name == "Administrator" else "False",
        CLAIMS + "ctx": tenant,
        CLAIMS + "company_name": tenant,
        CLAIMS + "serial": digits or "0",
        CLAIMS + "netserver_url": f"{root}/{tenant}/Remote/Services86/",
        CLAIMS + "webapi_url": f"{root}/{tenant}/api/",
        CLAIMS + "initials": "".join(part[0] for part in user.full_name.split() if part).upper(),
        CLAIMS + "so_primary_email_address": user.email,
    }
    if nonce:
        claims["nonce"] = nonce
    return claims


# -- revoke, logout ---------------------------------------------------------------------------
def revoke(runtime: Runtime, request: Request) -> Response:
    """RFC 7009: the client revokes one of its access or refresh tokens; 200 for an unknown one."""
    params = {**request.args.to_dict(), **request.form.to_dict()}
    try:
        _revoke(runtime, request, params)
    except TokenError as exc:
        headers = {"WWW-Authenticate": 'Basic realm="superid"'} if exc.status == 401 else None
        return json_response({"error": exc.error, "error_description": exc.description}, exc.status, headers)
    return Response(status=200, headers={"Cache-Control": "no-store"})


def _revoke(runtime: Runtime, request: Request, params: Mapping[str, str]) -> None:
    token = params.get("token", "").strip()
    if not token:
        raise TokenError("invalid_request", "token is required.")
    client_id, secret = _client(request, params)
    named = online.tenant_of(token)
    tenant = named if is_tenant_name(named) else runtime.settings.default_tenant
    application = _application(runtime, tenant, client_id) if client_id else None
    if application is None or not application.secret_matches(secret):
        raise TokenError("invalid_client", "The client_id or client_secret is wrong.", 401)
    hint = params.get("token_type_hint", "")
    with runtime.database.transaction(tenant, create=False) as store:
        problem = _revoked(runtime, store, application, token, hint)
    if problem is not None:
        raise problem


def _revoked(
    runtime: Runtime, store: TenantStore, application: Application, token: str, hint: str
) -> TokenError | None:
    """Revoke ``token`` if it is ``application``'s; the refusal when it is another client's. An
    unknown token is nothing to revoke (RFC 7009, 2.2)."""
    if not store.tenant_exists():
        return None
    kinds = (
        ("refresh_token", "access_token") if hint == "refresh_token" else ("access_token", "refresh_token")
    )
    for kind in kinds:
        grant = store.access_token_grant(token) if kind == "access_token" else store.find_refresh_token(token)
        if grant is None:
            continue
        owner, associate_id = grant
        user = store.find_user(associate_id)
        name = None if user is None else user.name
        if owner != application.client_id:
            record_event(
                runtime,
                store,
                "Revoke",
                "refused",
                user=name,
                application=application.client_id,
                detail=f"another client's {kind.replace('_', ' ')}",
                error="invalid_grant",
            )
            return TokenError("invalid_grant", "The token was not issued to this client.")
        if kind == "access_token":
            store.revoke_access_token(token)
        else:
            store.revoke_refresh_token(token, application.client_id, associate_id)
        record_event(
            runtime,
            store,
            "Revoke",
            "revoked",
            user=name,
            application=application.client_id,
            detail=kind.replace("_", " "),
        )
        return None
    return None


def logout(runtime: Runtime, request: Request) -> Response:
    """OpenID Connect's end_session_endpoint: back to ``post_logout_redirect_uri`` only when it is
    registered for the application ``client_id`` or ``id_token_hint`` names; else a page."""
    params = request.form if request.method == "POST" else request.args
    too_long = online.overlong(params, LOGOUT_PARAMETERS)
    if too_long is not None:
        return pages.error(too_long, logout=True)
    client_id = params.get("client_id", "")
    target = params.get("post_logout_redirect_uri", "")
    tenant = runtime.settings.default_tenant
    hint = params.get("id_token_hint", "")
    claims: dict[str, Any] | None = None
    if hint:
        claims = _verified_hint(runtime, request, hint)
        if claims is None:
            return pages.error("The id_token_hint is not an id_token this sign-in issued.", logout=True)
        if client_id and claims.get("aud") != client_id:
            return pages.error("The id_token_hint was issued to another client than client_id.", logout=True)
        client_id = str(claims.get("aud", ""))
        tenant = str(claims.get(CLAIMS + "ctx", tenant))
    if not is_tenant_name(tenant):
        return pages.error(f"{tenant[:80]!r} is not a tenant's context identifier.", logout=True)
    application = _application(runtime, tenant, client_id) if client_id else None
    if target and (application is None or not application.permits_redirect(target)):
        return pages.error(
            f"The post_logout_redirect_uri {target[:200]!r} is not registered for the application "
            "client_id or id_token_hint names; it must equal a registered one exactly.",
            logout=True,
        )
    if claims is not None and application is not None:
        _signed_out(runtime, tenant, claims, application.client_id)
    if not target:
        return pages.signed_out(None if application is None else application.name)
    state = params.get("state", "")
    parts = urlsplit(target)
    query = "&".join(q for q in (parts.query, urlencode({"state": state}) if state else "") if q)
    return Response(
        status=302, headers={"Location": urlunsplit(parts._replace(query=query)), "Cache-Control": "no-store"}
    )


def _signed_out(runtime: Runtime, tenant: str, claims: Mapping[str, Any], client_id: str) -> None:
    """Journal the sign-out of the user an (verified) id_token names."""
    associate = str(claims.get(CLAIMS + "associateid", ""))
    try:
        with runtime.database.transaction(tenant, create=False) as store:
            user = store.find_user(int(associate)) if associate.isdigit() and store.tenant_exists() else None
            name = None if user is None else user.name
            record_event(runtime, store, "SignOut", "signed out", user=name, application=client_id)
    except StorageError:
        log.exception("could not journal the sign-out")


def _verified_hint(runtime: Runtime, request: Request, hint: str) -> dict[str, Any] | None:
    """The claims of an id_token this sign-in signed (expired or not: a hint may be old); ``None``
    for anything else (another key, another issuer, no signature, not a JWT)."""
    import jwt

    key = runtime.database.signing_keys.current()
    try:
        claims: dict[str, Any] = jwt.decode(
            hint,
            jwt.PyJWK(key.public_jwk()).key,
            algorithms=["RS256"],
            issuer=public_root(request),
            options={"verify_exp": False, "verify_aud": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    return claims


# -- who am I ---------------------------------------------------------------------------------
def current_principal(runtime: Runtime, request: Request, tenant: str) -> Response:
    """``GET {webapi_url}v1/User/currentPrincipal``: the user an access token (or ticket) names."""
    credentials = rest_credentials.credentials_of(request.headers.get("Authorization"))
    now = runtime.clock()
    try:
        if isinstance(credentials, pipeline.Unusable):
            raise SoSessionException(credentials.message, friendly_text="You are not logged in.")
        if not isinstance(credentials, (pipeline.AccessToken, pipeline.Ticket)):
            raise SoSessionException(
                "currentPrincipal takes an access token (Bearer) or a ticket (SOTicket).",
                friendly_text="You are not logged in.",
            )
        value = credentials.token if isinstance(credentials, pipeline.AccessToken) else credentials.ticket
        fixtures = runtime.database.fixtures
        create = fixtures.has_access_token(value) or fixtures.has_ticket(value)
        with runtime.database.transaction(tenant, create=create) as store:
            online.check_running(tenant, store.state)
            if online.is_access_token(value):
                user = sessions.validate_access_token(store, value, now)
            else:
                user = sessions.validate_ticket(store, value, now, runtime.ticket_lifetime)
    except TenantLimitReached as exc:
        return response_of(replies.failure(pipeline.Failed.of(pipeline.too_many_tenants(exc))))
    except SoException as exc:
        return response_of(replies.failure(pipeline.Failed.of(exc)))
    return json_response(
        {
            "AssociateId": user.associate_id,
            "Associate": user.name,
            "FullName": user.full_name,
            "EMailAddress": user.email,
            "PersonId": user.person_id,
            "ContactId": user.contact_id,
            "GroupId": user.group_id,
            "RoleId": user.role_id,
            "RoleName": user.role_name,
            "UserType": user.user_type,
            "ContextIdentifier": tenant,
        }
    )

"""Who may call which REST route: the same roles as the pages.

- ``MGMT_API_TOKEN`` (optional) guards every route: without it the API is as open as the demo's pages.
- The prediction log (``/api/predictions``) holds who predicted what. When sign-in is configured, the History page
  is for administrators only, and so is this route: it answers only to ``MGMT_ADMIN_TOKEN`` (a token only
  administrators hold); without that setting nobody can read the log over REST. ``MGMT_ADMIN_TOKEN`` also
  guards the log when sign-in is not configured, if it is set. Streamlit's sign-in session is not visible to
  these routes (they run outside any page session), so the admin token is how an administrator's script proves
  its role.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import Scope

from core.config import Settings

ADMIN_PATHS = ("/predictions",)
"""Routes (below /api) that show the prediction log: administrators only, where roles apply."""


@dataclass(frozen=True)
class Refusal:
    """Why a call is refused: 401 (no or wrong credentials) or 403 (credentials of the wrong role)."""

    status: int
    message: str
    challenge: str | None = None


def _matches(presented: str | None, token: str | None) -> bool:
    return bool(token) and presented is not None and hmac.compare_digest(presented.encode(), token.encode())


def bearer(scope: Scope) -> tuple[str, str | None]:
    """The Authorization scheme sent ("" when none) and its token."""
    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    return scheme, (token.strip() if scheme.lower() == "bearer" else None)


def refusal(scope: Scope, route: str, settings: Settings, sign_in: bool) -> Refusal | None:
    """None when the caller may use ``route`` (its path below /api), else why not."""
    scheme, token = bearer(scope)
    if _matches(token, settings.admin_token):
        return None  # an administrator may call every route
    if route in ADMIN_PATHS and (sign_in or settings.admin_token):
        if settings.admin_token is None:
            return Refusal(403, "The prediction log is for administrators, and this server has no MGMT_ADMIN_TOKEN "
                                "set, so it is not served over REST; administrators see it on the History page.")
        if scheme and _matches(token, settings.api_token):
            return Refusal(403, "The prediction log is for administrators: the token sent is not the administrators' "
                                "token (MGMT_ADMIN_TOKEN).")
        return _unauthorised(scheme, "MGMT_ADMIN_TOKEN", "the prediction log is for administrators")
    if settings.api_token is None or _matches(token, settings.api_token):
        return None
    return _unauthorised(scheme, "MGMT_API_TOKEN", "this API needs a token")


def _unauthorised(scheme: str, setting: str, why: str) -> Refusal:
    if not scheme:
        return Refusal(401, f"{why[0].upper()}{why[1:]}: send the header 'Authorization: Bearer <token>' with the "
                            f"value of {setting}.", 'Bearer realm="mgmt-api"')
    return Refusal(401, f"The bearer token was not accepted ({why}); expected 'Authorization: Bearer <token>' with "
                        f"the value of {setting}.", 'Bearer realm="mgmt-api", error="invalid_token"')


def protection(settings: Settings, sign_in: bool) -> dict[str, str]:
    """What protects each part of the API, in words (logged at start, and in ``/api/health``)."""
    if settings.api_token:
        routes = "every call needs MGMT_API_TOKEN (or MGMT_ADMIN_TOKEN) as a bearer token"
    else:
        routes = "open to anyone who can reach the server (set MGMT_API_TOKEN to require a token)"
    if settings.admin_token:
        log = "administrators only: MGMT_ADMIN_TOKEN as a bearer token"
    elif sign_in:
        log = "not served: sign-in is configured and MGMT_ADMIN_TOKEN is not set"
    else:
        log = "as the other routes (open demo without sign-in; it holds no patient data, and no user names)"
    pages = ("sign-in configured: visitors sign in, History is for MGMT_ADMINS" if sign_in
             else "open demo: no sign-in")
    return {"pages": pages, "health and predict": routes, "prediction log": log}

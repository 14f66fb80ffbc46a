"""The border of the REST API: bearer-token check first, then every failure as JSON ``{"error": message}``.

Failures answer with the status ``core.errors.DISPOSITIONS`` gives their kind: the uploader's mistakes 400 (an
oversize upload 413), the service's problems 503 with Retry-After; Starlette's own refusals (404, 405) keep their
status; anything else is a bug: 500 with a reference, and the traceback in the server log (frames and exception
types, messages with quoted names redacted; never the upload).
"""

from __future__ import annotations

import logging
import secrets
import traceback

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.api.access import refusal
from core.config import get_settings
from core.errors import BUG, ServiceUnavailable, UploadTimeout, disposition
from core.service import redact

LOGGER = logging.getLogger(__name__)

def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The API's one error shape."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def route_of(scope: Scope) -> str:
    """The path below the /api mount ("/predictions"), as Starlette's Mount passes it on."""
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def log_bug(err: BaseException, scope: Scope, reference: str) -> None:
    """Log an unexpected failure: exception types, redacted messages and frames, never local values."""
    lines: list[str] = []
    current: BaseException | None = err
    while current is not None and len(lines) < 200:
        lines.append(f"{type(current).__name__}: {redact(str(current))}")
        lines.extend(line.rstrip() for line in traceback.format_tb(current.__traceback__))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    LOGGER.error("API %s %s failed (reference %s)\n%s", scope.get("method"), scope.get("path"), reference,
                 "\n".join(lines))


def failure_response(err: Exception, scope: Scope) -> JSONResponse:
    """The JSON answer for an exception raised while handling an API request."""
    if isinstance(err, HTTPException):  # Starlette's own answer (404, 405), not one of ours
        return error_response(err.status_code, str(err.detail), dict(err.headers or {}))
    answer = disposition(err)
    if answer is not BUG:
        retry = {"Retry-After": str(err.retry_after_s)} if isinstance(err, ServiceUnavailable) else None
        if isinstance(err, UploadTimeout):  # the rest of the body is not read: the connection cannot be reused
            retry = {"Connection": "close"}
        return error_response(answer.http_status, err.user_message, retry)
    reference = secrets.token_hex(4)
    log_bug(err, scope, reference)
    return error_response(500, f"internal error (reference {reference}); the server log has the details. "
                               "This is a bug, not a problem with the upload.")


class ApiGuard:
    """ASGI middleware around the ``/api`` routes: who may call (core/api/access.py), then JSON errors for whatever
    the routes raise. ``sign_in``: whether the app has sign-in configured (then the log is for administrators)."""

    def __init__(self, app: ASGIApp, sign_in: bool = False) -> None:
        self.app = app
        self.sign_in = sign_in

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            scope["mgmt.sign_in"] = self.sign_in  # the health route states what protects the API
            refused = refusal(scope, route_of(scope), get_settings(), self.sign_in)  # before the body is read
            if refused is not None:
                challenge = {"WWW-Authenticate": refused.challenge} if refused.challenge else None
                await error_response(refused.status, refused.message, challenge)(scope, receive, send)
                return
            await self.app(scope, receive, tracked_send)
        except ClientDisconnect:
            LOGGER.info("API %s %s: the client went away before its upload arrived", scope.get("method"),
                        scope.get("path"))
        except Exception as err:
            if started:  # too late for another answer; let the server close the connection
                raise
            await failure_response(err, scope)(scope, receive, send)

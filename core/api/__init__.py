"""The REST API, served by the Streamlit process next to the pages (``st.App(routes=api_routes())``).

``GET /api/health``, ``POST /api/predict`` (multipart: a .zip of one study, or its files named by relative
path; ``?report=pdf`` or ``?report=sr`` answers that report instead of the JSON) and
``GET /api/predictions?limit=N``. With ``MGMT_API_TOKEN`` set, every ``/api/*`` call needs
``Authorization: Bearer <token>``; the prediction log follows the pages' roles (core/api/access.py). Errors are
JSON ``{"error": message}``. UI-free: no streamlit import here.

Example (a running app on the default port)::

    curl -F 'study=@case.zip' http://127.0.0.1:8501/api/predict
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route, Router

from core.api.guard import ApiGuard
from core.api.routes import health, predict, predictions

API_PREFIX = "/api"


def api_routes(sign_in: bool = False) -> list[BaseRoute]:
    """The ``/api`` routes, behind the access check and the JSON error handling of ``ApiGuard``; ``sign_in``: the
    app has sign-in configured (the log is then for administrators only, as the History page is)."""
    router = Router([
        Route("/health", health, methods=["GET"]),
        Route("/predict", predict, methods=["POST"]),
        Route("/predictions", predictions, methods=["GET"]),
    ])
    return [Mount(API_PREFIX, app=router, middleware=[Middleware(ApiGuard, sign_in=sign_in)])]


__all__ = ["API_PREFIX", "api_routes"]

"""The REST API enforces the pages' roles: with sign-in configured, the prediction log is for administrators only."""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.routing import Router

from core.api import api_routes
from core.api.access import protection, refusal
from core.config import get_settings
from tests.api.asgi import call

API, ADMIN = "api-token-1", "admin-token-2"


def _scope(token: str | None) -> dict:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    return {"type": "http", "headers": headers}


@pytest.mark.parametrize(("token", "sign_in", "admin_set", "route", "status"), [
    (None, True, False, "/predictions", 403),  # sign-in and no admin token: nobody reads the log over REST
    (None, True, True, "/predictions", 401),  # anonymous
    (API, True, True, "/predictions", 403),  # a user's token, not an administrator's
    ("wrong", True, True, "/predictions", 401),
    (ADMIN, True, True, "/predictions", None),  # an administrator
    (None, False, False, "/predictions", None),  # the open demo, as its History page
    (None, False, True, "/predictions", 401),  # an admin token, once set, guards the log everywhere
    (None, True, True, "/health", None),  # other routes follow MGMT_API_TOKEN only (unset here)
])
def test_who_may_read_the_log(token: str | None, sign_in: bool, admin_set: bool, route: str,
                              status: int | None) -> None:
    settings = replace(get_settings(), api_token=None, admin_token=ADMIN if admin_set else None)
    if token == API:
        settings = replace(settings, api_token=API)
    refused = refusal(_scope(token), route, settings, sign_in)
    assert (refused.status if refused else None) == status


def test_the_api_token_guards_the_other_routes_and_the_admin_token_opens_them() -> None:
    settings = replace(get_settings(), api_token=API, admin_token=ADMIN)
    assert refusal(_scope(None), "/predict", settings, True).status == 401
    assert refusal(_scope(API), "/predict", settings, True) is None
    assert refusal(_scope(ADMIN), "/predict", settings, True) is None


def test_the_mounted_routes_see_the_log_path_and_refuse_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MGMT_API_TOKEN", raising=False)
    monkeypatch.delenv("MGMT_ADMIN_TOKEN", raising=False)
    answer = call(Router(api_routes(sign_in=True)), "GET", "/api/predictions")
    assert answer.status == 403 and "administrators" in answer.json()["error"]


def test_protection_says_what_guards_each_part() -> None:
    statement = protection(replace(get_settings(), api_token=None, admin_token=None), sign_in=True)
    assert statement["prediction log"].startswith("not served") and statement["health and predict"].startswith("open")

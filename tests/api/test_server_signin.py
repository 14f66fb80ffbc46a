"""A running app with sign-in configured: the REST log answers administrators only, and health says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.app_server import AppServer, running_app

pytestmark = pytest.mark.slow
API, ADMIN = "user-token-7a1", "admin-token-3c9"
AUTH = """[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "test-cookie-secret"
client_id = "test-client"
client_secret = "test-secret"
server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"
"""


@pytest.fixture(scope="module")
def signed_in_app(tmp_path_factory: pytest.TempPathFactory) -> AppServer:
    """The app with an [auth] section in Streamlit's secrets (found under HOME/.streamlit) and both tokens."""
    home = tmp_path_factory.mktemp("home")
    (home / ".streamlit").mkdir()
    (home / ".streamlit" / "secrets.toml").write_text(AUTH)
    env = {"HOME": str(home), "MGMT_API_TOKEN": API, "MGMT_ADMIN_TOKEN": ADMIN}
    with running_app(Path(tmp_path_factory.mktemp("signin-app")), env) as server:
        yield server


def _log(server: AppServer, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{server.url}/api/predictions", headers=headers, timeout=60)


def test_an_anonymous_caller_gets_no_log(signed_in_app: AppServer) -> None:
    answer = _log(signed_in_app, None)
    assert answer.status_code == 401 and "MGMT_ADMIN_TOKEN" in answer.json()["error"]


def test_a_non_admin_caller_gets_no_log(signed_in_app: AppServer) -> None:
    answer = _log(signed_in_app, API)
    assert answer.status_code == 403 and "administrators" in answer.json()["error"]


def test_an_admin_caller_reads_the_log_and_health_says_what_protects_it(signed_in_app: AppServer) -> None:
    answer = _log(signed_in_app, ADMIN)
    assert answer.status_code == 200 and isinstance(answer.json(), list)
    health = requests.get(f"{signed_in_app.url}/api/health", headers={"Authorization": f"Bearer {API}"},
                          timeout=30).json()
    assert health["access"]["prediction log"].startswith("administrators only")
    assert health["access"]["pages"].startswith("sign-in configured")  # the app found the [auth] secrets
    assert "REST API, prediction log: administrators only" in signed_in_app.log.read_text(errors="replace")

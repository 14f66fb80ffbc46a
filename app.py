"""Streamlit entry: navigation, the REST routes and the shared page chrome. Pages lay out; core/ computes.

``streamlit run app.py`` imports this module to find ``app`` (an ``st.App`` that serves the pages and the
``/api/*`` routes on one port, and starts loading the model at start-up), then runs this same file as the page
script (``__main__``) on every rerun.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.runtime.pages_manager import PagesManager

from core.api import api_routes
from core.api.access import protection
from core.config import get_settings
from core.notice import RESEARCH_NOTICE
from core.service import get_service

PAGES = {
    "home": ("pages/home.py", "Home", ":material/home:"),
    "predict": ("pages/predict.py", "Predict", ":material/psychology:"),
    "cohort": ("pages/cohort.py", "Cohort", ":material/groups:"),
    "model": ("pages/model.py", "Model", ":material/description:"),
    "history": ("pages/history.py", "History", ":material/history:"),
    "inspect": ("pages/inspect.py", "Inspect a study", ":material/search:"),
}


def auth_configured() -> bool:
    """Whether an OIDC provider is set in Streamlit's secrets (``[auth]``): then visitors log in with st.login."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return False


def who_is_here() -> tuple[str, bool]:
    """The visitor's name for the log, and whether they may see the History page.

    Open demo (no auth configured): everyone is "anonymous" and sees History (the log holds no patient data).
    With auth: the logged-in e-mail; History only for the addresses in ``MGMT_ADMINS``.
    """
    if not auth_configured():
        return "anonymous", True
    if not st.user.get("is_logged_in"):
        return "anonymous", False
    email = str(st.user.get("email") or "signed-in user without an e-mail").lower()  # nothing else of the identity
    return email, email in get_settings().admins


def sidebar(logged_in_required: bool) -> None:
    with st.sidebar:
        if logged_in_required:
            if st.user.get("is_logged_in"):
                st.caption(f"Signed in as {st.session_state['user']}")
                st.button("Log out", on_click=st.logout)
            else:
                st.button("Log in", on_click=st.login, type="primary")
        else:
            st.caption("Open demo: no sign-in. Predictions are logged without any patient identifier.")
        st.caption(RESEARCH_NOTICE)


def run_pages() -> None:
    """The page script: who is here, which pages they may open, the shared sidebar, then the chosen page."""
    st.set_page_config(page_title="MGMT radiogenomics (research demo)", page_icon=":material/neurology:",
                       layout="wide")
    get_service()  # under AppTest there is no server start-up: begin loading the model here too
    user, admin = who_is_here()
    st.session_state["user"], st.session_state["admin"] = user, admin
    needs_login = auth_configured()
    shown = [key for key in PAGES if key != "history" or admin]
    if needs_login and not st.user.get("is_logged_in"):
        shown = ["home", "model"]
    st.session_state["pages"] = [PAGES[key][0] for key in shown]
    pages = [st.Page(PAGES[key][0], title=PAGES[key][1], icon=PAGES[key][2], default=key == "home")
             for key in shown]
    navigation = st.navigation(pages)
    sidebar(needs_login)
    navigation.run()


@asynccontextmanager
async def lifespan(_app: st.App):
    get_service()  # the model loads in the background; /api/health says when it is ready
    for part, statement in protection(get_settings(), auth_configured()).items():
        logging.getLogger("core.api").warning("REST API, %s: %s", part, statement)
    yield {}


if __name__ == "__main__":
    run_pages()
else:
    # Streamlit treats an app with a pages/ folder as a v1 multipage app until some run calls st.navigation:
    # a server whose first visitor opens /predict would run pages/predict.py alone, without this chrome.
    PagesManager.uses_pages_directory = False
    app = st.App("app.py", routes=api_routes(sign_in=auth_configured()), lifespan=lifespan)

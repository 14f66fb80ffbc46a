"""The Streamlit pages, run in-process with AppTest: they render, predict, show the cohort, and guard History."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.examples import EXAMPLES, example_study
from core.inference import Predictor
from core.ingest import load_study
from core.metrics import Confusion

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("pages/predict.py", "pages/cohort.py", "pages/model.py", "pages/history.py", "pages/inspect.py")
BUNDLED_METRICS = json.loads((ROOT / "weights" / "config.json").read_text())["metrics"]
AUTH = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-secret",
                 "client_id": "id", "client_secret": "secret",
                 "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration"}}


def app_test() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def signed_in(monkeypatch: pytest.MonkeyPatch, email: str, admins: str) -> AppTest:
    """The app with sign-in configured, run once for ``email`` signed in, with ``admins`` as MGMT_ADMINS."""
    monkeypatch.setenv("MGMT_ADMINS", admins)
    app = app_test()
    app.secrets.update(AUTH)
    app.user = {"is_logged_in": True, "email": email}
    return app.run()


def metrics_of(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_home_states_the_research_notice_and_the_models_cross_validated_auc() -> None:
    app = app_test().run()
    assert not app.exception
    assert app.title[0].value == "MGMT promoter methylation from brain MRI"
    assert any("Research use only" in warning.value for warning in app.warning)
    shown = metrics_of(app)[f"Cross-validated AUC ({BUNDLED_METRICS['cv_folds']}-fold)"]
    assert shown == f"{BUNDLED_METRICS['auc']:.3f}"
    assert metrics_of(app)["Revision"] == "local"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(page: str) -> None:
    app = app_test().run()
    app.switch_page(page).run()
    assert not app.exception
    assert app.title[0].value != "MGMT promoter methylation from brain MRI"  # the page itself, not Home


@pytest.mark.slow
def test_example_study_flow_shows_the_probability_the_model_gives() -> None:
    app = app_test().run()
    app.switch_page("pages/predict.py").run()
    app.selectbox[0].select("case-10").run()
    app.button(key="predict").click().run()
    assert not app.exception
    assert not app.error
    direct = Predictor.load().predict(load_study(example_study("case-10")), with_cam=False).result
    expected = direct.probability
    assert metrics_of(app)["P(methylated)"] == f"{expected:.3f}"
    assert app.session_state["outcome"].report["label"] == direct.label
    assert "Quality checks" in [header.value for header in app.subheader]
    checks = direct.quality
    passed = sum(check.status == "pass" for check in checks)
    said = [m.value for m in app.markdown]
    assert (f"{passed} quality checks passed." if passed == len(checks) else
            f"{passed} of {len(checks)} quality checks passed") in " ".join(said)
    assert not any(check.detail in text for check in checks if check.status == "pass" for text in said)
    assert app.session_state["outcome"].prediction.artefacts.cam is not None
    assert metrics_of(app)["Whole tumour"] == f"{direct.tumour.volumes_ml['whole']:.1f} ml"  # the measured tumour
    assert EXAMPLES["case-10"].truth == "unmethylated"


@pytest.mark.slow
def test_the_viewer_starts_at_the_tumour_and_its_sliders_move_the_cursor() -> None:
    app = app_test().run()
    app.switch_page("pages/predict.py").run()
    app.button(key="predict").click().run()
    display = app.session_state["outcome"].prediction.artefacts.viewer
    start = display.voxel_of(display.start_mm)
    assert [app.select_slider(key=key).value for key in ("cursor-x", "cursor-y", "cursor-z")] == list(start)
    segmented = bool((app.session_state["outcome"].prediction.artefacts.segmentation > 0).any())
    assert display.start_from == ("tumour centre" if segmented else "Grad-CAM peak")
    app.select_slider(key="cursor-z").set_value(start[2] + 3).run()
    assert not app.exception
    shown = [c.value for c in app.caption if c.value.startswith("Cursor at")][0]
    assert f"z {display.world_of((*start[:2], start[2] + 3))[2]:+.1f} mm" in shown
    app.button(key="cursor-back").click().run()
    assert [app.select_slider(key=key).value for key in ("cursor-x", "cursor-y", "cursor-z")] == list(start)


@pytest.mark.slow
def test_a_segmentation_is_overlaid_and_the_cursor_starts_at_the_tumour() -> None:
    app = app_test().run()
    app.switch_page("pages/predict.py").run()
    app.button(key="predict").click().run()
    outcome = app.session_state["outcome"]
    display = outcome.prediction.artefacts.viewer
    labels = np.zeros(display.grid.shape, np.uint8)
    labels[20:30, 25:35, 30:40] = 2  # as a model that segments would give it, brought onto the display grid
    labels[24:26, 29:31, 34:36] = 1
    segmented = replace(display, labels=labels, start_mm=tuple(display.world_of((25, 30, 35))),
                        start_from="tumour centre")
    artefacts = replace(outcome.prediction.artefacts, viewer=segmented)
    app.session_state["outcome"] = replace(outcome, prediction=replace(outcome.prediction, artefacts=artefacts))
    app.run()
    assert not app.exception
    assert app.toggle[1].label == "Tumour segmentation" and app.toggle[1].value is True
    assert [app.select_slider(key=key).value for key in ("cursor-x", "cursor-y", "cursor-z")] == [25, 30, 35]
    shown = [c.value for c in app.caption if c.value.startswith("Cursor at")][0]
    assert "started at the tumour centre" in shown and "necrotic core (1) blue" in shown


def test_cohort_page_shows_the_training_cohorts_auc_and_size() -> None:
    app = app_test().run()
    app.switch_page("pages/cohort.py").run()
    assert not app.exception
    shown = metrics_of(app)
    assert shown["Cases"] == str(BUNDLED_METRICS["n"])
    assert shown["ROC AUC"] == f"{BUNDLED_METRICS['auc']:.3f}"
    assert app.selectbox[0].value == "training (out-of-fold)"


def test_confusion_matrix_follows_the_threshold_slider() -> None:
    app = app_test().run()
    app.switch_page("pages/cohort.py").run()
    app.slider[0].set_value(0.5).run()
    at_half = [c.value for c in app.caption if c.value.startswith("At 0.50")][0]
    oof = pd.read_csv(ROOT / "weights" / "oof.csv")  # the cohort holds the calibrated out-of-fold probabilities
    sensitivity = Confusion.at(oof["MGMT_value"], oof["calibrated"], 0.5).sensitivity
    assert f"sensitivity {sensitivity:.2f}" in at_half
    app.slider[0].set_value(0.99).run()
    assert any(c.value.startswith("At 0.99: sensitivity 0.0") for c in app.caption)


def test_history_is_hidden_from_a_signed_in_visitor_who_is_not_an_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    app = signed_in(monkeypatch, "visitor@example.org", admins="admin@example.org")
    assert not app.exception
    assert app.session_state["admin"] is False
    with pytest.raises(ValueError, match="pages/predict.py") as refused:  # History is not among the pages
        app.switch_page("pages/history.py")
    assert "history.py" not in str(refused.value).split("Known pages")[1]


def test_history_is_shown_to_an_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    app = signed_in(monkeypatch, "admin@example.org", admins="someone@example.org, Admin@Example.org")
    app.switch_page("pages/history.py").run()
    assert not app.exception
    assert app.title[0].value == "History"
    assert "Predictions" in metrics_of(app)


def test_signed_out_visitors_see_only_home_and_model_when_auth_is_configured() -> None:
    app = app_test()
    app.secrets.update(AUTH)
    app.user = {"is_logged_in": False}
    app.run()
    assert not app.exception
    assert app.session_state["user"] == "anonymous"
    with pytest.raises(ValueError, match="Known pages") as refused:
        app.switch_page("pages/predict.py")
    known = str(refused.value).split("Known pages")[1]
    assert "home.py" in known and "model.py" in known and "predict.py" not in known


def test_an_abstained_prediction_is_hidden_behind_show_anyway_with_the_reasons() -> None:
    from core.service import Outcome

    app = app_test().run()
    app.switch_page("pages/predict.py").run()
    app.selectbox[0].select("case-10").run()
    app.button(key="predict").click().run()
    reason = "No tumour was found; expected a glioma of at least 3 ml."
    prediction = app.session_state["outcome"].prediction
    app.session_state["outcome"] = Outcome(prediction.with_result(abstained=True, label="indeterminate",
                                                                  reasons=(reason,)))
    app.run()
    assert [error.value for error in app.error] == [f"No call: the tool abstains on this study. {reason}"]
    assert "P(methylated)" not in metrics_of(app)
    app.toggle(key="show-anyway").set_value(True).run()
    assert metrics_of(app)["P(methylated)"] == f"{prediction.result.probability:.3f}"

"""The dashboard in a real browser: Debian's Chromium driven by Playwright against `streamlit run app.py`.

Uploads a synthetic study zip on Predict, waits for the gauge, checks that the probability shown equals the
command line's for the same study, and saves screenshots under ``artifacts/`` (the CI keeps them).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_server import AppServer

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The flags that keep Chromium off the network on this closed machine (and working as root, headless).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RESULT_TIMEOUT_MS = 360_000  # the first prediction loads the model beside the other test worker

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),  # CI installs it: fail there
                       reason="needs Debian's chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def study_folder(synthetic_case: Path) -> Path:
    """A small synthetic four-sequence DICOM study (``<case>/{FLAIR,T1w,T1wCE,T2w}/Image-N.dcm``)."""
    return synthetic_case


@pytest.fixture(scope="module")
def study_zip(study_folder: Path) -> Path:
    """The same study zipped, as a visitor would upload it."""
    archive = shutil.make_archive(str(study_folder.parents[1] / "study"), "zip", root_dir=study_folder.parent,
                                  base_dir=study_folder.name)
    return Path(archive)


@pytest.fixture(scope="module")
def browser_page(app_server: AppServer) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2600})
        page.set_default_timeout(RESULT_TIMEOUT_MS)
        yield page
        browser.close()


@functools.cache
def cli_probability(study: Path) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "core", "predict", str(study), "--json", "--no-log"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout)["probability"]


def open_predict_with_upload(page, url: str, upload: Path, kind: str = "Upload a .zip") -> None:
    page.goto(f"{url}/predict")
    page.get_by_text(kind).click()
    predict = page.get_by_role("button", name="Predict", exact=True)
    # The example study, chosen on arrival, enables Predict: wait until the rerun for the upload choice has drawn
    # it disabled, or a slow rerun leaves the old, enabled button to be clicked before the upload is in.
    predict.and_(page.locator(":disabled")).wait_for()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
    predict.and_(page.locator(":enabled")).wait_for()  # the upload reached the server
    predict.click()


def shown_probability(page) -> str:
    page.locator(".st-key-gauge .js-plotly-plot").wait_for()  # the gauge
    shown = page.locator('[data-testid="stMetric"]', has_text="P(methylated)")
    return shown.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_uploaded_zip_shows_the_gauge_with_the_command_lines_probability(
        browser_page, app_server: AppServer, study_zip: Path) -> None:
    page = browser_page
    open_predict_with_upload(page, app_server.url, study_zip)
    value = shown_probability(page)
    page.get_by_text("Where the model looked").scroll_into_view_if_needed()
    page.locator(".st-key-viewer .js-plotly-plot").wait_for()  # the slice viewer
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "predict-upload.png"), full_page=True)
    assert value == f"{cli_probability(study_zip):.3f}"
    assert page.get_by_text("Which series became which sequence").is_visible()
    navigation = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Home" in navigation and "Cohort" in navigation  # the app's own navigation, not Streamlit's pages/ list
    assert page.locator('[data-testid="stFileUploaderFile"]').count() == 0  # the upload was released


def test_a_bad_upload_shows_a_message_and_the_page_stays_usable(
        browser_page, app_server: AppServer, tmp_path: Path) -> None:
    page = browser_page
    garbage = tmp_path / "not-a-study.zip"
    garbage.write_bytes(b"this is not a zip archive at all" * 10)
    open_predict_with_upload(page, app_server.url, garbage)
    alert = page.locator('[data-testid="stAlertContentError"]')
    alert.wait_for()
    message = alert.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "predict-bad-upload.png"), full_page=True)
    assert "not-a-study.zip" in message
    assert "Traceback" not in page.content()
    assert page.get_by_role("button", name="Predict", exact=True).is_visible()


def test_an_uploaded_folder_gives_the_same_probability_as_its_zip(
        browser_page, app_server: AppServer, study_folder: Path, study_zip: Path) -> None:
    page = browser_page
    open_predict_with_upload(page, app_server.url, study_folder, kind="Upload a folder")
    assert shown_probability(page) == f"{cli_probability(study_zip):.3f}"


def cursor_mm(caption: str) -> tuple[float, float, float]:
    """(x, y, z) of 'Cursor at x +20.8 mm (R), y +6.9 mm (A), z +45.0 mm (S) ...'."""
    found = re.search(r"x ([+-][\d.]+) mm .*?, y ([+-][\d.]+) mm .*?, z ([+-][\d.]+) mm", caption)
    return tuple(float(value) for value in found.groups())


def hovered_point(page, figure, where: tuple[float, float]) -> list[float] | None:
    """The world position (mm) the viewer's hover label gives under the mouse at ``where``, once plotly answers."""
    label = figure.locator(".hoverlayer .hovertext").first
    for _ in range(30):  # plotly answers hovers once the figure has settled; wiggle until it does
        page.mouse.move(where[0] + 40, where[1] + 40)
        page.mouse.move(*where)
        if label.count():
            return [float(v) for v in re.search(r"\(([-\d]+), ([-\d]+), ([-\d]+)\) mm", label.text_content()).groups()]
        page.wait_for_timeout(1000)
    return None


def test_a_click_on_an_axial_image_brings_the_other_planes_to_the_point_clicked(
        browser_page, app_server: AppServer, study_zip: Path) -> None:  # noqa: F811
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser_page
    open_predict_with_upload(page, app_server.url, study_zip)
    figure = page.locator(".st-key-viewer .js-plotly-plot")
    figure.wait_for()
    caption = page.locator('[data-testid="stCaptionContainer"]', has_text="Cursor at")
    before = caption.inner_text()
    figure.scroll_into_view_if_needed()  # the mouse reaches only what is on screen
    axial_flair = figure.locator(".nsewdrag").first.bounding_box()
    for attempt in range(3):  # a click that lands while the page is still settling is tried again, a little aside
        where = (axial_flair["x"] + axial_flair["width"] * (0.35 + 0.05 * attempt),
                 axial_flair["y"] + axial_flair["height"] * 0.4)
        point = hovered_point(page, figure, where)
        assert point is not None, "no hover label over the axial FLAIR image"
        page.mouse.click(*where)
        try:
            caption.filter(has_not_text=before).wait_for(timeout=60_000)
            break
        except PlaywrightTimeout:  # the caption did not move: try again
            continue
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "predict-viewer-click.png"), full_page=True)
    after = cursor_mm(caption.inner_text())
    spacing = float(re.search(r"on one ([\d.]+) mm grid", page.content()).group(1))
    assert abs(after[0] - point[0]) <= spacing / 2 + 0.5 and abs(after[1] - point[1]) <= spacing / 2 + 0.5
    assert after[2] == cursor_mm(before)[2]  # the axial plane clicked stays where it was
    assert point[:2] != list(cursor_mm(before)[:2])

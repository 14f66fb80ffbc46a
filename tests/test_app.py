"""The Streamlit app renders its pages without exceptions and says it is for research only."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def test_home_renders_with_the_research_notice() -> None:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not app.exception
    assert any("Research use only" in w.value for w in app.warning)
    assert app.title[0].value == "MGMT promoter methylation from brain MRI"


def test_inspect_page_renders_its_uploader() -> None:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    app.run()
    app.switch_page("pages/inspect.py").run()
    assert not app.exception
    assert app.title[0].value == "Inspect a study"

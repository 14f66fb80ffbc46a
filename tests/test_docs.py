"""The README and docs/ stay true to the repository: links resolve, settings and commands are documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from core.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_MAX_LINES = 150
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = ("http://", "https://", "mailto:", "#")


def prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def relative_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(prose(path.read_text())) if not target.startswith(EXTERNAL)]


def settings_read_in_config() -> set[str]:
    """Every ``MGMT_*`` name that core/config.py passes as a string of its own (the names it reads)."""
    tree = ast.parse((ROOT / "core" / "config.py").read_text())
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and re.fullmatch(r"MGMT_[A-Z0-9_]+", node.value)}


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```\n(.*?)\n```", text, flags=re.S | re.M)


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_to_a_file(page: Path) -> None:
    broken = [t for t in relative_links(page) if not (page.parent / t.split("#", 1)[0]).is_file()]
    assert broken == []


def test_link_finder_sees_a_link_whose_text_spans_lines() -> None:
    assert LINK.findall(prose("![a\nb](.github/predict.png) `[x](no.md)`")) == [".github/predict.png"]


def test_readme_fits_on_a_screen() -> None:
    assert len(README.read_text().splitlines()) <= README_MAX_LINES


def test_every_setting_read_in_config_is_in_the_deployment_page() -> None:
    names = settings_read_in_config()
    page = (ROOT / "docs" / "deployment.md").read_text()
    assert "MGMT_DB_URL" in names and len(names) > 10
    assert sorted(name for name in names if f"`{name}`" not in page) == []


def test_every_command_is_in_the_usage_page() -> None:
    page = (ROOT / "docs" / "usage.md").read_text()
    assert sorted(name for name in COMMANDS if f"python -m core {name} " not in page) == []


def test_readme_test_command_is_the_last_command_of_ci_run() -> None:
    text = README.read_text()
    after = text[text.index("Run every test"):]
    readme_command = code_blocks(after)[0].strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in ci_lines if line and not line.startswith("#")]
    assert readme_command == commands[-1]

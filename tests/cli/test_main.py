"""``python -m core``: every command listed, each importing only what it needs, exit statuses documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.__main__ import main
from core.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_command_and_the_exit_statuses(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert all(name in out for name in COMMANDS) and "95% CI" in out
    assert "  2    the input cannot be used" in out and "  3    the service cannot answer now" in out


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_commands_help_prints(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0 and f"python -m core {command}" in capsys.readouterr().out


def test_light_commands_do_not_import_torch() -> None:
    code = ("import sys; from core.__main__ import build_parser; "
            "[build_parser([name, '--help']) for name in ('inspect', 'purge', 'synth')]; "
            "print('torch' in sys.modules, 'monai' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False", "False"]

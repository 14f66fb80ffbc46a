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


def test_a_bug_is_answered_in_one_line_naming_its_type_and_how_to_see_the_traceback(
        study_dir, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.cli.inspect

    def broken(args) -> int:
        raise RuntimeError("an internal invariant did not hold")

    monkeypatch.setattr(core.cli.inspect, "run", broken)
    assert main(["inspect", str(study_dir[0])]) == 1
    assert capsys.readouterr().err == ("error: a bug in 'inspect' (RuntimeError); run again as 'python -m core "
                                       "--debug inspect ...' to see the traceback, and please report it\n")


def test_a_logged_warning_prints_as_one_warning_line(study_dir, capsys: pytest.CaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    import core.cli.inspect

    def warns(args) -> int:
        logging.getLogger("core.store").warning("Prediction not logged: the store is busy")
        return 0

    monkeypatch.setattr(core.cli.inspect, "run", warns)
    assert main(["inspect", str(study_dir[0])]) == 0
    assert capsys.readouterr().err == "warning: Prediction not logged: the store is busy\n"


def test_debug_is_a_flag_before_the_command() -> None:
    from core.__main__ import build_parser

    assert build_parser(["--debug", "purge"]).parse_args(["--debug", "purge", "--days", "1"]).debug is True

"""The words the Predict page and the PDF share: the call in one sentence, the checks in one line, units."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.quality.result import QualityCheck
from core.report.wording import (
    call_sentence,
    millilitres,
    millimetres,
    percent,
    quality_issues,
    quality_line,
    reference_estimate,
)


def answer(label: str = "methylated", abstained: bool = False, reasons: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(probability=0.834, label=label, threshold=0.5, abstained=abstained, reasons=reasons,
                           uncertainty=SimpleNamespace(interval90=(0.712, 0.9)))


def check(status: str, name: str = "coverage", sequence: str | None = "T2w") -> QualityCheck:
    return QualityCheck(name, sequence, status, 1.0, f"{name} is {status}.")


def test_a_call_names_the_label_with_the_probability_and_interval_in_percent() -> None:
    assert call_sentence(answer()) == ("The model calls the MGMT promoter methylated: P(methylated) 83% "
                                       "(90% interval 71% to 90%).")
    assert reference_estimate(answer()) is None


def test_an_abstention_says_so_with_its_reasons() -> None:
    said = call_sentence(answer("indeterminate", True, ("The T2w series is a copy of FLAIR.",)))
    assert said == "No call: the tool abstains on this study. The T2w series is a copy of FLAIR."


def test_a_no_call_says_the_model_is_not_sure_and_marks_the_estimate_as_not_a_result() -> None:
    unsure = answer("indeterminate", False, ("The decision rule did not accept this study.",))
    assert call_sentence(unsure) == ("No call: the model is not sure enough either way. The decision rule did not "
                                     "accept this study.")
    assert reference_estimate(unsure) == ("For reference only, not a result: P(methylated) 83% (90% interval 71% "
                                          "to 90%).")


@pytest.mark.parametrize(("checks", "line"), [
    ([check("pass")] * 21, "21 quality checks passed."),
    ([check("pass")] * 19 + [check("warn"), check("fail")], "19 of 21 quality checks passed (1 warning, 1 failure)."),
    ([check("pass"), check("fail"), check("fail")], "1 of 3 quality checks passed (2 failures)."),
    ([], "No quality checks were run."),
])
def test_the_checks_in_one_line(checks: list[QualityCheck], line: str) -> None:
    assert quality_line(checks) == line


def test_only_warnings_and_failures_are_listed_failures_first() -> None:
    checks = [check("pass", "blank"), check("warn", "coverage"), check("fail", "identity", None)]
    assert quality_issues(checks) == ["Failed (study): identity is fail.", "Warning (T2w): coverage is warn."]


def test_numbers_carry_units_and_sensible_rounding() -> None:
    assert (millilitres(2157.4), millilitres(43.42), millilitres(0.04)) == ("2157 ml", "43.4 ml", "0.0 ml")
    assert millimetres((12.4, -30.6, 0.2)) == "x +12, y -31, z +0 mm"
    assert (percent(0.834), percent(0.004), percent(0.997), percent(0.0), percent(1.0)) == (
        "83%", "<1%", ">99%", "0%", "100%")

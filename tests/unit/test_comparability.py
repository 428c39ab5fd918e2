"""config/comparability.yaml: every item of two waves is accounted for once, or one line stops the run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from maturity import comparability
from maturity.comparability import check_comparability, check_comparison, comparison_for, reason_text
from maturity.config_models import Comparability, DeclaredComparison
from maturity.settings import ConfigError, load_comparability

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> dict[str, Any]:
    values = yaml.safe_load((ROOT / "config" / "comparability.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(values)


def _stops(values: dict[str, Any]) -> str:
    """The one line check_comparison stops with for the first comparison of these values."""
    config = Comparability.model_validate(values)
    with pytest.raises(ConfigError) as stopped:
        check_comparison(config.comparisons[0], reasons=set(config.reasons))
    message = str(stopped.value)
    assert "\n" not in message
    assert message.startswith("config/comparability.yaml: ")
    return message


def test_the_demo_config_lines_2021_up_with_2018() -> None:
    check_comparability(load_comparability())
    comparison = comparison_for("2021")
    assert comparison is not None
    assert (comparison.earlier, comparison.later) == ("2018", "2021")
    assert comparison.statements["staff_analysis_skills"] == "staff_skills"
    assert comparison.statements["clear_vision"] == "clear_vision"
    assert "share_with_partners" not in comparison.statements
    assert "know_what_to_share" not in comparison.statements.values()
    assert comparison.new_statements == ("share_with_partners",)
    assert comparison.dropped_statements == ("know_what_to_share",)
    assert comparison.characteristics["open_data"] == "open_data"
    assert comparison.not_comparable == {}
    assert comparison_for("2018") is None  # the first wave follows none


def test_a_statement_new_in_the_later_wave_must_be_declared() -> None:
    values = _declared()
    values["comparisons"][0]["statements"]["new"] = []
    assert _stops(values) == (
        "config/comparability.yaml: statement share_with_partners is asked in 2021 but not in 2018, and the "
        "2018→2021 comparison does not say whether it is new or continues a 2018 statement: add it under "
        "statements.new or statements.mapped."
    )


def test_a_reworded_statement_left_unmapped_must_be_declared() -> None:
    values = _declared()
    values["comparisons"][0]["statements"]["mapped"] = {}
    assert "statement staff_analysis_skills is asked in 2021 but not in 2018" in _stops(values)


def test_a_statement_no_longer_asked_must_be_dropped_or_continued() -> None:
    values = _declared()
    values["comparisons"][0]["statements"]["dropped"] = []
    message = _stops(values)
    assert "statement know_what_to_share is asked in 2018 but not in 2021" in message
    assert "statements.dropped" in message


def test_a_mapped_target_must_be_asked_in_the_earlier_wave() -> None:
    values = _declared()
    statements = values["comparisons"][0]["statements"]
    statements["mapped"] = {"staff_analysis_skills": "share_with_partners"}
    statements["new"] = []
    message = _stops(values)
    assert "staff_analysis_skills is mapped to share_with_partners" in message
    assert "not asked in 2018" in message


def test_a_mapped_target_still_asked_under_its_own_id_is_refused() -> None:
    values = _declared()
    values["comparisons"][0]["statements"]["mapped"] = {"staff_analysis_skills": "clear_vision"}
    assert "clear_vision is still asked in 2021" in _stops(values)


def test_an_item_listed_twice_is_refused() -> None:
    values = _declared()
    values["comparisons"][0]["statements"]["new"] = ["share_with_partners", "staff_analysis_skills"]
    assert "statement staff_analysis_skills is listed more than once in statements" in _stops(values)


def test_an_unknown_id_is_refused() -> None:
    values = _declared()
    values["comparisons"][0]["statements"]["dropped"] = ["know_what_to_share", "no_such_statement"]
    assert (
        "statement no_such_statement in statements of the 2018→2021 comparison is not a statement"
        in _stops(values)
    )
    values = _declared()
    values["comparisons"][0]["characteristics"]["not_comparable"] = {"leadershp": "reworded"}
    assert "characteristic leadershp in characteristics" in _stops(values)


def test_not_comparable_needs_a_known_reason_and_an_item_of_both_waves() -> None:
    values = _declared()
    values["comparisons"][0]["characteristics"]["not_comparable"] = {"open_data": "changed"}
    assert "has reason 'changed', which is not one of reasons (method_changed, reworded)" in _stops(values)
    values["comparisons"][0]["characteristics"]["not_comparable"] = {"open_data": "method_changed"}
    config = Comparability.model_validate(values)
    check_comparison(config.comparisons[0], reasons=set(config.reasons))  # a known reason: accepted
    values["comparisons"][0]["statements"]["not_comparable"] = {"share_with_partners": "reworded"}
    values["comparisons"][0]["statements"]["new"] = []
    assert "share_with_partners is in statements.not_comparable but is not asked in both" in _stops(values)


def test_an_item_asked_in_both_waves_is_not_new() -> None:
    values = _declared()
    values["comparisons"][0]["statements"]["new"] = ["share_with_partners", "clear_vision"]
    assert "clear_vision is in statements.new but is not asked in 2021 only" in _stops(values)


def test_a_wave_compared_with_itself_or_twice_is_refused() -> None:
    values = _declared()
    values["comparisons"][0]["earlier"] = "2021"
    assert "compares a wave with itself" in _stops(values)
    values = _declared()
    values["comparisons"].append(values["comparisons"][0])
    with pytest.raises(ConfigError, match=r"wave 2021 is the later wave of more than one comparison"):
        check_comparability(Comparability.model_validate(values))


def test_a_comparison_with_a_wave_the_framework_never_asks_is_refused() -> None:
    values = _declared()
    values["comparisons"][0]["later"] = (
        "2024"  # only the every-wave statements: the 2021 ones are unaccounted
    )
    assert (
        "statement staff_analysis_skills is mapped in statements.mapped but is not asked in 2024"
        in _stops(values)
    )


def test_every_reason_has_wording_and_a_misspelt_key_is_one_line() -> None:
    assert reason_text("reworded").startswith("The question was reworded")
    values = _declared()
    values["comparisons"][0]["statements"]["mappd"] = values["comparisons"][0]["statements"].pop("mapped")
    with pytest.raises(ValueError, match="mappd"):
        DeclaredComparison.model_validate(values["comparisons"][0])
    assert comparability.COMPARABILITY_FILE == "config/comparability.yaml"

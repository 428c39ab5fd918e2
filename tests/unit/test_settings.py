"""Every config file is read once, into typed settings, and a wrong key or value is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from maturity import config_models, settings
from maturity.settings import ConfigError

ROOT = Path(__file__).resolve().parents[2]
LOADERS = (
    settings.load_settings,
    settings.load_limits,
    settings.load_comment_rules,
    settings.load_orchestration_config,
    settings.load_open_data_config,
    settings.load_operations_config,
    settings.load_demo_config,
    settings.load_ordinary_words,
)


def test_every_config_file_is_read_into_a_typed_model() -> None:
    read = [loader() for loader in LOADERS]
    assert all(not isinstance(values, dict) for values in read)
    method = settings.load_settings()
    for section in ("disclosure", "publication", "public_survey", "responses", "inputs", "outputs"):
        assert isinstance(getattr(method, section), config_models.ConfigModel), section
    assert settings.load_limits().inputs.max_columns > 0


def test_every_file_in_config_has_a_reader() -> None:
    """A config file nobody reads through settings would be read somewhere else, or not at all."""
    source = (ROOT / "maturity" / "settings.py").read_text(encoding="utf-8")
    for path in (ROOT / "config").iterdir():
        assert f'"{path.name}"' in source, path.name


def test_only_the_settings_module_opens_config_and_the_report_prose() -> None:
    readers = {
        path.relative_to(ROOT).as_posix()
        for package in ("maturity", "tasks", "flows", "operations", "warehouse")
        for path in (ROOT / package).rglob("*.py")
        if "CONFIG_DIR" in path.read_text(encoding="utf-8") or "content.{" in path.read_text(encoding="utf-8")
    }
    assert readers == {"maturity/settings.py", "maturity/translations.py"}  # translations names the file


def test_a_misspelt_key_stops_with_one_line_naming_the_file_and_key() -> None:
    values = yaml.safe_load((ROOT / "config" / "operations.yaml").read_text(encoding="utf-8"))
    values["serve"]["prot"] = values["serve"].pop("port")
    with pytest.raises(ConfigError) as stopped:
        settings._typed("operations.yaml", None, config_models.Operations, values)
    message = str(stopped.value)
    assert "\n" not in message
    assert message.startswith("config/operations.yaml: serve.")
    assert "run again" in message


def test_a_value_of_the_wrong_type_stops_with_one_line() -> None:
    values = yaml.safe_load((ROOT / "config" / "method.yaml").read_text(encoding="utf-8"))
    values["publication"]["level_decimals"] = "two"
    with pytest.raises(ConfigError, match=r"^config/method.yaml publication: level_decimals: .*integer"):
        settings._typed("method.yaml", "publication", config_models.PublicationRules, values)


def test_settings_are_immutable() -> None:
    with pytest.raises(ValueError, match="frozen"):
        settings.load_operations_config().serve.port = 1  # type: ignore[misc]


def _comment_values() -> dict:
    values = yaml.safe_load((ROOT / "config" / "comments.yaml").read_text(encoding="utf-8"))
    return {**values, "names": yaml.safe_load((ROOT / "config" / "names.yaml").read_text(encoding="utf-8"))}


def test_a_barrier_theme_left_out_of_report_themes_stops_with_one_line() -> None:
    values = _comment_values()
    del values["report_themes"]["skills"]
    with pytest.raises(ConfigError, match=r"^config/comments.yaml: .*missing: skills") as stopped:
        settings._typed("comments.yaml", None, config_models.CommentRules, values)
    assert "\n" not in str(stopped.value)


def test_report_themes_must_reach_every_report_section_and_name_known_ones() -> None:
    values = _comment_values()
    values["report_themes"]["evidence_use"] = "evidence"  # a typo: no such section
    rules = settings._typed("comments.yaml", None, config_models.CommentRules, values)
    with pytest.raises(ConfigError) as stopped:
        settings.check_report_themes(rules, settings.load_settings().themes)
    message = str(stopped.value)
    assert message.startswith("config/comments.yaml report_themes: evidence not a theme")
    assert "no barrier theme maps to evidence_based_decisions" in message
    assert "\n" not in message


def test_every_statement_has_a_short_label_and_a_direction() -> None:
    statements = settings.load_settings().statements
    assert all(s.short_en and len(s.short_en) < len(s.text_en) for s in statements)
    assert {s.id for s in statements if not s.higher_is_better} == {"dp_blocks_sharing"}
    values = yaml.safe_load((ROOT / "config" / "framework.yaml").read_text(encoding="utf-8"))
    del values["statements"][0]["short_en"]
    with pytest.raises(ConfigError, match=r"^config/framework.yaml: statements\.0\.short_en: Field required"):
        settings._typed("framework.yaml", None, config_models.FrameworkStatements, values)

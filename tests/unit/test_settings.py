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

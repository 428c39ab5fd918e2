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
    settings.load_comparability,
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


def _config(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text(encoding="utf-8"))


def _settings_from(framework: dict, tools: dict) -> settings.Settings:
    """Settings built and checked from edited framework and tools files (the rest as committed)."""
    return settings._check_config_values(settings._build_settings(framework, tools, _config("method.yaml")))


def test_each_wave_asks_its_own_statements_and_the_union_keeps_file_order() -> None:
    loaded = settings.load_settings()
    file_order = [s["id"] for s in _config("framework.yaml")["statements"]]
    assert [s.id for s in loaded.statements] == file_order
    in_2018 = [s.id for s in loaded.statements_in("2018")]
    in_2021 = [s.id for s in loaded.statements_in("2021")]
    assert "know_what_to_share" in in_2018
    assert "know_what_to_share" not in in_2021
    assert ("staff_skills" in in_2018, "staff_skills" in in_2021) == (True, False)
    assert ("staff_analysis_skills" in in_2018, "staff_analysis_skills" in in_2021) == (False, True)
    assert "share_with_partners" in in_2021
    assert "share_with_partners" not in in_2018
    assert "clear_vision" in in_2018
    assert "clear_vision" in in_2021  # no waves: asked in every wave
    assert loaded.tool_statements("service_managers", "2018") == (
        "clear_vision",
        "leaders_champion",
        "dp_blocks_sharing",
        "know_what_to_share",
        "enough_analysts",
        "staff_skills",
        "decision_info_quality",
    )
    columns = loaded.tool_answer_columns("information_governance", "2021")
    assert "st_share_with_partners" in columns
    assert "st_staff_analysis_skills" in columns
    assert "st_know_what_to_share" not in columns
    assert columns[0] == "lvl_leadership"


def test_a_statement_wave_that_is_not_a_wave_stops_with_one_line() -> None:
    framework = _config("framework.yaml")
    framework["statements"][0]["waves"] = ["18"]
    with pytest.raises(ConfigError) as stopped:
        _settings_from(framework, _config("tools.yaml"))
    message = str(stopped.value)
    assert message.startswith("config/framework.yaml statement clear_vision waves: '18' is not a valid wave")
    assert "\n" not in message
    framework["statements"][0]["waves"] = []
    with pytest.raises(ConfigError, match=r"^config/framework.yaml: statements\.0\.waves: "):
        settings._typed("framework.yaml", None, config_models.FrameworkStatements, framework)


def test_a_tool_asking_an_unknown_statement_stops_with_one_line() -> None:
    tools = _config("tools.yaml")
    tools["tools"][1]["statements"].append("staff_skils")
    with pytest.raises(ConfigError) as stopped:
        _settings_from(_config("framework.yaml"), tools)
    assert str(stopped.value).startswith(
        "config/tools.yaml tool service_managers: statement staff_skils is not in config/framework.yaml"
    )


def test_a_statement_listed_twice_stops_with_one_line() -> None:
    framework = _config("framework.yaml")
    framework["statements"].append(dict(framework["statements"][0]))
    with pytest.raises(
        ConfigError, match=r"^config/framework.yaml statements: clear_vision listed more than once"
    ):
        _settings_from(framework, _config("tools.yaml"))


def test_a_wave_with_no_statements_in_the_framework_is_a_config_error() -> None:
    framework = _config("framework.yaml")
    for statement in framework["statements"]:
        statement.setdefault("waves", ["2018"])
    restricted = _settings_from(framework, _config("tools.yaml"))
    settings.check_wave_asked(restricted, "2018")
    with pytest.raises(ConfigError) as stopped:
        settings.check_wave_asked(restricted, "2024")
    message = str(stopped.value)
    assert message.startswith("config/framework.yaml: no statement is asked in wave 2024")
    assert "waves named: 2018, 2021" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "path",
    sorted(
        p.relative_to(ROOT).as_posix()
        for folder in ("config", "contracts", "report_templates")
        for p in (ROOT / folder).rglob("*.yaml")
    ),
)
def test_our_yaml_files_parse_the_same_with_the_fast_loader_as_with_safe_load(path: str) -> None:
    """libyaml's loader is a speed-up only: every file we ship must give exactly what yaml.safe_load gives."""
    assert settings.read_yaml_file(ROOT / path) == yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))


def test_the_fast_yaml_loader_is_the_built_libyaml_one() -> None:
    assert yaml.__with_libyaml__, "PyYAML's wheel has libyaml: without it every config read is 10x slower"
    assert settings._YAML_LOADER is yaml.CSafeLoader

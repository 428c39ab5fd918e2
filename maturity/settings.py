"""The one place configuration is read: framework, councils, tools, method and project paths."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from maturity.config_models import (
    CommentRules,
    Comparability,
    ComparisonRules,
    ConfigModel,
    DemoSettings,
    DisclosureRules,
    FrameworkStatements,
    InputRules,
    Limits,
    NameList,
    OpenDataSettings,
    Operations,
    Orchestration,
    OutputRules,
    PublicationRules,
    PublicationSettings,
    PublicSurveyRules,
    ResponseRules,
    SurveyWeighting,
)

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_FILES = "_resources"


def find_project_root(package_dir: Path) -> Path:
    """Where config/, expectations/ and report_templates/ are: beside the code in a checkout, else bundled.

    The wheel carries them inside the package (pyproject.toml, force-include), so an installed `maturity`
    runs from any folder; a checkout (marked by its pyproject.toml) keeps them where people edit them.
    """
    checkout = package_dir.parent
    return checkout if (checkout / "pyproject.toml").is_file() else package_dir / BUNDLED_FILES


CODE_ROOT = PACKAGE_DIR.parent  # the checkout, or site-packages when installed from the wheel
PROJECT_ROOT = find_project_root(PACKAGE_DIR)
CONFIG_DIR = PROJECT_ROOT / "config"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
TEMPLATES_DIR = PROJECT_ROOT / "report_templates"
PREFECT_FILE = PROJECT_ROOT / "prefect.yaml"

REGISTRY_URL_ENV = "MATURITY_REGISTRY_URL"
REGISTRY_FILE = "registry.sqlite"

SOURCE_LANGUAGE = "en"  # reports are written in English and translated (report_templates/locales/)
WALES_GSS_CODE = "W92000004"
TOTAL_GROUP = "total"
ALL_GROUPS = "all"

# Set before Prefect or Great Expectations is imported, so neither tries to reach the internet.
OFFLINE_ENVIRONMENT = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


@dataclass(frozen=True)
class Council:
    gss_code: str
    name_en: str
    name_cy: str
    official_name_en: str
    official_name_cy: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Theme:
    id: str
    name_en: str


@dataclass(frozen=True)
class Characteristic:
    id: str
    theme: str
    name_en: str
    levels: dict[int, str]


@dataclass(frozen=True)
class Statement:
    id: str
    theme: str
    text_en: str
    short_en: str  # a few words that name the statement in a chart
    higher_is_better: bool = True  # False: agreeing is a bad sign (a barrier)
    waves: tuple[str, ...] | None = None  # the waves it was asked in; None: every wave

    def asked_in(self, wave: str) -> bool:
        """Whether the statement was asked in a wave (config/framework.yaml `waves`)."""
        return self.waves is None or wave in self.waves


@dataclass(frozen=True)
class Tool:
    id: str
    recipient_group: str
    title_en: str
    statements: tuple[str, ...]


@dataclass(frozen=True)
class MaturityMethod:
    level_2_from: float
    level_3_from: float
    low_base_below: int
    posterior_draws: int
    posterior_seed: int
    lower_tail_prior: tuple[float, float, float]
    upper_tail_prior: tuple[float, float, float]
    confidence_level: float
    level_probability_shown: float
    consensus_disagree_below: float
    perception_gap_groups: tuple[str, str]


@dataclass(frozen=True)
class StatementMethod:
    agree_answers: tuple[str, ...]
    confidence_level: float


@dataclass(frozen=True)
class Settings:
    councils: tuple[Council, ...]
    themes: tuple[Theme, ...]
    characteristics: tuple[Characteristic, ...]
    statements: tuple[Statement, ...]
    recipient_groups: dict[str, str]
    tools: tuple[Tool, ...]
    maturity: MaturityMethod
    statement_method: StatementMethod
    weighting: SurveyWeighting  # the same as public_survey.weighting, kept where scoring looks
    comparisons: ComparisonRules
    disclosure: DisclosureRules
    publication: PublicationRules
    public_survey: PublicSurveyRules
    responses: ResponseRules
    inputs: InputRules
    outputs: OutputRules
    council_by_code: dict[str, Council] = field(init=False, repr=False)
    tool_by_id: dict[str, Tool] = field(init=False, repr=False)
    characteristic_by_id: dict[str, Characteristic] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "council_by_code", {c.gss_code: c for c in self.councils})
        object.__setattr__(self, "tool_by_id", {t.id: t for t in self.tools})
        object.__setattr__(self, "characteristic_by_id", {c.id: c for c in self.characteristics})

    def level_column(self, characteristic_id: str) -> str:
        """Name of the wide-file column holding a characteristic's level answer."""
        return f"lvl_{characteristic_id}"

    def statement_column(self, statement_id: str) -> str:
        """Name of the wide-file column holding a statement's agree/disagree answer."""
        return f"st_{statement_id}"

    def statements_in(self, wave: str) -> tuple[Statement, ...]:
        """The statements asked in a wave, in framework order: a later wave may drop, add or reword some."""
        return tuple(s for s in self.statements if s.asked_in(wave))

    def tool_statements(self, tool_id: str, wave: str) -> tuple[str, ...]:
        """The statement ids a tool asks in a wave: those it lists (tools.yaml) asked in that wave."""
        asked = {s.id for s in self.statements_in(wave)}
        return tuple(s for s in self.tool_by_id[tool_id].statements if s in asked)

    def tool_answer_columns(self, tool_id: str, wave: str) -> list[str]:
        """Level and statement columns a tool's response file of a wave must have, in contract order."""
        return [self.level_column(c.id) for c in self.characteristics] + [
            self.statement_column(s) for s in self.tool_statements(tool_id, wave)
        ]


# libyaml's safe loader (built into PyYAML's wheels) parses our own files about ten times faster than
# the pure-Python one (0.147 -> 0.014 s for all 47 of them) with the same result, which a unit test
# checks on every file; inputs from users keep yaml.safe_load and its messages.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml_file(path: Path) -> Any:
    """One of our YAML files (config, contracts, report prose), parsed safely, with libyaml if built."""
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_YAML_LOADER)


def _read_yaml(name: str) -> dict[str, Any]:
    return read_yaml_file(CONFIG_DIR / name)


def _read_councils() -> tuple[Council, ...]:
    with (CONFIG_DIR / "councils.csv").open(encoding="utf-8", newline="") as handle:
        return tuple(
            Council(
                gss_code=row["gss_code"],
                name_en=row["name_en"],
                name_cy=row["name_cy"],
                official_name_en=row["official_name_en"],
                official_name_cy=row["official_name_cy"],
                aliases=tuple(a for a in row["aliases"].split("|") if a),
            )
            for row in csv.DictReader(handle)
        )


class ConfigError(ValueError):
    """A configuration file in config/ holds a value the pipeline cannot use safely."""


class UnsafeValueError(ValueError):
    """A value that becomes part of a path does not match its pattern in config/limits.yaml."""


Model = TypeVar("Model", bound=ConfigModel)


def _load_file(file: str, model: type[Model]) -> Model:
    """A whole config file, read and checked against its model."""
    return _typed(file, None, model, _read_yaml(file))


def _typed(file: str, section: str | None, model: type[Model], values: dict[str, Any]) -> Model:
    """A config file (or one section of it) checked against its model; a wrong key or value is one line."""
    where = f"config/{file}" + (f" {section}" if section else "")
    try:
        return model.model_validate(values[section] if section else values)
    except KeyError:
        raise ConfigError(f"{where}: missing. Add it (see the comments in the file) and run again.") from None
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{where}: {field}: {first['msg']}. Fix the file and run again.") from None


@cache
def load_limits() -> Limits:
    """Patterns of values that become paths, and size limits of inputs (config/limits.yaml)."""
    return _load_file("limits.yaml", Limits)


@cache
def _path_pattern(kind: str) -> re.Pattern[str]:
    return re.compile(load_limits().path_values[kind])


def describe_value(value: object, limit: int = 40) -> str:
    """A hostile value shown safely in a one-line message: escaped, and cut short if long."""
    text = repr(value) if not isinstance(value, str) else repr(value[:limit])
    return text + (f" … ({len(value)} characters)" if isinstance(value, str) and len(value) > limit else "")


def check_path_value(kind: str, value: object, where: str) -> str:
    """The value as text if it may become part of a path (its pattern in config/limits.yaml), else an error.

    `where` names the file and field (or the option) the value came from, for the message.
    """
    pattern = _path_pattern(kind)
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) else None
    if text is None or isinstance(value, bool) or not pattern.fullmatch(text) or not text.isascii():
        raise UnsafeValueError(
            f"{where}: {describe_value(value)} is not a valid {kind.replace('_', ' ')}: it becomes part of "
            f"a folder name, so it must match {pattern.pattern} (config/limits.yaml). Fix it and run again."
        )
    return text


def _check_config_values(settings: Settings) -> Settings:
    """Ids from config/ that become paths (council codes, tool ids, waves) must match config/limits.yaml,
    and every statement a tool asks must be in the framework."""
    try:
        for council in settings.councils:
            check_path_value("gss_code", council.gss_code, "config/councils.csv gss_code")
        for tool in settings.tools:
            check_path_value("tool_id", tool.id, "config/tools.yaml tool id")
        for statement in settings.statements:
            for wave in statement.waves or ():
                check_path_value("wave", wave, f"config/framework.yaml statement {statement.id} waves")
    except UnsafeValueError as error:
        raise ConfigError(str(error)) from None
    check_statement_ids(settings)
    return settings


def check_statement_ids(settings: Settings) -> None:
    """Statement ids are unique, and each one a tool lists is in the framework (else its answers are lost)."""
    ids = [s.id for s in settings.statements]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ConfigError(
            f"config/framework.yaml statements: {', '.join(twice)} listed more than once. Give each "
            "statement one entry (with `waves` for the waves it was asked in) and run again."
        )
    for tool in settings.tools:
        unknown = [s for s in tool.statements if s not in ids]
        if unknown:
            raise ConfigError(
                f"config/tools.yaml tool {tool.id}: statement {', '.join(unknown)} is not in "
                "config/framework.yaml statements. Fix the id or add the statement there, and run again."
            )


def check_wave_asked(settings: Settings, wave: str) -> None:
    """A study wave must have statements in the framework, or config/framework.yaml does not cover it."""
    if not settings.statements_in(wave):
        known = sorted({w for s in settings.statements for w in s.waves or ()})
        raise ConfigError(
            f"config/framework.yaml: no statement is asked in wave {wave} (every statement's `waves` "
            f"leaves it out; waves named: {', '.join(known)}). Add {wave} to the `waves` of the statements "
            "asked in it, or check the study's wave, and run again."
        )


@cache
def load_settings() -> Settings:
    """Read every configuration file once per process."""
    framework = _read_yaml("framework.yaml")
    tools = _read_yaml("tools.yaml")
    method = _read_yaml("method.yaml")
    return _check_config_values(_build_settings(framework, tools, method))


def _build_settings(framework: dict[str, Any], tools: dict[str, Any], method: dict[str, Any]) -> Settings:
    public_survey = _typed("method.yaml", "public_survey", PublicSurveyRules, method)
    return Settings(
        councils=_read_councils(),
        themes=tuple(Theme(**t) for t in framework["themes"]),
        characteristics=tuple(
            Characteristic(
                id=c["id"],
                theme=c["theme"],
                name_en=c["name_en"],
                levels={int(k): v for k, v in c["levels"].items()},
            )
            for c in framework["characteristics"]
        ),
        statements=tuple(
            Statement(**{**s.model_dump(), "waves": s.waves})
            for s in _typed(
                "framework.yaml", None, FrameworkStatements, {"statements": framework.get("statements")}
            ).statements
        ),
        recipient_groups={g["id"]: g["name_en"] for g in tools["recipient_groups"]},
        tools=tuple(
            Tool(
                id=t["id"],
                recipient_group=t["recipient_group"],
                title_en=t["title_en"],
                statements=tuple(t["statements"]),
            )
            for t in tools["tools"]
        ),
        maturity=MaturityMethod(
            **{
                **method["maturity"],
                **{
                    key: tuple(method["maturity"][key])
                    for key in ("lower_tail_prior", "upper_tail_prior", "perception_gap_groups")
                },
            }
        ),
        statement_method=StatementMethod(
            agree_answers=tuple(method["statements"]["agree_answers"]),
            confidence_level=method["statements"]["confidence_level"],
        ),
        weighting=public_survey.weighting,
        comparisons=_typed("method.yaml", "comparisons", ComparisonRules, method),
        disclosure=_typed("method.yaml", "disclosure", DisclosureRules, method),
        publication=_typed("method.yaml", "publication", PublicationRules, method),
        public_survey=public_survey,
        responses=_typed("method.yaml", "responses", ResponseRules, method),
        inputs=_typed("method.yaml", "inputs", InputRules, method),
        outputs=_typed("method.yaml", "outputs", OutputRules, method),
    )


@cache
def load_comparability() -> Comparability:
    """Which figures of a later wave can be set against an earlier one's (config/comparability.yaml).

    Read as declared; maturity/comparability.py checks it against the per-wave framework and lines it up.
    """
    return _load_file("comparability.yaml", Comparability)


@cache
def load_comment_rules() -> CommentRules:
    """Redaction rules, name gazetteer and barrier themes for free-text comments."""
    values = {**_read_yaml("comments.yaml"), "names": _read_yaml("names.yaml")}
    return check_report_themes(_typed("comments.yaml", None, CommentRules, values), load_settings().themes)


def check_report_themes(rules: CommentRules, themes: tuple[Theme, ...]) -> CommentRules:
    """Quotes map to known report sections, and every section can receive quotes (or config is wrong)."""
    known = [theme.id for theme in themes]
    unknown = sorted({t for t in rules.report_themes.values() if t is not None and t not in known})
    unreached = [t for t in known if t not in rules.report_themes.values()]
    if unknown or unreached:
        raise ConfigError(
            "config/comments.yaml report_themes: "
            + (f"{', '.join(unknown)} not a theme of config/framework.yaml; " if unknown else "")
            + (f"no barrier theme maps to {', '.join(unreached)}; " if unreached else "")
            + "fix the mapping and run again."
        )
    return rules


@cache
def load_orchestration_config() -> Orchestration:
    """Task runners, retries of transient I/O and artifact keys (config/orchestration.yaml)."""
    return _load_file("orchestration.yaml", Orchestration)


@cache
def load_open_data_config() -> OpenDataSettings:
    """Metadata, licence, release dates and table schemas of the open-data release."""
    return _load_file("open_data.yaml", OpenDataSettings)


@cache
def load_publication_config() -> PublicationSettings:
    """Publisher, contact, publication dates and published addresses of the reports."""
    return _load_file("publication.yaml", PublicationSettings)


@cache
def load_operations_config() -> Operations:
    """CLI exit rules and the Prefect server `maturity serve` runs (config/operations.yaml)."""
    return _load_file("operations.yaml", Operations)


@cache
def load_report_prose() -> dict[str, Any]:
    """The reports' prose in the source language (report_templates/content.en.yaml), translated elsewhere."""
    return read_yaml_file(TEMPLATES_DIR / f"content.{SOURCE_LANGUAGE}.yaml")


@cache
def load_demo_config() -> DemoSettings:
    """The demo study's parameters (config/demo.yaml) and comment snippets (config/demo_comments.yaml)."""
    values = {**_read_yaml("demo.yaml"), "comments": _read_yaml("demo_comments.yaml")}
    return _typed("demo.yaml", None, DemoSettings, values)


def load_demo_commentary() -> dict[str, bytes]:
    """The demo study's auditors' commentary (config/demo_commentary/): `<gss_code>/<file>.md` -> bytes."""
    folder = CONFIG_DIR / "demo_commentary"
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.glob("*/*.md"))}


@cache
def load_ordinary_words() -> NameList:
    """English and Welsh words that are never names, beyond the dictionary (config/ordinary_words.yaml)."""
    return _load_file("ordinary_words.yaml", NameList)


def configure_offline_environment() -> None:
    """Switch off analytics in Prefect and Great Expectations unless the user chose otherwise."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def registry_url(out: Path) -> str:
    """Where the run registry lives: MATURITY_REGISTRY_URL if set, else OUT/registry.sqlite."""
    return os.environ.get(REGISTRY_URL_ENV) or f"sqlite:///{out.resolve() / REGISTRY_FILE}"


@cache
def code_version() -> str:
    """Package version plus the git commit when run from a checkout, recorded with every run."""
    from importlib.metadata import version

    package = version("maturity")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return package
    return f"{package}+{commit}"


# What, besides an input file, decides the rows loaded from it: the code that reads, checks and loads it
# (with the flows that order those steps), and the rules it applies.
METHOD_CODE_FOLDERS = ("flows", "maturity", "tasks", "warehouse")
METHOD_DATA_FOLDERS = ("config", "expectations", "contracts")
# Code in those folders that never touches a loaded row (reports, release building, run summaries): editing
# it must not discard every rerun's reuse of stored rows. The CLI and operations (operations/) are left out
# by folder.
NOT_METHOD_FILES = frozenset(
    {
        "tasks/artifacts.py",
        "tasks/distribute.py",
        "tasks/report.py",
        "tasks/change_report.py",
        "tasks/report_words.py",
        "tasks/pdf.py",
        "config/publication.yaml",  # who publishes the reports and where: no loaded row depends on it
        "flows/summary.py",
    }
)


@cache
def method_fingerprint() -> str:
    """sha256 of the code, config and expectations, so rows loaded under other rules are never reused."""
    return fingerprint_method(CODE_ROOT, PROJECT_ROOT)


def fingerprint_method(code_root: Path, data_root: Path) -> str:
    """sha256 over every method file (path and content), code under code_root and rules under data_root."""
    digest = hashlib.sha256()
    folders = [(code_root, f) for f in METHOD_CODE_FOLDERS] + [(data_root, f) for f in METHOD_DATA_FOLDERS]
    for root, folder in folders:
        for path in sorted((root / folder).rglob("*")):
            relative = path.relative_to(root).as_posix()
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and BUNDLED_FILES not in path.parts  # the wheel's copy of the rules, hashed as data
                and relative not in NOT_METHOD_FILES
            ):
                digest.update(relative.encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()

"""The study folder's study.yaml: read safely, checked, and its input files found."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from maturity.comparability import check_study_wave
from maturity.settings import UnsafeValueError, check_path_value, describe_value
from maturity.textcheck import LIMITS_FILE, decode_checked_text, flow_depth, input_limits
from tasks.commentary import check_commentary
from tasks.contracts import DatasetError, Study
from tasks.sources import check_study_files, link_error

STUDY_KEYS = ("wave", "title", "fieldwork_start", "fieldwork_end")


def yaml_problem(error: yaml.YAMLError) -> str:
    """What is wrong with a YAML document and where, without quoting the document (PyYAML does)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or type(error).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())[:80]


def read_study_yaml(path: Path) -> dict[str, Any]:
    """study.yaml as a mapping, checked before it is parsed: size, UTF-8, control characters, aliases."""
    limits = input_limits()
    size = path.stat().st_size
    if size > (most := limits.max_study_yaml_bytes):
        raise DatasetError(
            f"{path}: is {size} bytes, more than inputs.max_study_yaml_bytes ({most})"
            f" in {LIMITS_FILE}; study.yaml holds only {', '.join(STUDY_KEYS)}. Fix it and run again."
        )
    data = path.read_bytes()
    try:
        text = decode_checked_text(data, "study.yaml")
    except ValueError as error:
        raise DatasetError(f"{path}: {error}") from None
    if flow_depth(text) > limits.max_yaml_depth:
        raise DatasetError(
            f"{path}: is nested too deeply to read (more than inputs.max_yaml_depth, "
            f"{limits.max_yaml_depth}, in {LIMITS_FILE}). Fix the file and run again."
        )
    try:
        aliases = sum(
            isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)
        )
        if aliases > limits.max_yaml_aliases:
            raise DatasetError(
                f"{path}: uses {aliases} YAML aliases (*name), more than inputs.max_yaml_aliases "
                f"({limits.max_yaml_aliases}) in {LIMITS_FILE}. Write each value out in full and run "
                "again."
            )
        spec = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem = yaml_problem(error)
        raise DatasetError(f"{path}: not valid YAML ({problem}). Fix the file and run again.") from None
    except RecursionError:
        raise DatasetError(
            f"{path}: is nested too deeply to read (lists or mappings within each other). Fix the file "
            "and run again."
        ) from None
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise DatasetError(
            f"{path}: must be a mapping of keys to values (wave: 2018, title: ..., one per line), not a "
            f"{type(spec).__name__}. Fix it (`maturity demo --out DIR` writes an example) and run again."
        )
    return spec


def read_welsh_title(spec: dict[str, Any], path: Path) -> str | None:
    """study.yaml's optional title_cy: the title Welsh reports show (they use `title` when it is absent)."""
    value = spec.get("title_cy")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(
            f"{path}: title_cy must be the study's title in Welsh, as text ({describe_value(value)} given). "
            "Fix it, or leave it out to show `title` in Welsh reports, and run again."
        )
    return value.strip()


def read_demo_flag(spec: dict[str, Any], path: Path) -> bool:
    """study.yaml's `demo`: only YAML's true or false (a demo study's ids are pseudonymised with a public
    key, so the text 'false', or any other value, must never make a real study a demo)."""
    demo = spec.get("demo", False)
    if not isinstance(demo, bool):
        raise DatasetError(
            f"{path}: demo must be true or false, not {describe_value(demo)}. Write `demo: false` (or leave "
            "it out) for a real study, and run again."
        )
    return demo


def read_study(root: Path, wave: str | None = None, source: str | None = None) -> Study:
    """Read study.yaml, checking the keys the pipeline needs and any --wave the user gave."""
    path = root / "study.yaml"
    if path.is_symlink():
        raise link_error(path)
    if not path.is_file():
        raise DatasetError(
            f"{path}: not found. A study folder needs study.yaml with {', '.join(STUDY_KEYS)} "
            "(see docs/inputs.md); `maturity demo --out DIR` writes an example."
        )
    spec = read_study_yaml(path)
    missing = [k for k in STUDY_KEYS if k not in spec]
    if missing:
        raise DatasetError(f"{path}: missing {', '.join(missing)}. Add them and run again.")
    try:
        study_wave = check_path_value("wave", spec["wave"], f"{path} wave")
    except UnsafeValueError as error:
        raise DatasetError(str(error)) from None
    check_study_wave(study_wave)  # config/framework.yaml asks statements in it; its comparison is sound
    if wave is not None and wave != study_wave:
        raise DatasetError(
            f"{path} is for wave {study_wave} but --wave {wave} was given. "
            "Leave out --wave or point --inputs at that wave's study folder."
        )
    try:
        start = date.fromisoformat(str(spec["fieldwork_start"]))
        end = date.fromisoformat(str(spec["fieldwork_end"]))
    except ValueError:
        raise DatasetError(
            f"{path}: fieldwork dates must be YYYY-MM-DD (fieldwork_start "
            f"{describe_value(spec['fieldwork_start'])}, fieldwork_end "
            f"{describe_value(spec['fieldwork_end'])}). Fix them and run again."
        ) from None
    if end < start:
        raise DatasetError(f"{path}: fieldwork_end {end} is before fieldwork_start {start}.")
    study = Study(
        root=root,
        wave=study_wave,
        title=str(spec["title"]),
        fieldwork_start=start,
        fieldwork_end=end,
        demo=read_demo_flag(spec, path),
        title_cy=read_welsh_title(spec, path),
        source=source or None,
    )
    check_study_files(study)
    check_commentary(root)  # a bad commentary file stops the run before anything is scored
    return study

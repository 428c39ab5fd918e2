"""The study folder's study.yaml: read safely, checked, and its input files found."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from maturity.comments import read_approved_quotes
from maturity.comparability import check_study_wave
from maturity.settings import UnsafeValueError, check_path_value, describe_value
from maturity.textcheck import input_limits, load_checked_yaml
from tasks.commentary import check_commentary
from tasks.contracts import DatasetError, Study
from tasks.sources import check_study_files, link_error

STUDY_KEYS = ("wave", "title", "fieldwork_start", "fieldwork_end")


def read_study_yaml(path: Path) -> dict[str, Any]:
    """study.yaml as a mapping, checked before it is parsed: size, UTF-8, control characters, aliases."""
    most = input_limits().max_study_yaml_bytes
    try:
        spec = load_checked_yaml(path, "study.yaml", most, "max_study_yaml_bytes")
    except ValueError as error:
        raise DatasetError(str(error)) from None
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise DatasetError(
            f"{path}: must be a mapping of keys to values (wave: 2018, title: ..., one per line), not a "
            f"{type(spec).__name__}. Fix it (`maturity demo --out DIR` writes an example) and run again."
        )
    return spec


def read_title(spec: dict[str, Any], path: Path) -> str:
    """study.yaml's title: text, not empty (a missing value had put "None" on every report)."""
    title = spec["title"]
    if not isinstance(title, str | int | float) or isinstance(title, bool) or not str(title).strip():
        raise DatasetError(
            f"{path}: title must be the study's name as text, not {describe_value(title)}. Write e.g. "
            "`title: Data maturity in Welsh councils 2018` and run again."
        )
    return str(title)


def check_approved_quotes(root: Path) -> None:
    """quotes_approved.yaml, if there, must read as a list of quote hashes (one line if it does not)."""
    try:
        read_approved_quotes(root)
    except ValueError as error:
        raise DatasetError(str(error)) from None


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
        title=read_title(spec, path),
        fieldwork_start=start,
        fieldwork_end=end,
        demo=read_demo_flag(spec, path),
        title_cy=read_welsh_title(spec, path),
        source=source or None,
    )
    check_study_files(study)
    check_commentary(root)  # a bad commentary file stops the run before anything is scored
    check_approved_quotes(root)  # and so does a bad quotes_approved.yaml (it was found only at the reports)
    return study

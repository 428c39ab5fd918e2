"""A demo study taken through extract, validate, load and score with plain functions (no server)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from maturity.settings import load_settings
from tasks.contracts import Study, read_study
from tasks.extract import extract_file, extract_public_survey, extract_responses
from tasks.load import load_warehouse
from tasks.score import Scores, score_councils, score_national
from tasks.validate import validate_table

# Property-based tests: the same examples on every run (CI must not flake) and no per-example
# deadline (a 2-core machine shared with other test runs is slow at times).
hypothesis_settings.register_profile(
    "maturity", derandomize=True, database=None, deadline=None, max_examples=30
)
hypothesis_settings.load_profile("maturity")


@dataclass
class ScoredStudy:
    study: Study
    warehouse: Path
    scores: Scores


@pytest.fixture(scope="session")
def scored_demo(demo_study: Path, tmp_path_factory: pytest.TempPathFactory) -> ScoredStudy:
    study = read_study(demo_study)
    extracted = [
        extract_file(study, "invitations", "invitations.csv"),
        *[extract_responses(study, tool.id) for tool in load_settings().tools],
        extract_public_survey(study),
        extract_file(study, "population", "population.csv"),
    ]
    validated = [validate_table(table, study) for table in extracted]
    warehouse = tmp_path_factory.mktemp("warehouse")
    load_warehouse(validated, warehouse, study.wave)
    score_councils(warehouse, study.wave)
    return ScoredStudy(study, warehouse, score_national(warehouse, study.wave))

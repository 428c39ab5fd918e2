"""The demo study through the pipeline's check, load and score stages as plain functions (no server)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from flows.pipeline import Scope, Target, check_inputs, load_and_score, plain_steps
from tasks.contracts import Study
from tasks.score import Scores
from tasks.study import read_study

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
    """The demo study checked, loaded and scored by the pipeline's own first stages, as plain functions."""
    study = read_study(demo_study)
    target = Target(tmp_path_factory.mktemp("version"), tmp_path_factory.mktemp("quality"))
    steps, scope = plain_steps(), Scope.national()
    scores = load_and_score(steps, check_inputs(steps, study, scope), study, target, scope)
    return ScoredStudy(study, target.warehouse, scores)

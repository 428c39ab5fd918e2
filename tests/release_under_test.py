"""The one bridge from tests/unit/test_recompute_release.py to the pipeline: build the release under test.

The recomputation test must not use pipeline code to compute anything; it still needs the published
files it checks. This helper only writes them (tasks.publish.build_release, as a national run does) and
returns the folder holding OUT/open-data/<wave>/*.csv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasks.publish import build_release


def build_open_data_release(scores: Any, version: Path) -> Path:
    """The open-data folder (open-data/<wave>/) of a first release of the scored study, built in version."""
    return build_release(scores, version).folder

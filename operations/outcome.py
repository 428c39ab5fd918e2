"""What the CLI prints after a run or rerun, as plain values: counts per input file and output paths.

The same shape whether the run happened in the CLI's own process or in `maturity serve`'s warm worker,
which sends it back as JSON: so it holds no pandas (the CLI need not import it to read the result) and
nothing beyond what the CLI prints (no free text, no personal data, no database address).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FileCount:
    """How one input file's rows were accounted for."""

    source_file: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int


@dataclass(frozen=True)
class RunOutcome:
    """A committed run: its id and wave, each input file's counts, and where its outputs are under OUT."""

    run_id: str
    wave: str
    files: tuple[FileCount, ...]
    quality_dir: Path
    reports: tuple[Path, ...]
    open_data: tuple[Path, ...]

    def total(self, column: str) -> int:
        """The sum of one count (rows_read, rows_loaded, rows_quarantined) over the input files."""
        return sum(int(getattr(file, column)) for file in self.files)


def file_counts(rows: Iterable[Any]) -> tuple[FileCount, ...]:
    """Counts from rows with source_file, rows_read, rows_loaded and rows_quarantined (e.g. itertuples())."""
    return tuple(
        FileCount(str(r.source_file), int(r.rows_read), int(r.rows_loaded), int(r.rows_quarantined))
        for r in rows
    )


def outcome_of(summary: Any) -> RunOutcome:
    """The plain outcome of a flow's RunSummary (flows/summary.py)."""
    return RunOutcome(
        summary.run_id,
        summary.wave,
        file_counts(summary.accounting.itertuples()),
        Path(summary.quality_dir),
        tuple(Path(p) for p in summary.reports),
        tuple(Path(p) for p in summary.open_data),
    )


def outcome_record(outcome: RunOutcome) -> dict[str, Any]:
    """The outcome as JSON-ready values (what the warm worker's task returns)."""
    return {
        "run_id": outcome.run_id,
        "wave": outcome.wave,
        "files": [[f.source_file, f.rows_read, f.rows_loaded, f.rows_quarantined] for f in outcome.files],
        "quality_dir": str(outcome.quality_dir),
        "reports": [str(p) for p in outcome.reports],
        "open_data": [str(p) for p in outcome.open_data],
    }


def outcome_from_record(record: dict[str, Any]) -> RunOutcome:
    """The outcome back from its JSON-ready values."""
    return RunOutcome(
        str(record["run_id"]),
        str(record["wave"]),
        tuple(FileCount(str(f[0]), int(f[1]), int(f[2]), int(f[3])) for f in record["files"]),
        Path(record["quality_dir"]),
        tuple(Path(p) for p in record["reports"]),
        tuple(Path(p) for p in record["open_data"]),
    )

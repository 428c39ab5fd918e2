"""The release ledger: what every release of a wave published and withheld, for the next audit.

Each release built into OUT leaves `<version>/release-ledger/<wave>/<release>/<table>.csv`, cloned into
every later version like the rest of OUT. It holds the audit's truth (answer counts per cell), so it is
restricted: it never goes into open-data/ or to a --to target. The next release of the wave is audited
together with every release listed here.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from maturity.disclosure import Snapshot
from warehouse.store import replace_file

LEDGER_DIR = "release-ledger"


def ledger_folder(version: Path, wave: str) -> Path:
    """Where a wave's ledger sits in a version."""
    return version / LEDGER_DIR / wave


def snapshot_frame(snapshot: Snapshot) -> pd.DataFrame:
    """A snapshot as a table: one row per cell, its counts, bound and status."""
    frame = pd.DataFrame({"cell": snapshot.cells})
    for category in range(snapshot.counts.shape[1]):
        frame[f"count_{category + 1}"] = snapshot.counts[:, category]
    frame["bound"] = snapshot.bound
    frame["withheld"] = snapshot.withheld.astype(int)
    frame["primary"] = snapshot.primary.astype(int)
    return frame


def frame_snapshot(frame: pd.DataFrame) -> Snapshot:
    """A snapshot read back from its table."""
    counts = frame[[c for c in frame.columns if c.startswith("count_")]].to_numpy(dtype="int64")
    return Snapshot(
        frame["cell"].astype(str).tolist(),
        counts,
        frame["bound"].to_numpy(dtype="int64"),
        frame["withheld"].to_numpy(dtype="int64") == 1,
        frame["primary"].to_numpy(dtype="int64") == 1,
    )


CHECKSUMS = "SHA256SUMS"


def write_ledger(
    version: Path, wave: str, release: str, snapshots: dict[str, Snapshot], checksums: bytes
) -> None:
    """Record a new release's snapshots and checksums under its version number."""
    folder = ledger_folder(version, wave) / release
    replace_file(folder / CHECKSUMS, checksums)
    for table, snapshot in snapshots.items():
        content = snapshot_frame(snapshot).to_csv(index=False, lineterminator="\n").encode("utf-8")
        replace_file(folder / f"{table}.csv", content)


def _release_number(folder: Path) -> int:
    return int(folder.name.rsplit(".", 1)[-1]) if folder.name.rsplit(".", 1)[-1].isdigit() else -1


def ledger_checksums(version: Path, wave: str) -> dict[str, bytes]:
    """The SHA256SUMS of every release of the wave the ledger holds, by release version."""
    root = ledger_folder(version, wave)
    if not root.is_dir():
        return {}
    return {p.parent.name: p.read_bytes() for p in sorted(root.glob(f"*/{CHECKSUMS}"))}


def read_ledger(version: Path, wave: str) -> dict[str, list[Snapshot]]:
    """Every earlier release's snapshots of the wave, by table, oldest first."""
    root = ledger_folder(version, wave)
    found: dict[str, list[Snapshot]] = {}
    if not root.is_dir():
        return found
    for release in sorted((p for p in root.iterdir() if p.is_dir()), key=_release_number):
        for path in sorted(release.glob("*.csv")):
            frame = pd.read_csv(io.BytesIO(path.read_bytes()), dtype={"cell": str})
            found.setdefault(path.stem, []).append(frame_snapshot(frame))
    return found

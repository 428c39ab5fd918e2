"""Copy a release to any fsspec target (a folder, s3://...) so readers never see a half-written one.

Layout at the target: `<to>/<wave>/<version>/` holds each release, immutable once written, and
`<to>/<wave>/latest.json` names the current one with every file's checksum. The files go up first, each
checked against SHA256SUMS; the pointer is written last, in one operation (a single PUT on S3, a rename
on a local folder). A reader who follows `latest.json` sees the old release or the new one, whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem
from prefect import task
from prefect.cache_policies import NONE

from maturity.extras import require_extra_for_url
from maturity.settings import UnsafeValueError, check_path_value
from tasks.contracts import DatasetError
from tasks.release import CHECKSUMS, to_json_bytes
from tasks.retries import retry_options, retry_unless_data_error

POINTER = "latest.json"


@dataclass(frozen=True)
class TargetCopy:
    """What a copy to a target did: where the release is there and which files were uploaded."""

    url: str
    version: str
    uploaded: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.uploaded)


def target_filesystem(to: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem of --to and the path on it; an s3:// target without the s3 extra is one line."""
    require_extra_for_url(to, "--to")
    return fsspec.core.url_to_fs(to)


def check_no_links_below(fs: fsspec.AbstractFileSystem, root: str, wave: str) -> None:
    """On a local folder, <to>/<wave> and nothing under it may be a link: a link there
    would take the release, and latest.json, wherever it points (--to itself may be a link)."""
    if not isinstance(fs, LocalFileSystem):
        return  # object stores have no links
    base = Path(root) / wave
    for folder in (Path(root), base):
        if folder.exists() and not folder.is_dir():
            raise DatasetError(f"{folder} is a file, not a folder: give --to a folder (or an s3:// URL).")
    below = (
        []
        if base.is_symlink() or not base.is_dir()
        else [Path(f) / n for f, ds, fs in os.walk(base) for n in ds + fs]
    )
    for folder in (Path(root), base):
        if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mode & stat.S_IWOTH:
            raise DatasetError(
                f"{folder} is writable by every user of this machine: another account could put a link "
                "where the release is about to be written. Publish into a folder of your own (or run "
                "`chmod o-w` on it) and publish again."
            )
    for path in [base, *below]:
        if path.is_symlink():
            raise DatasetError(
                f"{path} is a symbolic link: a release is written only into real folders under --to, "
                "never through a link. Remove the link (or choose another --to) and publish again."
            )


def read_checksums(folder: Path) -> dict[str, str]:
    """File name -> sha256 from a release's SHA256SUMS."""
    lines = (folder / CHECKSUMS).read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


def build_pointer(wave: str, version: str, checksums: dict[str, str]) -> dict[str, object]:
    """The latest.json document: which release is current and the checksum of each of its files."""
    return {"wave": wave, "version": version, "path": f"{version}/", "files": checksums}


def copy_release_to_target(folder: Path, version: str, to: str) -> TargetCopy:
    """Upload a release under <to>/<wave>/<version>/, then point <to>/<wave>/latest.json at it."""
    wave, version = _checked_names(folder.name, version)
    fs, root = target_filesystem(to)
    check_no_links_below(fs, root, wave)
    base = f"{root.rstrip('/')}/{wave}"
    url = f"{to.rstrip('/')}/{wave}/{version}/"
    checksums = read_checksums(folder)
    pointer = build_pointer(wave, version, checksums)
    pointer_path = f"{base}/{POINTER}"
    if fs.exists(pointer_path) and json.loads(fs.cat_file(pointer_path)) == pointer:
        return TargetCopy(url, version, [])
    target = f"{base}/{version}"
    existing = f"{target}/{CHECKSUMS}"
    if fs.exists(existing) and fs.cat_file(existing) != (folder / CHECKSUMS).read_bytes():
        raise DatasetError(
            f"{url} already holds a different release {version}; releases there are never overwritten. "
            "Publish to another --to, or remove that folder if it is known to be unused."
        )
    fs.makedirs(target, exist_ok=True)
    names = [*sorted(n for n in checksums), CHECKSUMS]
    for name in names:
        fs.pipe_file(f"{target}/{name}", (folder / name).read_bytes())
    for name, digest in checksums.items():
        if hashlib.sha256(fs.cat_file(f"{target}/{name}")).hexdigest() != digest:
            raise DatasetError(f"{url}{name} does not match its checksum after upload; nothing was switched.")
    write_pointer(fs, pointer_path, to_json_bytes(pointer))
    return TargetCopy(url, version, names)


def check_target_history(to: str, wave: str, known: dict[str, bytes]) -> None:
    """Stop if the target holds a release of the wave that OUT's release ledger does not know.

    The disclosure audit reads every earlier release of the wave with the new one; a release made from
    another OUT has no ledger entry here, so publishing beside it could not be proven safe.
    """
    fs, root = target_filesystem(to)
    check_no_links_below(fs, root, wave)
    base = f"{root.rstrip('/')}/{wave}"
    if not fs.isdir(base):
        return
    for entry in sorted(fs.ls(base, detail=False)):
        version = entry.rstrip("/").rsplit("/", 1)[-1]
        sums = f"{entry.rstrip('/')}/{CHECKSUMS}"
        if not fs.isdir(entry) or not fs.exists(sums):
            continue
        if known.get(version) != fs.cat_file(sums):
            raise DatasetError(
                f"{to.rstrip('/')}/{wave}/{version}/ is a release this OUT did not make, so the disclosure "
                "audit cannot include it. Publish from the OUT that made it, or to another --to."
            )


def _checked_names(wave: str, version: str) -> tuple[str, str]:
    """The wave and release version that name folders under --to, checked against config/limits.yaml."""
    try:
        return (
            check_path_value("wave", wave, "release folder wave"),
            check_path_value("release_version", version, f"release {wave} version"),
        )
    except UnsafeValueError as error:
        raise DatasetError(str(error)) from None


def write_pointer(fs: fsspec.AbstractFileSystem, path: str, content: bytes) -> None:
    """Write the pointer in one step: a rename over the old one locally, one PUT on object stores."""
    if "file" in fs.protocol or "local" in fs.protocol:
        temporary = f"{path}.tmp"
        fs.pipe_file(temporary, content)
        fs.mv(temporary, path)
    else:
        fs.pipe_file(path, content)


@task(
    name="check-target-history",
    cache_policy=NONE,
    retry_condition_fn=retry_unless_data_error,
    **retry_options(),
)
def check_target_history_task(to: str, wave: str, known: dict[str, bytes]) -> None:
    """Prefect wrapper: check the target holds no release unknown to OUT's ledger."""
    check_target_history(to, wave, known)


@task(name="copy-release", cache_policy=NONE, retry_condition_fn=retry_unless_data_error, **retry_options())
def copy_release_to_target_task(folder: Path, version: str, to: str) -> TargetCopy:
    """Prefect wrapper: copy the release to the --to target."""
    return copy_release_to_target(folder, version, to)

"""Versioned outputs: each run builds a whole new version and commits it with one atomic pointer swap.

OUT/
  .versions/<run_id>/{warehouse,reports,open-data}/   one complete state per run
  current -> .versions/<run_id>                          swapped atomically (rename of a symlink)
  warehouse -> current/warehouse                         fixed links, so readers' paths never change
  reports -> current/reports
  open-data -> current/open-data

A new version starts as a hard-link clone of the current one (files are never modified in place, only
replaced), so a council rerun costs only the partitions it rewrites. A crash before the swap leaves
`current` pointing at the previous version, byte for byte; the next run removes the half-built one.
The previous committed version is kept for comparison or a manual roll-back.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from maturity.settings import REGISTRY_FILE

VERSIONS_DIR = ".versions"
CURRENT_LINK = "current"
PREVIOUS_MARKER = ".previous"
QUALITY_DIR = "quality"  # each run's quarantine, row accounting and Data Docs (restricted)
DEMO_STUDY_DIR = "demo-study"  # the bundled demo study, written here when a run is given no inputs
LOCK_FILE = ".run.lock"
PUBLISHED_AREAS = ("warehouse", "reports", "open-data")
# A lock file holds "<pid> <run id>"; anything longer, or a pid with more digits, is a damaged file.
MAX_LOCK_BYTES = 4096
MAX_PID_DIGITS = 9


class OutputLayoutError(RuntimeError):
    """OUT cannot take this run: a real folder where a link belongs, or another run is writing."""


def inside(base: Path, *names: str) -> Path:
    """base / names, refused unless each name is one plain folder or file name and the path, with every
    link followed, stays inside base: no value that reaches a path can write elsewhere."""
    for name in names:
        if (
            not isinstance(name, str)
            or name in {"", ".", ".."}
            or any(c in name for c in "/\\")
            or not name.isprintable()
        ):
            raise OutputLayoutError(
                f"refusing to write {name!r:.60} under {base}: not a plain file or folder name. "
                "This is a bug or a tampered output folder; nothing was written there."
            )
    path = base.joinpath(*names)
    if not path.resolve().is_relative_to(base.resolve()):
        raise OutputLayoutError(
            f"refusing to write {path}: it leads outside {base} (through a link). Remove the link, or "
            "choose another --out, and run again."
        )
    return path


def remove_tree(path: Path, within: Path) -> None:
    """Delete a folder, refused unless it lies strictly inside `within` (a run passes its version folder,
    or OUT/.versions); a link is never followed (deleting one removes only the link)."""
    root = within.resolve()
    if path.is_symlink():
        if not path.absolute().parent.resolve().is_relative_to(root):
            raise OutputLayoutError(f"refusing to delete {path}: it is not inside {within}.")
        path.unlink()
        return
    resolved = path.resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise OutputLayoutError(f"refusing to delete {path}: it is not inside {within}.")
    shutil.rmtree(resolved, ignore_errors=True)


def current_version(out: Path) -> Path | None:
    """The committed version folder, or None before the first successful run."""
    link = out / CURRENT_LINK
    return link.resolve() if link.is_symlink() else None


def begin_version(out: Path, run_id: str) -> Path:
    """Lock OUT for this run and start its version as a clone of the current one."""
    _check_layout(out)
    _take_lock(out, run_id)
    _remove_versions_except(out, {current_version(out), _previous_version(out)})
    version = inside(out, VERSIONS_DIR, run_id)
    current = current_version(out)
    if current is not None:
        _clone_tree(current, version)
    for area in PUBLISHED_AREAS:
        (version / area).mkdir(parents=True, exist_ok=True)
    return version


def commit_version(out: Path, version: Path) -> None:
    """Make a finished version the current one in a single atomic rename, then release the lock."""
    _check_lock_held(out, version.name)
    old = current_version(out)
    staging_link = out / f".{CURRENT_LINK}-{version.name}"
    staging_link.unlink(missing_ok=True)
    staging_link.symlink_to(Path(VERSIONS_DIR) / version.name)
    os.replace(staging_link, out / CURRENT_LINK)
    if old is not None and old != version.resolve():
        _write_previous_marker(out, old.name)
    for area in PUBLISHED_AREAS:
        link = out / area
        if not link.is_symlink():
            link.symlink_to(Path(CURRENT_LINK) / area)
    _remove_versions_except(out, {version.resolve(), old})
    _release_lock(out, version.name)


def abandon_version(out: Path, run_id: str) -> None:
    """Remove the version of a run that failed, and release OUT if this run holds it.

    A version `current` already points at is kept: a run that failed after its commit's rename (writing
    the marker below, say) is committed, and removing it would leave OUT's links dangling.
    """
    if lock_holder(out)[1] == run_id:
        version = inside(out, VERSIONS_DIR, run_id)
        if version.resolve() != current_version(out):
            remove_tree(version, out / VERSIONS_DIR)
        _release_lock(out, run_id)


def _write_previous_marker(out: Path, name: str) -> None:
    """Record the version before the current one in a new file: whatever was at its name (a link, a hard
    link to a file elsewhere, a FIFO) is unlinked first, never written through or waited on."""
    marker = out / VERSIONS_DIR / PREVIOUS_MARKER
    if marker.is_dir() and not marker.is_symlink():
        remove_tree(marker, out / VERSIONS_DIR)
    marker.unlink(missing_ok=True)
    descriptor = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(name)


def written_files(out: Path, version: Path) -> list[Path]:
    """Files in a version that its run wrote itself, rather than shared unchanged from the current one."""
    current = current_version(out)
    written = []
    for folder, _, files in os.walk(version):
        for name in files:
            path = Path(folder) / name
            previous = current / path.relative_to(version) if current else None
            if previous is None or not previous.exists() or not os.path.samefile(path, previous):
                written.append(path)
    return sorted(written)


def _clone_tree(source: Path, target: Path) -> None:
    """Copy a folder tree as hard links: instant, and safe because files are only ever replaced."""
    for folder, folders, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in [*folders, *files]:
            if (Path(folder) / name).is_symlink():  # never made by a run: carried on, readers would follow it
                raise OutputLayoutError(
                    f"{Path(folder) / name} is a symbolic link inside the current version, which a run never "
                    "makes. Remove it (or choose another --out) and run again."
                )
        for name in files:
            os.link(Path(folder) / name, target / relative / name)


def _previous_version(out: Path) -> Path | None:
    marker = out / VERSIONS_DIR / PREVIOUS_MARKER
    if not marker.is_file():
        return None
    try:
        previous = inside(out / VERSIONS_DIR, marker.read_text(encoding="utf-8").strip())
    except OutputLayoutError:
        return None  # a tampered marker names no version: keep nothing extra
    return previous.resolve() if previous.is_dir() else None


def _remove_versions_except(out: Path, keep: set[Path | None]) -> None:
    versions = out / VERSIONS_DIR
    if versions.is_dir():
        for candidate in versions.iterdir():
            if candidate.is_symlink() or (candidate.is_dir() and candidate.resolve() not in keep):
                remove_tree(candidate, versions)


def lock_holder(out: Path) -> tuple[int, str]:
    """Process id and run id holding OUT, or (0, "") when nobody does (or the lock file is damaged)."""
    try:
        with _locked(out / LOCK_FILE, fcntl.LOCK_SH, create=False) as descriptor:
            return _parse_lock(_read_descriptor(descriptor))
    except FileNotFoundError:
        return 0, ""


def _parse_lock(content: bytes) -> tuple[int, str]:
    pid, _, run_id = content.decode("utf-8", errors="replace").partition(" ")
    if not pid.isascii() or not pid.isdigit() or len(pid) > MAX_PID_DIGITS:
        return 0, ""  # damaged: nobody can be holding it
    return int(pid), run_id.strip()


def _read_descriptor(descriptor: int) -> bytes:
    os.lseek(descriptor, 0, os.SEEK_SET)
    return os.read(descriptor, MAX_LOCK_BYTES)


@contextmanager
def _locked(lock: Path, operation: int, create: bool = True) -> Iterator[int]:
    """The lock file open and flock-ed: every read, claim and release of OUT happens under this, so two
    runs that both find a dead holder take turns, and the second sees the first's claim. A file that was
    replaced or removed while we waited is opened again (its old inode no longer names the lock)."""
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | (os.O_CREAT if create else 0)
    while True:
        try:
            descriptor = os.open(lock, flags, 0o644)
        except (FileNotFoundError, PermissionError):
            raise
        except OSError as error:  # ELOOP: a link in place of the lock file
            raise OutputLayoutError(
                f"{lock} is not a plain file ({error.strerror}); remove it if no run is active, and run "
                "again."
            ) from None
        try:
            _check_plain_lock_file(lock, descriptor)
            fcntl.flock(descriptor, operation)
            try:
                current = os.stat(lock, follow_symlinks=False)
            except FileNotFoundError:
                current = None
            if current is not None and os.path.samestat(current, os.fstat(descriptor)):
                yield descriptor
                return
        finally:
            os.close(descriptor)  # also releases the flock
        if not create and current is None:
            raise FileNotFoundError(lock)


def _check_plain_lock_file(lock: Path, descriptor: int) -> None:
    """The lock must be a regular file of OUT's own: not a FIFO or device, nor a hard link to a file
    elsewhere (claiming the lock truncates it)."""
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode) or status.st_nlink != 1:
        raise OutputLayoutError(
            f"{lock} is not a plain file of this output folder (a hard link, FIFO or device); remove it if "
            "no run is active, and run again."
        )


def _check_lock_held(out: Path, run_id: str) -> None:
    holder_run = lock_holder(out)[1]
    if holder_run != run_id:
        raise OutputLayoutError(f"run {run_id} no longer holds {out} (held by {holder_run or 'nobody'}).")


def _take_lock(out: Path, run_id: str) -> None:
    """Claim OUT for one run; a lock left by a process that no longer exists is taken over.

    The check of the holder and the claim happen under one flock, and the claim ("pid run_id") is written
    in one write, so no other run can see half a claim or delete a fresh one.
    """
    with _locked(out / LOCK_FILE, fcntl.LOCK_EX) as descriptor:
        holder_pid, holder_run = _parse_lock(_read_descriptor(descriptor))
        if _process_alive(holder_pid):
            raise OutputLayoutError(
                f"another run ({holder_run}, process {holder_pid}) is writing to {out}. "
                "Wait for it to finish, then run again."
            )
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()} {run_id}".encode(), 0)
        os.fsync(descriptor)


def _release_lock(out: Path, run_id: str) -> None:
    try:
        with _locked(out / LOCK_FILE, fcntl.LOCK_EX, create=False) as descriptor:
            if _parse_lock(_read_descriptor(descriptor))[1] == run_id:
                os.ftruncate(descriptor, 0)  # anyone who opened it meanwhile finds no holder
                (out / LOCK_FILE).unlink()
    except FileNotFoundError:
        return


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# OUT's own entries a run writes or deletes through: each must be a real file or folder, never a link
# (a link would take the run's writes, or its clean-up of old versions, wherever it points).
REGISTRY_FILES = tuple(REGISTRY_FILE + suffix for suffix in ("", "-journal", "-wal", "-shm"))  # SQLite's own
NEVER_LINKS = (VERSIONS_DIR, QUALITY_DIR, DEMO_STUDY_DIR, *REGISTRY_FILES)


def check_out_links(out: Path) -> None:
    """Refuse an OUT whose own entries are links a run did not make, or links leading anywhere but its own
    versions: every write, delete and read of a run stays inside OUT."""
    _check_not_world_writable(out)
    for name in NEVER_LINKS:
        _check_kind(out / name, is_folder=name not in REGISTRY_FILES)
        if (out / name).is_symlink():
            raise OutputLayoutError(
                f"{out / name} is a symbolic link, but a run only writes real files and folders there (a "
                "link could send its outputs, or its removal of old versions, elsewhere). Remove the link, "
                "or choose another --out, and run again."
            )
    _check_own_link(out / CURRENT_LINK, _is_version_target)
    named = out / CURRENT_LINK
    if named.is_symlink() and (out / os.readlink(named)).is_symlink():
        raise OutputLayoutError(
            f"{named} points at {os.readlink(named)!r:.80}, which is itself a link: a run never makes one. "
            "Remove both links (the next run makes current again), or choose another --out."
        )
    for area in PUBLISHED_AREAS:
        _check_own_link(out / area, lambda target, area=area: target == Path(CURRENT_LINK) / area)


def _check_not_world_writable(out: Path) -> None:
    """OUT and the folders a run writes in directly must not be writable by every account: one could swap
    a folder for a link between a run's check and its write (a sticky bit does not stop it making a new
    name). A group-writable OUT is accepted: whom to trust with it is the group's owner's choice."""
    for path in (out, out / VERSIONS_DIR, out / QUALITY_DIR):
        if path.is_dir() and not path.is_symlink() and path.stat().st_mode & stat.S_IWOTH:
            raise OutputLayoutError(
                f"{path} is writable by every user of this machine: another account could swap a folder "
                "for a link while a run writes. Run `chmod o-w` on it (or choose another --out), then again."
            )


def _check_kind(path: Path, is_folder: bool) -> None:
    """An entry OUT's layout keeps, if there, must be a folder or a regular file as the layout says: a
    FIFO where SQLite's journal goes would hang the run, a file where quality goes would break it."""
    if path.is_symlink() or not path.exists():
        return  # a link is refused below; an absent entry is made by the run
    if (
        (path.is_dir() and not is_folder)
        or (not path.is_dir() and is_folder)
        or not (path.is_dir() or path.is_file())
    ):
        kind = "a folder" if is_folder else "a regular file"
        raise OutputLayoutError(
            f"{path} is not {kind}, as this output layout keeps it. Move it out of the way (or choose "
            "another --out) and run again."
        )


def _is_version_target(target: Path) -> bool:
    """Whether a link's text names one version folder of this OUT, as commit_version writes it."""
    parts = target.parts
    return len(parts) == 2 and parts[0] == VERSIONS_DIR and parts[1] not in {".", ".."}


def _check_own_link(link: Path, expected: Callable[[Path], bool]) -> None:
    """A link of this layout, if there, must read exactly as a run writes it (never an outside path)."""
    if not link.is_symlink():
        return
    if not expected(Path(os.readlink(link))):
        raise OutputLayoutError(
            f"{link} is a link to {os.readlink(link)!r:.80}, not the one a run makes: this output folder "
            "was changed by hand. Remove the link (the next run makes it again), or choose another --out."
        )


def _check_layout(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    check_out_links(out)
    for area in PUBLISHED_AREAS:
        path = out / area
        if path.exists() and not path.is_symlink():
            raise OutputLayoutError(
                f"{path} is a real folder, but this output layout keeps it as a link to the current "
                "version. Move it out of the way (or choose another --out) and run again."
            )

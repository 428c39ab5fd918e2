"""What a failed run tells its user: one line, a label and an exit code, the same from CLI and deployment.

The CLI prints the line on stderr; a flow run started from a deployment (or anywhere) ends with the same
line as its state message, so the Prefect UI says what went wrong and what to do. The traceback stays in
the run's log.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

EXIT_DATA_ERROR = 1
EXIT_USAGE_ERROR = 2
EXIT_ENVIRONMENT_ERROR = 3
# An OSError with one of these means the machine could not write OUT: one line and exit code 3.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.EMFILE}
UNCHANGED = "the previous outputs are unchanged."


@dataclass(frozen=True)
class Failure:
    """How one failure is told: a label ("Stopped:", "Error:"), one line of text, and the CLI's exit code."""

    label: str
    text: str
    exit_code: int

    @property
    def line(self) -> str:
        return f"{self.label} {self.text}"


def write_problem(error: BaseException) -> str | None:
    """One line for an OSError writing OUT (disk full, no permission, read-only), else None."""
    if not isinstance(error, OSError) or error.errno not in WRITE_ERRNOS:
        return None
    where = error.filename or "OUT"
    return (
        f"could not write {where}: {error.strerror or error}. Free some space or fix the folder's "
        "permissions, then run again; the half-built version was removed."
    )


def registry_problem(error: BaseException, out: Path) -> str | None:
    """One line for a damaged or locked run registry (SQLAlchemy's DatabaseError), naming it, else None."""
    try:
        from sqlalchemy.exc import DatabaseError
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return None
    if not isinstance(error, DatabaseError):
        return None
    from maturity.settings import REGISTRY_FILE, REGISTRY_URL_ENV

    where = os.environ.get(REGISTRY_URL_ENV) and "the registry at MATURITY_REGISTRY_URL"
    where = where or str((out / REGISTRY_FILE).resolve())
    detail = " ".join(str(getattr(error, "orig", None) or error).split())[:120]
    if "locked" in detail.lower() or "busy" in detail.lower():
        return (
            f"the run registry {where} is locked by another process ({detail}). Wait for the other run "
            "or `maturity status` to finish, then run again."
        )
    backup = f"mv {where} {where}.damaged" if not os.environ.get(REGISTRY_URL_ENV) else "restore it"
    return (
        f"the run registry {where} cannot be read ({detail}): it is damaged. Move it aside ({backup}) "
        "and run again: a new registry is created and the outputs in OUT are kept (the run history is "
        "in the old file)."
    )


def one_line(message: str) -> str:
    """A message on one line (terminals and logs keep it whole), any other control character written as
    an escape ("\\x1b"), so a value from an input can neither break the line nor drive the terminal."""
    text = " ".join(str(message).split())
    return (
        text
        if text.isprintable()
        else "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    )


def describe_failure(error: BaseException, out: Path | None = None) -> Failure | None:
    """The one line for an error a user can act on (bad data, config, OUT, registry), else None: a bug."""
    from maturity.disclosure import DisclosureError
    from maturity.extras import MissingExtraError
    from maturity.settings import ConfigError
    from operations.prefect_api import PrefectServerError
    from tasks.contracts import DatasetError
    from tasks.validator import ValidatorLostError
    from warehouse.versions import OutputLayoutError

    if isinstance(error, MissingExtraError):  # --pdf, --task-runner dask ... without its optional extra
        return Failure("Error:", one_line(f"{error} Nothing was published; {UNCHANGED}"), EXIT_USAGE_ERROR)
    if isinstance(error, ConfigError):
        return Failure("Error:", one_line(f"{error} Nothing was run; {UNCHANGED}"), EXIT_USAGE_ERROR)
    if isinstance(error, PrefectServerError):
        return Failure("Error:", one_line(f"{error} Nothing was run; {UNCHANGED}"), EXIT_USAGE_ERROR)
    if isinstance(error, DatasetError | OutputLayoutError | DisclosureError):
        text = f"{error} Nothing was loaded or published; {UNCHANGED}"
        return Failure("Stopped:", one_line(text), EXIT_DATA_ERROR)
    if isinstance(error, ValidatorLostError):
        return Failure(
            "Stopped:",
            one_line(f"{error} Nothing was loaded or published; {UNCHANGED}"),
            EXIT_ENVIRONMENT_ERROR,
        )
    problem = write_problem(error) or registry_problem(error, out or Path("."))
    if problem is not None:
        return Failure("Stopped:", one_line(f"{problem} {UNCHANGED.capitalize()}"), EXIT_ENVIRONMENT_ERROR)
    return None


def failure_line(error: BaseException, out: Path | None = None) -> str:
    """The one line a failed flow run's state says: the user's line, or the error's type and first line."""
    failure = describe_failure(error, out)
    if failure is not None:
        return failure.line
    first = next(iter(str(error).splitlines()), "")
    return one_line(
        f"Failed: {type(error).__name__}: {first} (a bug in the pipeline: the traceback is in the run log)"
    )


def started_by_deployment() -> bool:
    """Whether this flow run came from a deployment (the Prefect UI, a schedule, `prefect deployment run`)."""
    from prefect.runtime import deployment

    return deployment.get_id() is not None


def advise(cli: str, deployment: str) -> str:
    """What to do, in the words of whatever started the run: CLI options or deployment parameters."""
    return deployment if started_by_deployment() else cli

"""Checks of the CLI's options made before Prefect starts, so a usage error costs no run and no traceback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from maturity.councils import UnknownCouncilError, resolve_council
from maturity.extras import MissingExtraError, require_extra, require_extra_for_url
from maturity.settings import REGISTRY_FILE, REGISTRY_URL_ENV, UnsafeValueError, check_path_value

STUDY_FILE = "study.yaml"
LOCAL_PROTOCOLS = {"file", "local"}


class UsageError(ValueError):
    """An option that cannot work; the message names it and says what to give instead."""


@contextmanager
def missing_extra_is_a_usage_error() -> Iterator[None]:
    """An option whose optional extra is not installed: its one line (maturity/extras.py), exit code 2."""
    try:
        yield
    except MissingExtraError as error:
        raise UsageError(str(error)) from None


def check_task_runner(task_runner: str) -> None:
    """--task-runner dask needs the dask extra."""
    if task_runner == "dask":
        with missing_extra_is_a_usage_error():
            require_extra("dask")


def check_pdf(pdf: bool) -> None:
    """--pdf needs the pdf extra (WeasyPrint)."""
    if pdf:
        with missing_extra_is_a_usage_error():
            require_extra("pdf")


REGISTRY_BACKENDS = ("sqlite", "postgresql")  # the registry's migrations are tested on these two


def check_registry_url() -> None:
    """MATURITY_REGISTRY_URL, if set, must be an SQLAlchemy URL, and may need an extra for its database."""
    url = os.environ.get(REGISTRY_URL_ENV)
    if not url:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in REGISTRY_BACKENDS:
        raise UsageError(
            f"{REGISTRY_URL_ENV} is not an SQLAlchemy URL of SQLite or PostgreSQL (not echoed: it may "
            "hold a password): use sqlite:////absolute/path.sqlite or "
            "postgresql+psycopg://user@host/database, or unset it to keep the registry in OUT."
        ) from None
    with missing_extra_is_a_usage_error():
        require_extra_for_url(url, REGISTRY_URL_ENV)


def check_path_text(option: str, path: Path | str) -> None:
    """A path option may not hold a control character (an escape code, a newline ...): it would reach the
    terminal, the run log and Prefect's database as it is."""
    if not str(path).isprintable():
        raise UsageError(
            f"{option} {str(path)!r:.80}: holds a control character (escape, newline, NUL ...). "
            "Rename the folder, or give another path or URL."
        )


def check_out(out: Path) -> None:
    """--out must be a folder (or not exist yet) that this user can write in."""
    check_path_text("--out", out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder. Give a folder for the outputs.")
    existing = next(folder for folder in [out, *out.absolute().parents] if folder.exists())
    if not existing.is_dir():
        raise UsageError(
            f"--out {out} lies inside {existing}, which is a file. Give a folder for the outputs."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(
            f"--out {out}: {existing} is not writable by this user. Choose a folder you can write in."
        )
    if out.is_dir():
        from warehouse.versions import OutputLayoutError, check_out_links

        try:
            check_out_links(out)
        except OutputLayoutError as error:
            raise UsageError(str(error)) from None


def check_source_url(source: str) -> None:
    """--source must be an SQLAlchemy URL of a known database type (never echoed: it may hold a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(source).get_dialect()
    except NoSuchModuleError:  # a subclass of ArgumentError: first
        raise UsageError(
            f"--source names a database type SQLAlchemy does not know ({source.split(':', 1)[0]}): use "
            "sqlite:/// or postgresql+psycopg://."
        ) from None
    except ArgumentError:
        raise UsageError(
            "--source is not an SQLAlchemy URL: give e.g. sqlite:///study.db or "
            "postgresql+psycopg://user@host:5432/database."
        ) from None
    with missing_extra_is_a_usage_error():
        require_extra_for_url(source, "--source")


def check_inputs(inputs: Path | None, source: str | None) -> None:
    """--inputs must be a study folder with study.yaml; --source needs it for study.yaml."""
    if source and inputs is None:
        raise UsageError("--source needs --inputs: the study folder whose study.yaml describes the wave.")
    if source:
        check_source_url(source)
    if inputs is None:
        return
    check_path_text("--inputs", inputs)
    if not inputs.is_dir():
        raise UsageError(
            f"--inputs {inputs}: no such folder. Give a study folder (see docs/inputs.md); "
            "`maturity demo --out DIR` writes an example."
        )
    if not (inputs / STUDY_FILE).is_file():
        raise UsageError(
            f"--inputs {inputs} has no {STUDY_FILE}, so it is not a study folder. Point --inputs at the "
            "folder holding study.yaml."
        )


def check_out_apart_from_inputs(out: Path, inputs: Path | None) -> None:
    """--out may not be the study folder or inside it: a run would write its outputs among the inputs."""
    if inputs is None:
        return
    study = inputs.resolve()
    if out.resolve() == study or out.resolve().is_relative_to(study):
        raise UsageError(
            f"--out {out} is inside --inputs {inputs}: a run would write its outputs, links included, into "
            "the study folder it reads. Choose an --out outside the study folder."
        )


def study_wave(inputs: Path | None) -> str | None:
    """The wave a run would read: study.yaml's, or the bundled demo study's; None if unreadable."""
    if inputs is None:
        from maturity.settings import load_demo_config

        return load_demo_config().wave
    from tasks.contracts import DatasetError
    from tasks.study import read_study_yaml  # the one reader of study.yaml, with its size and depth limits

    path = inputs / STUDY_FILE
    try:
        if path.is_symlink():
            return None
        spec = read_study_yaml(path)
    except (OSError, DatasetError):
        return None  # the run reports what is wrong with the file itself
    wave = spec.get("wave") if isinstance(spec, dict) else None
    # Only plain values: str() of an aliased structure could expand it without end.
    return str(wave) if isinstance(wave, str | int) and not isinstance(wave, bool) else None


def check_wave(inputs: Path | None, wave: str | None) -> None:
    """--wave, if given, must be a wave (config/limits.yaml) and the study's wave."""
    check_wave_value(wave)
    expected = study_wave(inputs) if wave is not None else None
    if expected is not None and wave != expected:
        where = f"{inputs / STUDY_FILE}" if inputs else "the bundled demo study"
        demo = "" if inputs else f" (for the demo, `maturity demo --wave {wave} --out DIR` writes one)"
        raise UsageError(
            f"--wave {wave} does not match {where}, which is wave {expected}. Leave out --wave or point "
            f"--inputs at that wave's study folder{demo}."
        )


def check_wave_value(wave: str | None) -> None:
    """--wave, if given, must look like a wave: it becomes part of folder names."""
    if wave is not None:
        try:
            check_path_value("wave", wave, "--wave")
        except UnsafeValueError as error:
            raise UsageError(str(error)) from None


def check_demo_wave(wave: str | None) -> None:
    """`maturity demo --wave`, if given, must look like a wave and be a wave of config/demo.yaml."""
    check_wave_value(wave)
    if wave is not None:
        from maturity.demo import UnknownDemoWaveError, demo_wave
        from maturity.settings import load_demo_config

        try:
            demo_wave(load_demo_config(), wave)
        except UnknownDemoWaveError as error:
            raise UsageError(str(error)) from None


def check_council(council: str) -> str:
    """The GSS code of the council to rerun; an unknown name (or a path such as ../x) is a usage error."""
    try:
        return resolve_council(council)
    except UnknownCouncilError as error:
        raise UsageError(str(error)) from None


def check_national_run_exists(out: Path) -> None:
    """A rerun needs a national run in OUT to replace one council within."""
    if os.environ.get(REGISTRY_URL_ENV):
        return  # the registry is elsewhere; the rerun itself checks for a completed national run
    if not (out / REGISTRY_FILE).is_file() or not (out / "current").exists():
        raise UsageError(
            f"{out} holds no national run to rerun a council against. Run `maturity run --out {out}` "
            "first, or give the --out of an earlier run."
        )


def check_release_date(release_date: str | None) -> None:
    """--release-date must be a date written YYYY-MM-DD."""
    if release_date is None:
        return
    try:
        date.fromisoformat(release_date)
    except ValueError:
        raise UsageError(f"--release-date {release_date!r} is not a date: write it as YYYY-MM-DD.") from None


def check_target_url(to: str | None) -> None:
    """--to must be a folder or a URL whose protocol fsspec can write to, with a location after it."""
    if to is None:
        return
    import fsspec
    from fsspec.core import split_protocol

    check_path_text("--to", to)
    protocol, path = split_protocol(to)
    protocol = protocol or "file"
    if protocol not in fsspec.available_protocols():
        raise UsageError(
            f"--to {to}: unknown protocol {protocol!r}. Give a folder or a URL such as s3://bucket/open-data."
        )
    if protocol not in LOCAL_PROTOCOLS and not path.strip("/"):
        raise UsageError(
            f"--to {to}: no bucket or location after {protocol}://. Add it, e.g. {protocol}://bucket."
        )
    with missing_extra_is_a_usage_error():
        require_extra_for_url(f"{protocol}://", "--to")
    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError as error:
        raise UsageError(
            f"--to {to}: {protocol}:// needs a package that is not installed ({error})."
        ) from None

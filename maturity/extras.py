"""The optional extras (pyproject.toml): what each installs, and the one line said when one is missing.

`make setup` installs every extra. An install without one still runs everything else; asking for its
feature (--pdf, --task-runner dask, an s3:// target, a postgresql+psycopg:// URL) stops with one line
naming the extra and the command, from the CLI before Prefect starts and again where the feature is used
(a deployment run passes no CLI check). Presence is checked with importlib.util.find_spec, which finds a
package without importing it (WeasyPrint and Dask take seconds to import).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "pip install 'maturity[{extra}]' (or uv sync --extra {extra})"


@dataclass(frozen=True)
class Extra:
    """One optional extra: the package it installs and the module that shows it is installed."""

    package: str  # as in pyproject.toml
    module: str  # its top-level module
    option: str = ""  # the CLI option that asks for it, named in its message
    protocols: tuple[str, ...] = ()  # fsspec URL protocols it provides (s3://)
    sql_drivers: tuple[str, ...] = ()  # SQLAlchemy drivers it provides (the part after '+' in a URL)


EXTRAS = {
    "dask": Extra("prefect-dask", "prefect_dask", option="--task-runner dask"),
    "s3": Extra("s3fs", "s3fs", protocols=("s3", "s3a")),
    "pdf": Extra("weasyprint", "weasyprint", option="--pdf"),
    "postgres": Extra("psycopg", "psycopg", sql_drivers=("psycopg",)),
}


class MissingExtraError(ImportError):
    """A feature was asked for whose optional extra is not installed; the message says how to install it."""


def is_installed(extra: str) -> bool:
    """Whether the extra's package can be imported (found, not imported)."""
    return importlib.util.find_spec(EXTRAS[extra].module) is not None


def require_extra(extra: str, feature: str | None = None) -> None:
    """Stop with one line if the extra is not installed; `feature` names what asked for it (its option)."""
    feature = feature or EXTRAS[extra].option
    if not is_installed(extra):
        package = EXTRAS[extra].package
        raise MissingExtraError(
            f"{feature} needs the {extra} extra ({package} is not installed): "
            f"{INSTALL_HINT.format(extra=extra)}, then run again."
        )


def url_scheme(url: str) -> str:
    """What comes before :// in a URL (postgresql+psycopg, s3), lowercased; never any credentials."""
    return url.split(":", 1)[0].strip().lower() if "://" in url else ""


def sqlite_file_of(connection_url: str) -> Path | None:
    """The database file a SQLite URL names; None for another database, or a SQLite one in memory."""
    from sqlalchemy.engine import make_url

    url = make_url(connection_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if "mode=memory" in connection_url:
        return None
    return Path(url.database)


def require_extra_for_url(url: str, where: str) -> None:
    """Stop with one line if the URL's protocol or SQL driver comes with an extra that is not installed.

    `where` names where the URL came from (--source, --to, MATURITY_REGISTRY_URL); only its scheme is
    shown, as the rest may hold a password.
    """
    scheme = url_scheme(url)
    driver = scheme.partition("+")[2]
    for name, extra in EXTRAS.items():
        if scheme in extra.protocols or (driver and driver in extra.sql_drivers):
            require_extra(name, f"{where} {scheme}://")

"""The private Prefect and Typer hooks we rely on, checked so an upgrade that moves them fails here, loudly.

pyproject.toml pins both to the minor versions these were checked against; raise the pin only with this
file green.
"""

from __future__ import annotations

import inspect


def test_prefects_temporary_server_still_uses_the_environment_we_copy() -> None:
    """operations/prefect_api.py starts Prefect's server app with SubprocessASGIServer's environment."""
    from prefect.server.api import server

    from operations.prefect_api import SERVER_ENVIRONMENT, server_command

    source = inspect.getsource(server.SubprocessASGIServer)
    for name in SERVER_ENVIRONMENT:
        assert name in source, f"Prefect's temporary server no longer sets {name}"
    app = server_command(1)[server_command(1).index("--factory") + 1]
    module, _, factory = app.partition(":")
    assert callable(getattr(__import__(module, fromlist=[factory]), factory))


def test_prefect_can_reread_its_settings_from_the_environment() -> None:
    from prefect.context import refresh_global_settings_context

    assert not inspect.signature(refresh_global_settings_context).parameters


def test_typer_still_vendors_click_where_the_cli_imports_it() -> None:
    import typer
    from typer._click import exceptions

    assert issubclass(exceptions.UsageError, exceptions.ClickException)
    assert typer.__version__.startswith("0.29.")

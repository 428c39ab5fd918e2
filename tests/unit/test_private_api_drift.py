"""The private Prefect and Typer hooks we rely on, checked so an upgrade that moves them fails here, loudly.

pyproject.toml pins both to the minor versions these were checked against; raise the pin only with this
file green.
"""

from __future__ import annotations

import inspect


def test_prefects_temporary_server_still_uses_the_environment_we_copy() -> None:
    """operations/temporary_server.py serves Prefect's server app with SubprocessASGIServer's environment."""
    from prefect.server.api import server

    from operations.prefect_api import PREFECT_SERVER_ENVIRONMENT
    from operations.temporary_server import APP

    source = inspect.getsource(server.SubprocessASGIServer)
    for name in PREFECT_SERVER_ENVIRONMENT:
        assert name in source, f"Prefect's temporary server no longer sets {name}"
    module, _, factory = APP.partition(":")
    assert callable(getattr(__import__(module, fromlist=[factory]), factory))


def test_the_start_up_steps_we_skip_are_still_prefect_settings(monkeypatch) -> None:
    """A renamed setting would be ignored without a word: the server would register blocks again."""
    from prefect.settings import Settings

    from operations.prefect_api import PREFECT_SERVER_ENVIRONMENT, SERVER_ENVIRONMENT

    for name, value in SERVER_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.server.register_blocks_on_start is False
    assert settings.server.memoize_block_auto_registration is False
    assert set(SERVER_ENVIRONMENT) - set(PREFECT_SERVER_ENVIRONMENT) == {
        "PREFECT_SERVER_REGISTER_BLOCKS_ON_START",
        "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION",
    }


def test_prefect_can_reread_its_settings_from_the_environment() -> None:
    from prefect.context import refresh_global_settings_context

    assert not inspect.signature(refresh_global_settings_context).parameters


def test_typer_still_vendors_click_where_the_cli_imports_it() -> None:
    import typer
    from typer._click import exceptions

    assert issubclass(exceptions.UsageError, exceptions.ClickException)
    assert typer.__version__.startswith("0.29.")

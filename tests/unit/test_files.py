"""`maturity serve`'s file server: only OUT's published areas, nothing restricted, nothing outside OUT."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from operations.files import is_served, start_file_server
from operations.prefect_api import free_port

RUN = "20180101T000000-0a1b2c3d"


@pytest.fixture
def served_out(tmp_path: Path):
    out = tmp_path / "out"
    files = {
        f".versions/{RUN}/reports/2018/national.en.html": "<html>national</html>",
        f".versions/{RUN}/open-data/2018/maturity_levels.csv": "gss_code,level",
        f"quality/{RUN}/data_docs/index.html": "<html>docs</html>",
        f"quality/{RUN}/quarantine.csv": "restricted",
        f"quality/{RUN}/quote_candidates.csv": "restricted",
        f".versions/{RUN}/release-ledger/2018/2018.1/maturity_levels.csv": "restricted",
        f".versions/{RUN}/warehouse/answers/part-0.parquet": "restricted",
        "registry.sqlite": "restricted",
    }
    for relative, text in files.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(text)
    (tmp_path / "secret.txt").write_text("outside")
    (out / ".versions" / RUN / "reports" / "2018" / "escape.html").symlink_to(tmp_path / "secret.txt")
    port = free_port()
    server = start_file_server(out, "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_published_files_are_served(served_out: str) -> None:
    assert fetch(f"{served_out}/.versions/{RUN}/reports/2018/national.en.html") == (
        200,
        "<html>national</html>",
    )
    assert fetch(f"{served_out}/quality/{RUN}/data_docs/index.html")[0] == 200
    assert fetch(f"{served_out}/.versions/{RUN}/open-data/2018/maturity_levels.csv")[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/quality/{RUN}/quarantine.csv",
        f"/quality/{RUN}/quote_candidates.csv",
        f"/.versions/{RUN}/release-ledger/2018/2018.1/maturity_levels.csv",
        f"/.versions/{RUN}/warehouse/answers/part-0.parquet",
        "/registry.sqlite",
        "/",
        f"/.versions/{RUN}/reports/2018/../../warehouse/answers/part-0.parquet",
        f"/.versions/{RUN}/reports/%2e%2e/%2e%2e/%2e%2e/registry.sqlite",
        f"/.versions/{RUN}/reports/2018/escape.html",
    ],
)
def test_restricted_files_links_and_escapes_are_not_found(served_out: str, path: str) -> None:
    status, body = fetch(served_out + path)
    assert status == 404, path
    assert "restricted" not in body and "outside" not in body  # noqa: PT018


def test_only_published_areas_are_served() -> None:
    assert is_served(f"/.versions/{RUN}/reports/2018/x.html")
    assert not is_served(f"/.versions/{RUN}/reports/../warehouse/x")
    assert not is_served("/.versions/not-a-run/reports/x.html")


def test_a_replaced_version_says_so_and_where_the_current_files_are(served_out: str, tmp_path: Path) -> None:
    gone = "20170101T000000-0a1b2c3d"
    (tmp_path / "out" / "current").symlink_to(Path(".versions") / RUN)
    assert fetch(f"{served_out}/current/reports/2018/national.en.html") == (200, "<html>national</html>")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{served_out}/.versions/{gone}/reports/2018/national.en.html", timeout=5)
    assert refused.value.code == 410
    assert "/current/reports/" in refused.value.read().decode()

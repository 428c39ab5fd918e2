"""`maturity publish`: a release from the warehouse, copied to a folder or to S3 (moto on loopback)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from frictionless import validate

from flows.publish import publish_release
from maturity.settings import load_orchestration_config
from tasks.contracts import DatasetError
from tests.integration.conftest import DemoRun
from tests.integration.test_national_flow import run_cli

BUCKET = "open-data-test"
WAVE = "2018"


@pytest.fixture(scope="module")
def national_out(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT after one national run of the demo study (a copy of the session's), shared by this module's
    tests in order."""
    out = tmp_path_factory.mktemp("publish") / "out"
    demo_run.copy_to(out)
    return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[dict[str, str]]:
    """moto's S3 server on 127.0.0.1 (a free port), with one empty bucket; stopped afterwards."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-2",
    }
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="eu-west-2", **_keys(env))
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    try:
        yield env
    finally:
        server.stop()


def _keys(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def _objects(env: dict[str, str]) -> dict[str, tuple[str, object]]:
    import boto3

    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="eu-west-2", **_keys(env))
    listing = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: (item["ETag"], item["LastModified"]) for item in listing}


def _versions(out: Path) -> set[str]:
    return {p.name for p in (out / ".versions").iterdir() if p.is_dir()}


def test_publish_to_s3_uploads_the_release_then_the_pointer_and_twice_is_a_no_op(
    national_out: Path, s3_endpoint: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in s3_endpoint.items():
        monkeypatch.setenv(key, value)
    release = national_out / "open-data" / WAVE
    version = json.loads((release / "datapackage.json").read_text())["version"]

    first = run_cli("publish", "--out", str(national_out), "--to", f"s3://{BUCKET}/open-data")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Changes: no changes" in first.stdout
    assert "files uploaded" in first.stdout
    objects = _objects(s3_endpoint)
    local = {p.name for p in release.iterdir()}
    assert {key.rsplit("/", 1)[1] for key in objects if f"/{version}/" in key} == local
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint["AWS_ENDPOINT_URL"], **_keys(s3_endpoint))
    pointer = json.loads(client.get_object(Bucket=BUCKET, Key=f"open-data/{WAVE}/latest.json")["Body"].read())
    assert pointer["version"] == version
    uploaded = client.get_object(Bucket=BUCKET, Key=f"open-data/{WAVE}/{version}/maturity_levels.csv")
    assert uploaded["Body"].read() == (release / "maturity_levels.csv").read_bytes()

    second = run_cli("publish", "--out", str(national_out), "--to", f"s3://{BUCKET}/open-data")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Changes: no changes" in second.stdout
    assert "nothing uploaded" in second.stdout
    assert _objects(s3_endpoint) == objects
    assert json.loads((release / "datapackage.json").read_text())["version"] == version


def test_publish_to_a_folder_keeps_every_release_and_switches_the_pointer(
    national_out: Path, tmp_path: Path
) -> None:
    target = tmp_path / "portal"
    first = publish_release(out=national_out, to=str(target))
    assert not first.changed
    assert first.target is not None
    assert first.target.changed
    assert validate(target / WAVE / first.version / "datapackage.json").valid
    assert json.loads((target / WAVE / "latest.json").read_text())["version"] == first.version

    before = _versions(national_out)
    again = publish_release(out=national_out, to=str(target))
    assert again.target is not None
    assert not again.target.changed
    assert again.changes == ["no changes"]
    assert (national_out / "open-data" / WAVE / "datapackage.json").stat().st_ino == (
        again.folder / "datapackage.json"
    ).stat().st_ino
    assert len(_versions(national_out)) <= len(before) + 1

    redated = publish_release(out=national_out, to=str(target), release_date="2018-06-30")
    assert redated.changed
    assert redated.version != first.version
    assert redated.changes == ["no data changes (metadata changed)"]
    assert json.loads((target / WAVE / "latest.json").read_text())["version"] == redated.version
    assert (target / WAVE / first.version / "SHA256SUMS").is_file()
    assert json.loads((target / WAVE / redated.version / "datapackage.json").read_text())[
        "created"
    ].startswith("2018-06-30")
    changes = json.loads((national_out / "open-data" / WAVE / "CHANGES.json").read_text())
    assert changes["previous_version"] == first.version


def test_publish_without_a_national_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="holds no national run to publish"):
        publish_release(out=tmp_path)
    result = run_cli("publish", "--out", str(tmp_path), "--wave", "2019")
    assert result.returncode == 2, result.stdout + result.stderr  # a usage error, found before any run
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The upload task with its configured retries but no waiting between them."""
    import flows.publish

    quick = flows.publish.copy_release_to_target_task.with_options(retry_delay_seconds=0)
    monkeypatch.setattr(flows.publish, "copy_release_to_target_task", quick)


def test_a_failed_upload_is_retried_then_leaves_the_local_release_as_it_was(
    national_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quick_retries: None
) -> None:
    import tasks.distribute

    before = (national_out / "open-data" / WAVE / "datapackage.json").read_bytes()
    attempts = []

    def broken(*args: object, **kwargs: object) -> None:
        attempts.append(1)
        raise OSError("connection reset")

    monkeypatch.setattr(tasks.distribute, "write_pointer", broken)
    with pytest.raises(OSError, match="connection reset"):
        publish_release(out=national_out, to=str(tmp_path / "portal"), release_date="2018-07-31")
    assert len(attempts) == 1 + load_orchestration_config().retries.attempts
    assert (national_out / "open-data" / WAVE / "datapackage.json").read_bytes() == before
    assert not (tmp_path / "portal" / WAVE / "latest.json").exists()
    assert not (national_out / ".run.lock").exists()
    assert os.path.isdir(national_out / "current")


def test_a_moment_of_network_trouble_is_retried_and_the_release_goes_up(
    national_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quick_retries: None
) -> None:
    import tasks.distribute

    write_pointer = tasks.distribute.write_pointer
    attempts = []

    def flaky(*args: object, **kwargs: object) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("connection reset")
        write_pointer(*args, **kwargs)

    monkeypatch.setattr(tasks.distribute, "write_pointer", flaky)
    release = publish_release(out=national_out, to=str(tmp_path / "portal"), release_date="2018-07-31")
    assert len(attempts) == 2
    pointer = json.loads((tmp_path / "portal" / WAVE / "latest.json").read_text())
    assert pointer["version"] == release.version


def test_a_release_that_differs_at_the_target_is_a_data_error_and_not_retried(
    national_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quick_retries: None
) -> None:
    import tasks.distribute

    calls = []
    copy = tasks.distribute.copy_release_to_target

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return copy(*args, **kwargs)

    checks = []
    check = tasks.distribute.check_target_history

    def counted_check(*args: object, **kwargs: object) -> object:
        checks.append(1)
        return check(*args, **kwargs)

    monkeypatch.setattr(tasks.distribute, "copy_release_to_target", counted)
    monkeypatch.setattr(tasks.distribute, "check_target_history", counted_check)
    release = publish_release(out=national_out, release_date="2018-07-31")
    clash = tmp_path / "portal" / WAVE / release.version
    clash.mkdir(parents=True)
    (clash / "SHA256SUMS").write_text("something else\n")
    # The target's unknown release is caught before anything is copied: the disclosure audit could not
    # include it (docs/disclosure.md), and a data error is not retried.
    with pytest.raises(DatasetError, match="a release this OUT did not make"):
        publish_release(out=national_out, to=str(tmp_path / "portal"), release_date="2018-07-31")
    assert len(checks) == 1
    assert calls == []

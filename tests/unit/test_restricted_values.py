"""Restricted values stay restricted: a quarantined cell, an id, an identity column or a password never
reaches the registry, the run-summary artifact, the log or a message; only the quarantine files keep
quarantined cells, and even they show no identity column or raw response id."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from maturity.restricted import is_identity_column, mask_url, preview_row, scrub_secrets
from maturity.settings import load_settings
from tasks.artifacts import read_quarantine, run_summary_markdown
from tasks.contracts import DatasetError, SourceUnavailableError
from tasks.extract import extract_dataset
from tasks.runs import RunContext, record_inputs
from tasks.sources import read_sql_rows
from tasks.study import read_study
from tasks.validate import validate_table
from warehouse import registry

COUNCIL_MARKER = "QXCOUNCILMARK"
SURPLUS_MARKER = "QXSURPLUSMARK"
ID_MARKER = "QXRESPONSEIDMARK"
EMAIL_MARKER = "qxemailmark"
IP_MARKER = "QXIPMARK"
NAME_MARKER = "QXNAMEMARK"
PASSWORD_MARKER = "QXPASSWORDMARK"
NEVER_STORED = (ID_MARKER, EMAIL_MARKER, IP_MARKER, NAME_MARKER)


def _plant(study_root: Path) -> None:
    """An unknown council holding a name, email and phone; a row with a surplus cell and a raw id;
    identity columns (respondent_email, ip_address, a name column) holding markers on every row."""
    path = study_root / "responses" / "leadership.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, data = rows[0] + ["respondent_name"], [[*r, NAME_MARKER] for r in rows[1:]]
    email, ip = header.index("respondent_email"), header.index("ip_address")
    for row in data:
        row[email], row[ip] = f"{EMAIL_MARKER}@example.org", IP_MARKER
    unknown = list(data[0])
    unknown[header.index("council")] = f"{COUNCIL_MARKER} Jane Doe jane@example.org 07700 900123"
    unknown[header.index("response_id")] = f"{ID_MARKER}-1"
    surplus = list(data[1])
    surplus[header.index("response_id")] = f"{ID_MARKER}-2"
    surplus.append(SURPLUS_MARKER)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *data, unknown, surplus])


def _bytes_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_quarantined_cells_ids_and_identity_columns_stay_restricted(study_copy, tmp_path, caplog) -> None:
    _plant(study_copy)
    caplog.set_level(logging.DEBUG)
    study = read_study(study_copy)
    validated = validate_table(extract_dataset(study, "responses:leadership"), study)
    out = tmp_path / "out"
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    registry.start_run(url, "run-1", "national-run", {"source": SecretStr("x")}, code_version="test")
    run = RunContext("run-1", "national-run", out, out / ".versions" / "run-1", url)
    accounting = record_inputs(run, study.wave, [validated])
    quarantine = read_quarantine(run.quality_dir)
    markdown = run_summary_markdown("Run", accounting, quarantine, run.quality_dir, "outputs")

    quarantine_files = (run.quality_dir / "quarantine.csv").read_bytes()
    quarantine_files += (run.quality_dir / "quarantine.parquet").read_bytes()
    stored = (tmp_path / "registry.sqlite").read_bytes()
    docs = _bytes_under(run.quality_dir / "data_docs") if (run.quality_dir / "data_docs").exists() else b""
    loaded = validated.frame.to_csv().encode()
    for marker in (COUNCIL_MARKER, SURPLUS_MARKER, *NEVER_STORED):
        assert marker.encode() not in stored, marker
        assert marker not in markdown, marker
        assert marker not in caplog.text, marker
        assert marker.encode() not in docs, marker
        assert marker.encode() not in loaded, marker
    for marker in NEVER_STORED:
        assert marker.encode() not in quarantine_files, marker
    for text in (b"jane@example.org", b"07700 900123"):
        assert text not in stored
        assert text.decode() not in markdown
    for marker in (COUNCIL_MARKER, SURPLUS_MARKER):
        assert marker.encode() in quarantine_files, marker  # the auditor can see what was set aside
    reasons = " ".join(quarantine["reason"])
    assert COUNCIL_MARKER not in reasons
    assert "not a known council" in reasons


def test_the_preview_of_a_malformed_row_hides_identity_columns_and_ids() -> None:
    names = ["response_id", "council", "comments", "respondent_email", "ip_address", "user_agent"]
    cells = ["R-77", "Conwy", "silos", "a@b.org", "10.1.2.3", "Mozilla/5.0 (X11)", "extra"]
    preview = preview_row(cells, names)
    assert "Conwy" in preview
    assert "extra" in preview
    for hidden in ("R-77", "a@b.org", "10.1.2.3", "Mozilla"):
        assert hidden not in preview
    # A comma in a comment shifts the cells right: the email lands under ip_address, which is hidden too,
    # and whatever looks like an email, IP address or browser is hidden wherever it lands.
    shifted = ["R-78", "Conwy", "silos", " everywhere", "x@y.org", "10.9.8.7", "Mozilla/5.0 (Mac)"]
    preview = preview_row(shifted, names)
    for hidden in ("R-78", "x@y.org", "10.9.8.7", "Mozilla"):
        assert hidden not in preview


PERSON_COLUMNS = ["FirstName", "Surname", "fullname", "Username", "Email", "Phone", "Mobile", "Tel", "DOB"]
PERSON_COLUMNS += ["Post code", "NI number", "\uff25\uff2d\uff21\uff29\uff2c"]  # the last: EMAIL, full width
PERSON_COLUMNS += ["Enw", "Cyfenw", "E-bost", "Ffôn", "Cyfeiriad", "Cod post"]


@pytest.mark.parametrize("column", PERSON_COLUMNS)
def test_a_column_naming_a_person_is_an_identity_column(column: str) -> None:
    """Before: only "name" between non-letters counted, so these reached quarantine previews."""
    assert is_identity_column(column)
    cells = ["R-1", "Conwy", "Jane Doe"]
    assert "Jane Doe" not in preview_row(cells, ["response_id", "council", column])


def test_no_input_contract_column_is_taken_for_an_identity_column() -> None:
    import json

    from maturity.settings import PROJECT_ROOT

    columns = set()
    for path in (PROJECT_ROOT / "expectations").glob("*.json"):
        for expectation in json.loads(path.read_text(encoding="utf-8")).get("expectations", []):
            for key in ("column", "column_list", "column_set"):
                value = expectation.get("kwargs", {}).get(key)
                columns |= {value} if isinstance(value, str) else set(value or [])
    settings = load_settings()
    columns |= {f"lvl_{c.id}" for c in settings.characteristics}
    columns |= {f"st_{s.id}" for s in settings.statements}
    assert len(columns) > 20
    assert [c for c in columns if is_identity_column(c)] == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://user:secret@host:5432/db",
        "postgresql+psycopg://user@host/db",
        "sqlite:///study.db",
        "mysql+pymysql://u:p%40ss@localhost/db?charset=utf8",
    ],
)
def test_a_well_formed_url_is_masked_as_sqlalchemy_masks_it(url: str) -> None:
    assert mask_url(url) == make_url(url).render_as_string(hide_password=True)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://user:p@ss@{PASSWORD_MARKER}@localhost:1/db",
        f"postgresql+psycopg://user:{PASSWORD_MARKER}/x@localhost/db",
        f"postgresql+psycopg://user:a:b@{PASSWORD_MARKER}@localhost/db",
        f"postgresql+psycopg://user@localhost/db?password={PASSWORD_MARKER}&sslmode=require",
        f"postgresql+psycopg://user:{PASSWORD_MARKER}",
        f"not a url {PASSWORD_MARKER}",
    ],
)
def test_a_password_is_masked_whatever_it_holds(url: str) -> None:
    assert PASSWORD_MARKER not in mask_url(url)
    message = f"could not connect to {url} (host ss@{PASSWORD_MARKER})"
    assert PASSWORD_MARKER not in scrub_secrets(message, url)


def test_an_unreadable_source_never_shows_its_password(tmp_path, caplog) -> None:
    url = f"postgresql+psycopg://user:p@ss@{PASSWORD_MARKER}@localhost:1/db"
    caplog.set_level(logging.DEBUG)
    with pytest.raises((DatasetError, SourceUnavailableError)) as raised:
        read_sql_rows(url, "leadership")
    assert PASSWORD_MARKER not in str(raised.value)
    assert "ss@" not in str(raised.value)
    assert PASSWORD_MARKER not in caplog.text

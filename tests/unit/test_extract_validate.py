"""Extract and validate: identity dropped, ids pseudonymised, bad rows quarantined with reasons."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tasks.contracts import DatasetError
from tasks.extract import extract_file, extract_responses, pseudonymise
from tasks.study import read_study
from tasks.validate import account_rows, validate_table, write_quality_record

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def broken_study(study_copy: Path) -> Path:
    shutil.copy(FIXTURES / "broken_responses.csv", study_copy / "responses" / "leadership.csv")
    return study_copy


def _reasons(quarantine: pd.DataFrame) -> dict[int, set[str]]:
    return {row: set(part["column"]) for row, part in quarantine.groupby("source_row")}


def test_identity_columns_are_dropped_and_ids_pseudonymised(broken_study: Path) -> None:
    table = extract_responses(read_study(broken_study), "leadership")
    for column in ("respondent_email", "ip_address", "user_agent", "Respondent Name"):
        assert column not in table.frame.columns
    assert not table.frame["response_id"].str.startswith("R_").any()
    assert table.frame["response_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    text = table.frame.to_csv()
    assert "example-council.gov.uk" not in text
    assert "Ann Person" not in text


def test_pseudonyms_depend_on_the_key() -> None:
    ids = pd.Series(["R_1", "R_2"])
    same = pseudonymise(ids, "key-a", "leadership")
    assert same.equals(pseudonymise(ids, "key-a", "leadership"))
    assert not same.equals(pseudonymise(ids, "key-b", "leadership"))
    assert same.nunique() == 2


def test_a_real_study_needs_the_pseudonym_key(study_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = (study_copy / "study.yaml").read_text().replace("demo: true", "demo: false")
    (study_copy / "study.yaml").write_text(spec)
    monkeypatch.delenv("MATURITY_PSEUDONYM_KEY", raising=False)
    with pytest.raises(DatasetError, match="MATURITY_PSEUDONYM_KEY is not set"):
        extract_responses(read_study(study_copy), "leadership")
    monkeypatch.setenv("MATURITY_PSEUDONYM_KEY", "a-long-random-secret")
    assert len(extract_responses(read_study(study_copy), "leadership").frame) > 0


def test_bad_rows_are_quarantined_with_column_value_and_reason(broken_study: Path) -> None:
    study = read_study(broken_study)
    validated = validate_table(extract_responses(study, "leadership"), study)
    assert validated.rows_read == 8
    assert validated.rows_loaded == 1
    assert validated.rows_quarantined == 7
    assert _reasons(validated.quarantine) == {
        2: {"response_id"},
        4: {"council"},
        5: {"lvl_leadership"},
        6: {"submitted_at"},
        7: {"submitted_at"},
        8: {"response_id"},
        9: {"st_clear_vision"},
    }
    by_row = validated.quarantine.set_index("source_row")
    assert 'closest known council is "Denbighshire"' in by_row.at[4, "reason"]
    assert by_row.at[4, "value"] == "Denbyshire"
    assert by_row.at[5, "value"] == "4"
    assert "1, 2, 3 or DK" in by_row.at[5, "reason"]
    assert by_row.at[7, "value"] == "last Tuesday"
    assert "fieldwork window" in by_row.at[6, "reason"]
    assert set(validated.quarantine["source_file"]) == {"responses/leadership.csv"}
    assert validated.frame["gss_code"].tolist() == ["W06000004"]


def test_accounting_balances_and_is_saved(broken_study: Path, tmp_path: Path) -> None:
    study = read_study(broken_study)
    tables = [
        validate_table(extract_responses(study, "leadership"), study),
        validate_table(extract_file(study, "invitations", "invitations.csv"), study),
    ]
    accounting = write_quality_record(tables, tmp_path / "quality")
    assert (accounting["rows_read"] == accounting["rows_loaded"] + accounting["rows_quarantined"]).all()
    saved = pd.read_csv(tmp_path / "quality" / "quarantine.csv")
    assert len(saved) == 7
    assert (
        pd.read_parquet(tmp_path / "quality" / "quarantine.parquet")["source_row"].tolist()
        == saved["source_row"].tolist()
    )


def test_accounting_refuses_a_lost_row(broken_study: Path) -> None:
    from tasks.validate import AccountingError

    study = read_study(broken_study)
    table = validate_table(extract_responses(study, "leadership"), study)
    table.frame = table.frame.iloc[0:0]
    with pytest.raises(AccountingError):
        account_rows([table])


def test_missing_column_stops_with_the_file_and_column(study_copy: Path) -> None:
    path = study_copy / "responses" / "digital_ict.csv"
    pd.read_csv(path, dtype=str).drop(columns=["lvl_open_data"]).to_csv(path, index=False)
    study = read_study(study_copy)
    with pytest.raises(DatasetError, match=r"digital_ict\.csv: missing column\(s\) lvl_open_data"):
        validate_table(extract_responses(study, "digital_ict"), study)


def test_empty_file_stops_the_run(study_copy: Path) -> None:
    path = study_copy / "invitations.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n\n\n")
    study = read_study(study_copy)
    with pytest.raises(DatasetError, match=r"invitations\.csv: has no data rows"):
        validate_table(extract_file(study, "invitations", "invitations.csv"), study)


def test_missing_file_names_the_path(study_copy: Path) -> None:
    (study_copy / "population.csv").unlink()
    with pytest.raises(DatasetError, match=r"population\.csv: not found"):
        extract_file(read_study(study_copy), "population", "population.csv")


def test_invitations_checks_counts_tools_and_duplicates(study_copy: Path) -> None:
    path = study_copy / "invitations.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[0, "invited"] = "0"
    frame.loc[1, "invited"] = "twelve"
    frame.loc[2, "tool_id"] = "finance"
    frame.loc[3, "recipient_group"] = "elected_members"  # a tool sent to officers
    frame = pd.concat([frame, frame.iloc[[10]]])
    frame.to_csv(path, index=False)
    study = read_study(study_copy)
    validated = validate_table(extract_file(study, "invitations", "invitations.csv"), study)
    reasons = validated.quarantine.groupby("source_row")["reason"].apply(" ".join)
    assert "above zero" in reasons[2]
    assert "not a whole number" in reasons[3]
    assert "Unknown data tool" in reasons[4]
    assert "not sent to this recipient group" in reasons[5]
    assert "more than one row" in reasons[12]
    assert "more than one row" in reasons[len(frame) + 1]
    assert validated.rows_loaded + validated.rows_quarantined == validated.rows_read


def test_wave_must_match_study_yaml(demo_study: Path) -> None:
    assert read_study(demo_study, "2018").wave == "2018"
    with pytest.raises(DatasetError, match="is for wave 2018 but --wave 2019"):
        read_study(demo_study, "2019")


def test_missing_study_yaml_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="maturity demo --out DIR"):
        read_study(tmp_path)
